"""SIGCHLD: sent to the parent when a child exits or stops; SA_NOCLDSTOP silences stops,
and an ignored SIGCHLD (or SA_NOCLDWAIT) makes the kernel reap children itself."""

import os
import signal

import pytest

from syscalls import forking
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

CHLD = signal.SIGCHLD


def test_sigchld_on_exit_carries_pid_and_code(kernel: Kernel, sigs, in_child) -> None:
    def run() -> tuple[int, int, int]:
        sigs.block(CHLD)
        pid = forking.fork(kernel, lambda: 5)
        r, info = sigs.timedwait({CHLD}, 5_000_000_000)
        r.unwrap()
        forking.wait(kernel, pid)
        return info.si_code, info.si_pid - pid, info.si_status

    assert in_child(run) == (kernel.CLD_EXITED, 0, 5)


def _stop_report(kernel: Kernel, sigs, flags: int) -> tuple[str, int]:
    """Install SIG_DFL with `flags` for SIGCHLD, stop a child: what SIGCHLD says."""
    sigs.action(CHLD, sigs.default(flags=flags))[0].unwrap()
    sigs.block(CHLD)
    pid = forking.fork(kernel, lambda: os.read(os.pipe()[0], 1))
    try:
        kernel.kill(pid, signal.SIGSTOP).unwrap()
        forking.wait(kernel, pid, kernel.WUNTRACED)  # the stop has happened
        r, info = sigs.timedwait({CHLD}, 0)
        return r.outcome, info.si_code
    finally:
        kernel.kill(pid, signal.SIGKILL)
        forking.wait(kernel, pid)


def test_sigchld_reports_a_stopped_child(kernel: Kernel, sigs, in_child) -> None:
    assert in_child(lambda: _stop_report(kernel, sigs, 0)) == ("ok", kernel.CLD_STOPPED)


def test_sigchld_with_nocldstop_is_not_sent_for_stops(kernel: Kernel, sigs, in_child) -> None:
    outcome, _ = in_child(lambda: _stop_report(kernel, sigs, kernel.SA_NOCLDSTOP))
    assert outcome == "EAGAIN"


@pytest.mark.parametrize("how", ["ignored", "nocldwait"])
def test_sigchld_ignored_or_nocldwait_reaps_children_itself(
    kernel: Kernel, sigs, in_child, how: str
) -> None:
    """wait4 then blocks until every child is gone and answers ECHILD."""

    def run() -> str:
        if how == "ignored":
            action = sigs.ignore()
        else:
            action = sigs.default(flags=kernel.SA_NOCLDWAIT)
        sigs.action(CHLD, action)[0].unwrap()
        pid = forking.fork(kernel, lambda: 0)
        return kernel.wait4(pid, kernel.new("int *"), 0, None).outcome

    assert in_child(run) == "ECHILD"
