"""A test that leaves its process tracing one it did not start (syscalls.runner.tracees):
the tracee is let go and runs on, and the test fails, named; the run does not hang."""

from __future__ import annotations

import ctypes
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from syscalls import child, processes
from syscalls.runner import tracees
from syscalls.runner.tracees import Released
from tests.runner_checks import clean, in_a_worker, junit_cases, junit_message, pytest_in

pytestmark = pytest.mark.os("linux")

PTRACE_ATTACH, PTRACE_SEIZE = 16, 0x4206  # linux/ptrace.h


def _ptrace(request: int, pid: int) -> int:
    null = ctypes.c_long(0)
    return processes.LIBC.ptrace(ctypes.c_long(request), ctypes.c_long(pid), null, null)


def _state_and_tracer(pid: int) -> tuple[str, int]:
    with open(f"/proc/{pid}/status", "rb") as f:
        fields = dict(line.split(b":", 1) for line in f.read().splitlines() if b":" in line)
    return fields[b"State"].split()[0].decode(), int(fields[b"TracerPid"])


@pytest.fixture
def target() -> Iterator[int]:
    """A process of this one's that a child of it will trace: not that child's own."""
    p = subprocess.Popen(["sleep", "60"])
    yield p.pid
    p.kill()
    p.wait()


def _attach_and_release(target: int, how: Callable[[int], None]) -> tuple[dict, dict]:
    def run() -> tuple[dict, dict]:
        how(target)
        found = tracees.release()
        return found.detached, found.stuck

    return child.run(run)


def _attached_and_waited(pid: int) -> None:
    assert _ptrace(PTRACE_ATTACH, pid) == 0
    os.waitpid(pid, tracees.WALL)  # in its stop, as a test that waited leaves it


def _attached(pid: int) -> None:
    assert _ptrace(PTRACE_ATTACH, pid) == 0  # its SIGSTOP not yet waited for


def _seized(pid: int) -> None:
    assert _ptrace(PTRACE_SEIZE, pid) == 0  # traced, not stopped


@pytest.mark.parametrize("how", [_attached_and_waited, _attached, _seized])
def test_a_tracee_it_did_not_start_is_detached_and_runs_on(target: int, how: Callable) -> None:
    detached, stuck = _attach_and_release(target, how)
    assert list(detached.values()) == ["sleep"] and stuck == {}
    for _ in range(100):  # a SIGSTOP it was sent to be detached from: suppressed
        state, tracer = _state_and_tracer(target)
        if state not in "tT":
            break
        time.sleep(0.01)
    # running on, untraced: asleep, or (just let go) still on its way there
    assert state in "RSD" and tracer == 0, (state, tracer)


def test_nothing_is_looked_for_when_it_traces_nothing(target: int) -> None:
    assert child.run(lambda: bool(tracees.release())) is False
    assert not tracees.release()  # this process has a child (target), and traces nothing


def test_the_description_names_the_tracees_without_pids() -> None:
    found = Released(detached={12: "syscalls, this process's parent", 13: "python3"})
    assert found.describe() == (
        "left this process tracing 2 processes it did not start "
        "(python3, syscalls, this process's parent): detached"
    )
    assert Released(stuck={5: "sleep"}).describe().endswith(": 1 could not be detached")


TRACES = """
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
null = ctypes.c_long(0)

def test_a_attaches_its_parent():
    assert libc.ptrace(ctypes.c_long(16), ctypes.c_long(os.getppid()), null, null) == 0

def test_b_after():
    time.sleep(0.2)  # its parent stopped at the next signal, and never ran again
"""


def _check(cases: dict, output: str) -> None:
    message = junit_message(cases["test_a_attaches_its_parent"])
    assert message is not None, output[-3000:]
    assert "left this process tracing 1 process it did not start" in message, message
    assert "this process's parent): detached" in message, message
    assert clean(cases["test_b_after"]), output[-3000:]


def test_a_forked_worker_lets_its_parent_go_and_the_run_ends(tmp_path: Path) -> None:
    p, cases = in_a_worker(tmp_path, "test_traces.py", TRACES, timeout=60)
    _check(cases, p.stdout)


def test_under_xdist_the_controller_is_let_go(tmp_path: Path) -> None:
    (tmp_path / "test_traces.py").write_text(TRACES)
    junit = tmp_path / "junit.xml"
    p = pytest_in(tmp_path, f"--junitxml={junit}", "-n", "2", "test_traces.py", timeout=60)
    _check(junit_cases(junit), p.stdout)
