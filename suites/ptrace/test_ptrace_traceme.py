"""PTRACE_TRACEME, PTRACE_CONT, PTRACE_GETSIGINFO: a child that asks to be traced stops
at its signals, and the tracer decides which signal, if any, it receives.

Every test runs in in_child; tracees are killed and reaped on every path (conftest).
"""

import os
import signal

import pytest

from syscalls import forking
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")


@pytest.mark.smoke
def test_traceme_child_stop_is_seen_by_wait4(kernel: Kernel, ptrace, in_child) -> None:
    def run() -> int:
        def child() -> int | None:
            if not ptrace.request_tracing():
                return ptrace.TRACEME_ENOSYS
            os.kill(os.getpid(), signal.SIGSTOP)
            return 0

        pid = forking.fork(kernel, child)
        try:
            status = forking.wait(kernel, pid)  # no WUNTRACED: a tracee's stops report
            ptrace.skip_if_untraceable(status)
            return status
        finally:
            ptrace.reap(pid)

    status = in_child(run)
    assert os.WIFSTOPPED(status)
    assert os.WSTOPSIG(status) == signal.SIGSTOP


@pytest.mark.smoke
def test_traceme_twice_is_eperm(kernel: Kernel, ptrace, in_child) -> None:
    def run() -> int:
        second = lambda: 0 if kernel.ptrace(kernel.PTRACE_TRACEME, 0, 0, 0).errno == "EPERM" else 1  # noqa: E731
        with ptrace.traceme(second) as pid:
            ptrace("PTRACE_CONT", pid, 0, 0).unwrap()
            status = ptrace.wait(pid)
            return os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1

    assert in_child(run) == 0


@pytest.mark.smoke
def test_cont_lets_the_tracee_run_to_its_exit(kernel: Kernel, ptrace, in_child) -> None:
    def run() -> int:
        with ptrace.traceme(lambda: 12) as pid:
            ptrace("PTRACE_CONT", pid, 0, 0).unwrap()
            status = ptrace.wait(pid)
            return os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1

    assert in_child(run) == 12


@pytest.mark.smoke
def test_cont_with_a_signal_delivers_it(kernel: Kernel, ptrace, in_child) -> None:
    def run() -> int:
        with ptrace.traceme() as pid:
            ptrace("PTRACE_CONT", pid, 0, signal.SIGTERM).unwrap()
            status = ptrace.wait(pid)
            return os.WTERMSIG(status) if os.WIFSIGNALED(status) else -1

    assert in_child(run) == signal.SIGTERM


@pytest.mark.smoke
def test_cont_with_zero_suppresses_the_stopping_signal(kernel: Kernel, ptrace, in_child) -> None:
    def run() -> tuple[int, int]:
        def body() -> int:
            signal.signal(signal.SIGUSR1, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGUSR1)  # fatal, unless the tracer drops it
            return 4

        with ptrace.traceme(body) as pid:
            ptrace("PTRACE_CONT", pid, 0, 0).unwrap()
            stopped_by = ptrace.wait_stop(pid)
            ptrace("PTRACE_CONT", pid, 0, 0).unwrap()
            status = ptrace.wait(pid)
            return stopped_by, os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1

    assert in_child(run) == (signal.SIGUSR1, 4)


@pytest.mark.smoke
def test_getsiginfo_describes_the_stopping_signal(kernel: Kernel, ptrace, in_child) -> None:
    def run() -> tuple[int, int, int]:
        with ptrace.traceme() as pid:
            info = kernel.new("siginfo_t *")
            ptrace("PTRACE_GETSIGINFO", pid, 0, info).unwrap()
            return info.si_signo, info.si_code, info.si_pid - pid

    assert in_child(run) == (signal.SIGSTOP, kernel.SI_USER, 0)  # sent by kill() to itself


@pytest.mark.smoke
def test_request_to_an_untraced_process_is_esrch(kernel: Kernel, ptrace, in_child) -> None:
    def run() -> str:
        pid = forking.fork(kernel, lambda: os.read(os.pipe()[0], 1))
        try:
            return ptrace("PTRACE_CONT", pid, 0, 0).outcome
        finally:
            kernel.kill(pid, signal.SIGKILL)
            forking.wait(kernel, pid)

    assert in_child(run) == "ESRCH"


@pytest.mark.smoke
def test_unknown_request_is_eio(kernel: Kernel, ptrace, in_child) -> None:
    def run() -> str:
        with ptrace.traceme() as pid:
            return kernel.ptrace(0x7FFF, pid, 0, 0).outcome

    assert in_child(run) == "EIO"
