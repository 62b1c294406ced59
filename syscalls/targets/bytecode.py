"""Bytecode for the suite inside a target, made on the host, kept out of the checkout.

Inside a target the host's Python runs on a read-only view of the host's root, with
PYTHONDONTWRITEBYTECODE set. A checkout without __pycache__ (a fresh clone run only
through `syscalls boot`, or a host that sets PYTHONDONTWRITEBYTECODE) is then compiled
from source in every guest, and pytest rewrites every test module again: under TCG
that is most of a short run. So while a target starts, the host compiles what the
guest's pytest will import into a cache of its own (CACHE, ~/.cache/syscalls/pycache),
and the guest runs with PYTHONPYCACHEPREFIX pointing at it, read-only:

- the checkout's modules (syscalls/, suites/, tests/, conftest.py) as checked-hash
  pycs (PEP 552): the guest's importer compares each source's hash, so a file edited
  since is compiled afresh, never run stale;
- then a `pytest --collect-only` of the guest's own selection, here with the same
  prefix: it leaves the standard library's and site-packages' modules (checked by
  timestamp, as Python does everywhere), pytest's rewritten test modules (which pytest
  checks by source hash) and the table's parsed C declarations (syscalls.cache); and
  pytest-xdist's and execnet's modules, which only xdist's workers import (`-n`).

Then it packs the pycs of every module that collection imported (pytest's rewritten test
modules too) into one uncompressed tar beside DONE (PACK). guest.sh unpacks it into the
guest's own memory (/run) and imports from there: a pyc read over virtiofs costs an
open, a read and a close, each a round trip to the host (about 2.5 ms a file under TCG,
a second of a smoke run's start-up); one tar is a few large reads. A module missing from
the pack is compiled in the guest, as before; the guest deletes the pack once unpacked.

`python -m syscalls.targets.bytecode PREFIX DONE -- PYTEST-ARGS` does it, with bytecode
writing on and PYTHONPYCACHEPREFIX=PREFIX, and writes DONE (in the results directory)
when it ends. A target runs it alongside its own start (job(): the boot takes longer
than a warm cache's second), and guest.sh waits for DONE before it starts Python. A
failure costs only speed: the guest compiles what is missing, as before.
"""

from __future__ import annotations

import compileall
import contextlib
import importlib.util
import os
import py_compile
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from syscalls import outdir
from syscalls.cache import WRITE
from syscalls.targets import ROOT
from syscalls.targets.initramfs import cache_dir

CHECKOUT = ("conftest.py", "syscalls", "suites", "tests")
WORKER_PACKAGES = ("xdist", "execnet")  # imported by xdist workers only
LIMIT = 300.0  # seconds for the host's collection


def cache() -> Path:
    return cache_dir() / "pycache"


def sources(root: Path = ROOT) -> list[Path]:
    found: list[Path] = []
    for name in CHECKOUT:
        path = root / name
        found += sorted(path.rglob("*.py")) if path.is_dir() else [path] * path.is_file()
    return found


def checked(source: Path, pyc: Path) -> bool:
    """Whether `pyc` is a checked-hash pyc of `source` as it is now."""
    try:
        with pyc.open("rb") as f:
            head = f.read(16)
        data = source.read_bytes()
    except OSError:
        return False
    return (
        head[:4] == importlib.util.MAGIC_NUMBER
        and head[4:8] == b"\x03\x00\x00\x00"  # hash-based, checked
        and head[8:16] == importlib.util.source_hash(data)
    )


def compile_checkout(root: Path = ROOT) -> int:
    """Checked-hash pycs of the checkout's modules where missing or out of date, in this
    process's prefix (sys.pycache_prefix); how many were compiled."""
    compiled = 0
    for source in sources(root):
        pyc = Path(importlib.util.cache_from_source(str(source)))
        if not checked(source, pyc):
            mode = py_compile.PycInvalidationMode.CHECKED_HASH
            compiled += bool(py_compile.compile(str(source), str(pyc), invalidation_mode=mode))
    return compiled


def compile_workers() -> None:
    for name in WORKER_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            for location in spec.submodule_search_locations:
                compileall.compile_dir(location, quiet=2)


DONE = "bytecode.done"  # in the results directory: written when the cache is ready
PACK = "bytecode.tar"  # beside it, written before it: the pycs the guest's pytest imports


@dataclass(frozen=True)
class Job:
    """The host's compilation for one guest: run `argv` with `env`; it writes `done`
    (the seconds it took) when it ends, however it ends. The guest gets `prefix`."""

    prefix: Path
    argv: list[str]
    env: dict[str, str]
    done: Path


def job(pytest_args: Sequence[str], out: Path, prefix: Path | None = None) -> Job | None:
    """The compilation for a guest that runs pytest with `pytest_args` (its selection and
    options, not its output files) and writes its results in `out`; None when there is
    no cache to make here (the guest then compiles, as before). The target runs it
    alongside its own start, in its process group; the guest waits for `done`."""
    prefix = prefix or cache()
    try:
        prefix.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    (out / DONE).unlink(missing_ok=True)
    (out / PACK).unlink(missing_ok=True)
    unset = ("PYTHONDONTWRITEBYTECODE", "SYSCALLS_TARGET")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env["PYTHONPYCACHEPREFIX"] = str(prefix)
    env[WRITE] = "1"  # and the table's parsed C declarations (syscalls.cache)
    module = "syscalls.targets.bytecode"
    argv = [sys.executable, "-m", module, str(prefix), str(out / DONE), "--", *pytest_args]
    return Job(prefix, argv, env, out / DONE)


def prepare(pytest_args: Sequence[str], out: Path, prefix: Path | None = None) -> Path | None:
    """job(), run to its end here; the prefix (or None)."""
    made = job(pytest_args, out, prefix)
    if made is not None:
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            subprocess.run(
                made.argv, cwd=ROOT, env=made.env, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=LIMIT, check=False,
            )  # fmt: skip
    return made.prefix if made else None


def imported() -> list[Path]:
    """The source files of the modules this process has imported."""
    found = []
    for module in list(sys.modules.values()):
        source = getattr(module, "__file__", None)
        if isinstance(source, str) and source.endswith(".py"):
            found.append(Path(source))
    return found


def pack(prefix: Path, sources: Iterable[Path], dest: Path) -> int:
    """PACK (module doc): the pycs in `prefix` of these source files, Python's own and
    pytest's rewritten ones (<stem>.<tag>.pyc, <stem>.<tag>-pytest-<version>.pyc), named
    relative to the prefix; written whole or not at all. How many it holds."""
    wanted: dict[Path, set[str]] = {}  # the prefix's directory -> stems of sources in it
    for source in sources:
        # as Python names a pyc under a prefix: the absolute path, symlinks kept
        directory = prefix / Path(os.path.abspath(source)).parent.relative_to("/")
        wanted.setdefault(directory, set()).add(source.stem)
    members = []
    for directory, stems in wanted.items():
        with contextlib.suppress(OSError):
            for entry in os.scandir(directory):
                stem, _, rest = entry.name.partition(".")
                if stem in stems and rest.endswith(".pyc") and entry.is_file():
                    members.append(Path(entry.path))
    tmp = outdir.temp_name(dest)
    try:
        with tarfile.open(tmp, "w", format=tarfile.GNU_FORMAT) as tar:
            for path in sorted(members):
                tar.add(path, arcname=str(path.relative_to(prefix)), recursive=False)
        tmp.replace(dest)
    except OSError:
        return 0
    finally:
        tmp.unlink(missing_ok=True)
    return len(members)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 3 or args[2] != "--" or sys.pycache_prefix != args[0]:
        print("usage: PYTHONPYCACHEPREFIX=P python -m syscalls.targets.bytecode P DONE -- ARGS")
        return 2
    start = time.monotonic()
    try:
        compile_checkout()
        compile_workers()
        import pytest

        pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", *args[3:]])
        pack(Path(args[0]), imported(), Path(args[1]).with_name(PACK))
    finally:
        done = Path(args[1])
        with contextlib.suppress(OSError):
            done.with_suffix(".tmp").write_text(f"{time.monotonic() - start:.3f}\n")
            done.with_suffix(".tmp").replace(done)
    return 0


if __name__ == "__main__":
    sys.exit(main())
