"""Bytecode for the suite inside a target, made on the host, kept out of the checkout.

Inside a target the host's Python runs on a read-only view of the host's root, with
PYTHONDONTWRITEBYTECODE set. A checkout without __pycache__ (a fresh clone run only
through `syscalls boot`, or a host that sets PYTHONDONTWRITEBYTECODE) is then compiled
from source in every guest, and pytest rewrites every test module again: under TCG
that is most of a short run. So before a target starts, the host compiles what the
guest's pytest will import into a cache of its own (CACHE, ~/.cache/syscalls/pycache),
and the guest runs with PYTHONPYCACHEPREFIX pointing at it, read-only:

- the checkout's modules (syscalls/, suites/, tests/, conftest.py) as checked-hash
  pycs (PEP 552): the guest's importer compares each source's hash, so a file edited
  since is compiled afresh, never run stale;
- then a `pytest --collect-only` of the guest's own selection, here with the same
  prefix: it leaves the standard library's and site-packages' modules (checked by
  timestamp, as Python does everywhere) and pytest's rewritten test modules (which
  pytest checks by source hash); and pytest-xdist's and execnet's modules, which only
  workers import.

`python -m syscalls.targets.bytecode PREFIX -- PYTEST-ARGS` does it (prepare() runs it
in a process of its own, with bytecode writing on and PYTHONPYCACHEPREFIX=PREFIX). A
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
import time
from collections.abc import Sequence
from pathlib import Path

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


def prepare(pytest_args: Sequence[str], prefix: Path | None = None) -> Path | None:
    """Fill the cache for a guest that runs pytest with `pytest_args` (its selection and
    options, not its output files); the prefix to give the guest, or None when this
    Python cannot make one (the guest then compiles, as before)."""
    prefix = prefix or cache()
    try:
        prefix.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    unset = ("PYTHONDONTWRITEBYTECODE", "SYSCALLS_TARGET")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env["PYTHONPYCACHEPREFIX"] = str(prefix)
    argv = [sys.executable, "-m", "syscalls.targets.bytecode", str(prefix), "--", *pytest_args]
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        subprocess.run(
            argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, timeout=LIMIT, check=False,
        )  # fmt: skip
    return prefix


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2 or args[1] != "--" or sys.pycache_prefix != args[0]:
        print("usage: PYTHONPYCACHEPREFIX=P python -m syscalls.targets.bytecode P -- PYTEST-ARGS")
        return 2
    start = time.monotonic()
    compiled = compile_checkout()
    compile_workers()
    import pytest

    status = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", *args[2:]])
    print(f"{compiled} checkout modules compiled; collection status {status}; "
          f"{time.monotonic() - start:.1f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
