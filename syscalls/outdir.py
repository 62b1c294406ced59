"""The results directory of a run (--out): claimed before anything runs, written atomically.

claim() refuses a directory that cannot be written (one line, before the suite spends
any time), takes an exclusive lock (flock on OUT/.lock, released by the kernel however
the run ends, so a killed run never leaves a stale lock) and removes the previous run's
results, so nothing left in OUT can be taken for this run's. Results are then written
under a unique temporary name beside their final one and renamed (write_atomic), so a
reader sees the old file (none, after claim) or the whole new one -- never a half.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path

from syscalls.runner import highfd

LOCK = ".lock"


class OutDirError(Exception):
    """OUT cannot be used; the message is one line naming it and why."""


def temp_name(path: Path) -> Path:
    """A fresh hidden name beside `path` for writing it atomically; stale ones (a run
    killed in the middle of writing) are recognised by stale_temps()."""
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")


def stale_temps(path: Path) -> list[Path]:
    return list(path.parent.glob(f".{path.name}.*.tmp"))


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path`: a temporary file beside it, fsync'd, renamed over it."""
    tmp = temp_name(path)
    try:
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def claim(out: Path, results: Iterable[str]) -> Iterator[Path]:
    """Hold OUT for one run: writable, locked, and without the previous `results` names
    (or their leftover temporary files). Raises OutDirError if it cannot. A directory
    made here and left empty (the run could not start) is removed again."""
    made = [p for p in (out, *out.parents) if _missing(p)]
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd = highfd.run_only(os.open(out / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644))
    except OSError as e:
        _remove_empty(made)
        raise OutDirError(f"--out {out}: cannot write there ({e.strerror})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise OutDirError(
                f"--out {out} is in use by another run (pid {holder}); "
                "wait for it to end or choose another --out"
            ) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            probe = temp_name(out / "probe")
            probe.touch(exist_ok=False)
            probe.unlink()
            for name in results:
                for stale in (out / name, *stale_temps(out / name)):
                    stale.unlink(missing_ok=True)
        except OSError as e:
            raise OutDirError(f"--out {out}: cannot write there ({e.strerror})") from None
        yield out
    finally:
        highfd.forget(fd)
        os.close(fd)  # releases the lock
        with contextlib.suppress(OSError):
            if made and [p.name for p in out.iterdir()] == [LOCK]:
                (out / LOCK).unlink()
                _remove_empty(made)


def _missing(path: Path) -> bool:
    try:
        path.stat()
    except FileNotFoundError:
        return True
    except OSError:  # there, or not ours to know (a parent we cannot search)
        return False
    return False


def _remove_empty(made: list[Path]) -> None:
    for path in made:  # innermost first
        with contextlib.suppress(OSError):
            path.rmdir()
