"""syscalls.forking: the raw fork the suites use, and the argv arrays of exec calls."""

import os

from syscalls import forking
from syscalls.abi import Platform
from syscalls.kernel import Kernel


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
