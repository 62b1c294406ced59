"""pytest plugin for the read-only-host tests: inside a target, as root, try every way a
guest kernel could write the host's root file system it was given.

`-p tests.escape_plugin --escape-dir DIR --escape-report FILE`, before any test runs:

1. remount the root read-write (`mount(NULL, "/", NULL, MS_REMOUNT, NULL)`), and mount
   the host root afresh, read-write, over each way a target shares it (hostfs, virtiofs,
   9p with the host root's tag);
2. through each of those views, change DIR every way a program can: create, write,
   truncate, append, chmod, chown, utime, rename, link, symlink, mkdir, rmdir, unlink,
   setxattr, mknod, and create a file at the top of the host root;
3. write what each step answered (`ok` or the errno's name) as JSON to FILE (in the
   results directory, the one place the guest may write).

The host then checks that DIR and its root are exactly as they were. Honoured only
inside a target (guest.sh exports SYSCALLS_TARGET): on the host it does nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

MS_REMOUNT, MNT_DETACH = 32, 2
# (file system type, source, options): the host root, mounted afresh as each target has it.
FRESH = [
    ("hostfs", "none", "/"),
    ("virtiofs", "hostroot", ""),
    ("9p", "hostroot", "trans=virtio,version=9p2000.L"),
]
_libc = ctypes.CDLL(None, use_errno=True)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--escape-dir", default=None, metavar="DIR")
    parser.addoption("--escape-report", default=None, metavar="FILE")


def pytest_configure(config: pytest.Config) -> None:
    where, report = config.getoption("escape_dir"), config.getoption("escape_report")
    inside = os.environ.get("SYSCALLS_TARGET", "host") != "host"
    if not (where and report and inside) or hasattr(config, "workerinput"):
        return
    Path(report).write_text(json.dumps(attempt(Path(where)), indent=1, sort_keys=True))


def _answer(fn: Callable[[], object]) -> str:
    try:
        fn()
    except OSError as e:
        return errno.errorcode.get(e.errno or 0, str(e.errno))
    return "ok"


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str) -> None:
    def b(s: str | None) -> bytes | None:
        return None if s is None else s.encode()

    if _libc.mount(b(source), b(target), b(fstype), ctypes.c_ulong(flags), b(data or None)) < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def changes(top: Path, where: Path) -> dict[str, str]:
    """Every kind of change to `where` (seen at `top`, a view of the host root)."""
    d = top / where.relative_to("/")
    existing, keep = d / "existing", d / "keep"

    def write(path: Path, flags: int) -> None:
        fd = os.open(path, flags, 0o644)
        try:
            os.write(fd, b"written by the guest\n")
            os.fsync(fd)
        finally:
            os.close(fd)

    steps: dict[str, Callable[[], object]] = {
        "create": lambda: write(d / "created", os.O_WRONLY | os.O_CREAT | os.O_EXCL),
        "create at the root": lambda: write(
            top / f"{where.name}-at-root", os.O_WRONLY | os.O_CREAT | os.O_EXCL
        ),
        "write": lambda: write(existing, os.O_WRONLY),
        "truncate on open": lambda: write(existing, os.O_WRONLY | os.O_TRUNC),
        "append": lambda: write(existing, os.O_WRONLY | os.O_APPEND),
        "truncate": lambda: os.truncate(existing, 0),
        "chmod": lambda: os.chmod(existing, 0o777),
        "chown": lambda: os.chown(existing, 12345, 12345),
        "utime": lambda: os.utime(existing, (0, 0)),
        "setxattr": lambda: os.setxattr(existing, "user.escape", b"1"),
        "link": lambda: os.link(existing, d / "linked"),
        "symlink": lambda: os.symlink("existing", d / "symlinked"),
        "mkdir": lambda: os.mkdir(d / "made"),
        "mknod": lambda: os.mkfifo(d / "fifo"),
        "rename": lambda: os.rename(existing, d / "renamed"),
        "rmdir": lambda: os.rmdir(keep),
        "unlink": lambda: os.unlink(existing),
    }
    answers = {name: _answer(step) for name, step in steps.items()}
    os.sync()
    return answers


def attempt(where: Path) -> dict[str, object]:
    report: dict[str, object] = {}
    report["remount / rw"] = _answer(lambda: _mount(None, "/", None, MS_REMOUNT, ""))
    report["through /"] = changes(Path("/"), where)
    for fstype, source, data in FRESH:
        point = tempfile.mkdtemp(prefix=f"escape-{fstype}-")  # on the guest's tmpfs /tmp
        answer = _answer(functools.partial(_mount, source, point, fstype, 0, data))
        report[f"mount {fstype}"] = answer
        if answer == "ok":
            report[f"through {fstype}"] = changes(Path(point), where)
            with contextlib.suppress(OSError):
                _mount_detach(point)
    return report


def _mount_detach(point: str) -> None:
    if _libc.umount2(point.encode(), MNT_DETACH) < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
