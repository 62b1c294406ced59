"""syscalls.forking: the raw fork the suites use, the argv arrays of exec calls, a child
that waits while a test acts on it, need() and missing_pid()."""

import faulthandler
import os
import signal
import sys

import pytest

from syscalls import forking, procstate
from syscalls.abi import Platform
from syscalls.kernel import Kernel, Unsupported


def _kernel() -> Kernel:
    return Kernel(Platform.load())


def test_argv_is_null_terminated_and_holds_the_strings() -> None:
    k = _kernel()
    argv = forking.Argv(k, [b"sh", b"-c", b""])
    assert [k.ffi.string(argv.array[i]) for i in range(3)] == [b"sh", b"-c", b""]
    assert argv.array[3] == k.ffi.NULL


def test_empty_argv_is_a_lone_null() -> None:
    k = _kernel()
    assert forking.Argv(k, []).array[0] == k.ffi.NULL


def test_fork_runs_the_body_and_reports_its_exit_code() -> None:
    k = _kernel()
    pid = forking.fork(k, lambda: 7)
    assert forking.exit_code(k, pid) == 7


def test_a_body_that_raises_exits_1() -> None:
    k = _kernel()

    def body() -> int:
        raise RuntimeError("in the child")

    status = forking.wait(k, forking.fork(k, body))
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 1


def test_waiting_child_runs_prepare_waits_and_is_reaped() -> None:
    kernel = _kernel()
    with forking.waiting_child(kernel, lambda: 42) as (pid, value):
        assert value == 42
        procstate.wait_blocked(kernel, pid, "read")  # blocked until let go
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # already reaped


def test_waiting_child_whose_prepare_fails_is_reported() -> None:
    kernel = _kernel()

    def fail() -> int:
        raise RuntimeError("prepare failed")

    with (
        pytest.raises(AssertionError, match="died before it was ready"),
        forking.waiting_child(kernel, fail),
    ):
        pass


def test_need_skips_as_a_missing_or_left_out_call_does() -> None:
    kernel = _kernel()
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


def test_a_child_killed_by_its_fault_prints_no_python_dump(tmp_path) -> None:
    # pytest enables the fault handler on the real stderr; a child the test crashes on
    # purpose must not dump its stack there
    k = _kernel()
    dump = (tmp_path / "stderr").open("w+")
    faulthandler.enable(dump)
    try:
        pid = forking.fork(k, lambda: os.kill(os.getpid(), signal.SIGSEGV))
        status = forking.wait(k, pid)
    finally:
        faulthandler.enable(sys.__stderr__)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSEGV
    dump.seek(0)
    assert dump.read() == ""
