"""syscalls.forking: raw fork and wait, a waiting child, need() and missing_pid()."""

from __future__ import annotations

import os

import pytest

from syscalls import forking, procstate
from syscalls.abi import Platform
from syscalls.kernel import Kernel


@pytest.fixture(scope="module")
def kernel() -> Kernel:
    return Kernel(Platform.load())


def test_fork_and_exit_code(kernel: Kernel) -> None:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - a plain child for the raw calls to reap
        os._exit(9)
    assert forking.exit_code(kernel, pid) == 9


def test_waiting_child_runs_prepare_waits_and_is_reaped(kernel: Kernel) -> None:
    with forking.waiting_child(kernel, lambda: 42) as (pid, value):
        assert value == 42
        procstate.wait_blocked(kernel, pid, "read")  # blocked until let go
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # already reaped


def test_waiting_child_whose_prepare_fails_is_reported(kernel: Kernel) -> None:
    def fail() -> int:
        raise RuntimeError("prepare failed")

    with (
        pytest.raises(AssertionError, match="died before it was ready"),
        forking.waiting_child(kernel, fail),
    ):
        pass


def test_need_skips_as_a_missing_or_left_out_call_does(kernel: Kernel) -> None:
    from syscalls.kernel import Unsupported

    forking.need(kernel, "getpid", "read")  # present: nothing happens
    with pytest.raises(Unsupported, match="no_such_call: not in the linux/"):
        forking.need(kernel, "getpid", "no_such_call")
    left = kernel.platform.left_out
    if left:
        name = next(iter(left))
        with pytest.raises(Unsupported, match=f"{name}: "):
            forking.need(kernel, name)


def test_missing_pid_names_no_process() -> None:
    with pytest.raises(ProcessLookupError):
        os.kill(forking.missing_pid(), 0)
