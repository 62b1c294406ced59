"""The smoke selection (@pytest.mark.smoke, `syscalls run --smoke`): its size, and that
it covers the families of calls that break first."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from syscalls.abi import Platform
from syscalls.cli import main
from syscalls.inventory import scan

ROOT = Path(__file__).resolve().parent.parent

# family -> the syscalls any of which a smoke test of that family calls
FAMILIES = {
    "open": {"openat", "open"},
    "read/write": {"read", "write", "pread64", "pwrite64"},
    "stat": {"fstat", "newfstatat", "fstatat", "stat", "lstat", "statx"},
    "mmap": {"mmap", "munmap"},
    "futex": {"futex"},
    "epoll": {"epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait"},
    "poll": {"poll", "ppoll"},
    "ptrace": {"ptrace"},
    "fork": {"fork", "clone"},
    "wait": {"wait4", "waitid"},
    "exec": {"execve", "execveat"},
    "signals": {"rt_sigaction", "kill", "tgkill"},
    "pipes": {"pipe", "pipe2"},
    "sockets": {"socket", "socketpair", "connect", "accept", "accept4"},
    "clocks": {"clock_gettime", "clock_getres"},
}


@pytest.fixture(scope="module")
def smoke() -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "smoke", "suites"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return [line for line in proc.stdout.splitlines() if "::" in line]


def test_the_selection_holds_150_to_200_tests(smoke):
    assert 150 <= len(smoke) <= 200, len(smoke)


def test_every_family_of_calls_that_breaks_first_is_covered(smoke):
    inventory = scan(ROOT / "suites", Platform.load("linux/x86_64"))
    calls = {f"suites/{t.file}::{t.name}": t.syscalls for t in inventory.tests}
    selected = [nodeid.split("[")[0] for nodeid in smoke]  # each parametrized case counts
    missing = set(selected) - set(calls)
    assert not missing, f"not found by the inventory: {sorted(missing)[:5]}"
    for family, names in FAMILIES.items():
        # the calls the inventory sees, or the file named for the call (one file per
        # syscall: the sync suite's futex calls go through a fixture it does not follow)
        tests = [t for t in selected if calls[t] & names or _file_call(t) in names]
        assert len(tests) >= 3, f"{family}: only {tests}"


def _file_call(nodeid: str) -> str:
    """ "futex" for suites/sync/test_futex_wait_wake.py::..."""
    return Path(nodeid.split("::")[0]).stem.removeprefix("test_").split("_")[0]


def test_smoke_is_the_marker_selection(monkeypatch):
    """--smoke adds pytest's --smoke and the files holding smoke tests to what pytest runs (with
    the run's own workers: forked ones cost nothing to start)."""
    seen: list = []
    monkeypatch.setattr("syscalls.cli.cmd_run", lambda args: seen.append(args) or 0)
    assert main(["run", "--smoke", "--out", "/nonexistent-out"]) == 0
    args = seen[0].pytest_args
    assert args[:1] == ["--smoke"] and seen[0].workers == "auto"
    assert "suites/fs/test_openat.py" in args and "suites/fs/test_statx.py" not in args
    assert main(["run", "--smoke", "-n", "2", "--out", "/nonexistent-out"]) == 0
    assert seen[1].workers == "2"
    assert main(["run", "--smoke", "--out", "/nonexistent-out", "--", "suites/mm"]) == 0
    assert seen[2].pytest_args == ["suites/mm", "--smoke"]  # the paths given, only
