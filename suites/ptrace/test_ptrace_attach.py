"""PTRACE_ATTACH, PTRACE_SEIZE, PTRACE_INTERRUPT, PTRACE_DETACH, and who may attach.

Attaching to one's own child is allowed under Yama ptrace_scope 0 and 1; scope 2 needs
CAP_SYS_PTRACE and scope 3 forbids it: those tests skip there (this host has no Yama,
which is scope 0). Nobody may attach to itself or to a process already traced, and a
user may not attach to another user's process such as pid 1.
"""

import os
import signal
from pathlib import Path

import pytest

from syscalls import forking
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")


def _yama_scope() -> int:
    try:
        return int(Path("/proc/sys/kernel/yama/ptrace_scope").read_text())
    except (OSError, ValueError):
        return 0


MAY_ATTACH = pytest.mark.skipif(
    _yama_scope() >= 3 or (_yama_scope() == 2 and os.geteuid() != 0),
    reason=f"Yama ptrace_scope {_yama_scope()} forbids attaching here",
)
AS_USER = pytest.mark.as_user("root may attach to anything (CAP_SYS_PTRACE)")


@MAY_ATTACH
def test_attach_stops_the_child_with_sigstop(kernel: Kernel, ptrace, in_child) -> None:
    def run() -> int:
        with ptrace.running() as (pid, _):
            ptrace("PTRACE_ATTACH", pid, 0, 0).unwrap()
            return ptrace.wait_stop(pid)

    assert in_child(run) == signal.SIGSTOP


@MAY_ATTACH
def test_detach_lets_the_child_run_on(kernel: Kernel, ptrace, in_child) -> None:
    def run() -> int:
        with ptrace.running() as (pid, w):
            ptrace("PTRACE_ATTACH", pid, 0, 0).unwrap()
            ptrace.wait_stop(pid)
            ptrace("PTRACE_DETACH", pid, 0, 0).unwrap()
            os.write(w, b"x")
            status = ptrace.wait(pid)
            return os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1

    assert in_child(run) == 0


@MAY_ATTACH
def test_seize_does_not_stop_and_interrupt_does(kernel: Kernel, ptrace, in_child) -> None:
    def run() -> tuple[int, int, int]:
        with ptrace.running() as (pid, _):
            ptrace("PTRACE_SEIZE", pid, 0, 0).unwrap()
            status = kernel.new("int *")
            quiet = kernel.wait4(pid, status, 0x40000000 | kernel.WNOHANG, None).unwrap()
            ptrace("PTRACE_INTERRUPT", pid, 0, 0).unwrap()
            stop = ptrace.wait(pid)
            return quiet, os.WSTOPSIG(stop), stop >> 16

    quiet, sig, event = in_child(run)
    assert quiet == 0  # nothing to report: SEIZE leaves the child running
    assert sig == signal.SIGTRAP
    assert event == kernel.PTRACE_EVENT_STOP


@MAY_ATTACH
def test_interrupt_of_an_attached_not_seized_tracee_is_eio(
    kernel: Kernel, ptrace, in_child
) -> None:
    def run() -> str:
        with ptrace.running() as (pid, _):
            ptrace("PTRACE_ATTACH", pid, 0, 0).unwrap()
            ptrace.wait_stop(pid)
            return ptrace("PTRACE_INTERRUPT", pid, 0, 0).outcome

    assert in_child(run) == "EIO"


@MAY_ATTACH
def test_seize_with_nonzero_addr_is_eio(kernel: Kernel, ptrace, in_child) -> None:
    def run() -> str:
        with ptrace.running() as (pid, _):
            return ptrace("PTRACE_SEIZE", pid, 1, 0).outcome

    assert in_child(run) == "EIO"


@MAY_ATTACH
def test_seize_with_unknown_option_is_eio(kernel: Kernel, ptrace, in_child) -> None:
    """Unlike PTRACE_SETOPTIONS (EINVAL), SEIZE refuses bad options with EIO."""

    def run() -> str:
        with ptrace.running() as (pid, _):
            return ptrace("PTRACE_SEIZE", pid, 0, 1 << 30).outcome

    assert in_child(run) == "EIO"


@MAY_ATTACH
def test_attach_to_an_already_traced_process_is_eperm(kernel: Kernel, ptrace, in_child) -> None:
    def run() -> str:
        with ptrace.traceme() as pid:
            return ptrace("PTRACE_ATTACH", pid, 0, 0).outcome

    assert in_child(run) == "EPERM"


def test_attach_to_self_is_eperm(kernel: Kernel, ptrace, in_child) -> None:
    assert in_child(lambda: ptrace("PTRACE_ATTACH", os.getpid(), 0, 0).outcome) == "EPERM"


def test_attach_to_a_reaped_pid_is_esrch(kernel: Kernel, ptrace, in_child) -> None:
    def run() -> str:
        pid = forking.fork(kernel)
        forking.wait(kernel, pid)
        return ptrace("PTRACE_ATTACH", pid, 0, 0).outcome

    assert in_child(run) == "ESRCH"


@AS_USER
def test_attach_to_another_users_process_is_eperm(kernel: Kernel, ptrace, in_child) -> None:
    assert in_child(lambda: ptrace("PTRACE_ATTACH", 1, 0, 0).outcome) == "EPERM"


def _kthreadd() -> int:
    try:
        comm = Path("/proc/2/comm").read_text().strip()
    except OSError:
        comm = ""
    if comm != "kthreadd":
        pytest.skip("pid 2 is not kthreadd here (a pid namespace or another kernel)")
    return 2


@pytest.mark.root
def test_attach_to_a_kernel_thread_is_eperm(kernel: Kernel, ptrace, in_child) -> None:
    pid = _kthreadd()
    assert in_child(lambda: ptrace("PTRACE_ATTACH", pid, 0, 0).outcome) == "EPERM"


@MAY_ATTACH
def test_request_to_a_seized_tracee_that_is_running_is_esrch(
    kernel: Kernel, ptrace, in_child
) -> None:
    def run() -> tuple[str, str]:
        with ptrace.running() as (pid, _):
            ptrace("PTRACE_SEIZE", pid, 0, 0).unwrap()
            info = kernel.new("siginfo_t *")
            return (
                ptrace("PTRACE_GETSIGINFO", pid, 0, info).outcome,
                ptrace("PTRACE_CONT", pid, 0, 0).outcome,
            )

    assert in_child(run) == ("ESRCH", "ESRCH")


@MAY_ATTACH
@pytest.mark.parametrize("request_", ["PTRACE_DETACH", "PTRACE_CONT"])
def test_detach_or_cont_with_an_invalid_signal_is_eio(
    kernel: Kernel, ptrace, in_child, request_: str
) -> None:
    def run() -> tuple[str, str]:
        with ptrace.running() as (pid, _):
            ptrace("PTRACE_ATTACH", pid, 0, 0).unwrap()
            ptrace.wait_stop(pid)
            refused = ptrace(request_, pid, 0, 65).outcome
            info = kernel.new("siginfo_t *")
            return refused, ptrace("PTRACE_GETSIGINFO", pid, 0, info).outcome

    assert in_child(run) == ("EIO", "ok")  # still traced and stopped
