"""syscalls.forking: raw fork, wait, and reading a process's state from /proc."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from syscalls import forking
from syscalls.abi import Platform
from syscalls.kernel import Kernel


@pytest.fixture(scope="module")
def kernel() -> Kernel:
    return Kernel(Platform.load())


def test_state_of_this_process_is_running(kernel: Kernel) -> None:
    assert forking.state(os.getpid()) == "R"


def test_state_reads_a_thread_and_a_sleeping_child() -> None:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child sleeps until killed
        signal.pause()
        os._exit(0)
    try:
        assert forking.await_state(pid, "S")
        assert forking.state(pid) == "S"
    finally:
        os.kill(pid, signal.SIGKILL)
    assert forking.await_state(pid, "Z")  # killed, not reaped yet
    os.waitpid(pid, 0)


def test_state_of_a_thread_by_its_tid() -> None:
    started, release = threading.Event(), threading.Event()
    tids: list[int] = []

    def body() -> None:
        tids.append(threading.get_native_id())
        started.set()
        release.wait()

    t = threading.Thread(target=body)
    t.start()
    started.wait()
    try:
        assert forking.await_state(os.getpid(), "S", tid=tids[0])
    finally:
        release.set()
        t.join()


def test_await_state_gives_up_after_its_timeout() -> None:
    assert forking.await_state(os.getpid(), "Z", timeout=0.01) is False


def test_fork_and_exit_code(kernel: Kernel) -> None:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - a plain child for the raw calls to reap
        os._exit(9)
    assert forking.exit_code(kernel, pid) == 9


def test_waiting_child_runs_prepare_waits_and_is_reaped(kernel: Kernel) -> None:
    with forking.waiting_child(kernel, lambda: 42) as (pid, value):
        assert value == 42
        assert forking.await_state(pid, "S")  # blocked until let go
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
