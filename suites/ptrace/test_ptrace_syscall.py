"""PTRACE_SYSCALL, PTRACE_SINGLESTEP and PTRACE_SETOPTIONS: how stops are reported.

Syscall stops report SIGTRAP, or SIGTRAP|0x80 with PTRACE_O_TRACESYSGOOD; a single
step stops with SIGTRAP after one instruction; PTRACE_O_TRACEEXIT adds an event stop
before exit whose message is the wait status to come.
"""

import os
import signal

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")


def _first_syscall_stop(ptrace, pid: int) -> int:
    ptrace("PTRACE_SYSCALL", pid, 0, 0).unwrap()
    return ptrace.wait_stop(pid)


def test_syscall_stop_reports_sigtrap(kernel: Kernel, ptrace, in_child) -> None:
    def run() -> int:
        with ptrace.traceme(lambda: os.getpid() and 0) as pid:
            return _first_syscall_stop(ptrace, pid)

    assert in_child(run) == signal.SIGTRAP


def test_tracesysgood_marks_syscall_stops_with_0x80(kernel: Kernel, ptrace, in_child) -> None:
    def run() -> int:
        with ptrace.traceme(lambda: os.getpid() and 0) as pid:
            ptrace("PTRACE_SETOPTIONS", pid, 0, kernel.PTRACE_O_TRACESYSGOOD).unwrap()
            return _first_syscall_stop(ptrace, pid)

    assert in_child(run) == signal.SIGTRAP | 0x80


def test_syscall_stops_come_in_entry_exit_pairs_around_getpid(
    kernel: Kernel, ptrace, in_child
) -> None:
    nr = kernel.platform.syscalls["getpid"]

    def run() -> tuple[int, int]:
        with ptrace.traceme(lambda: kernel.getpid() and 0) as pid:
            ptrace.to_syscall(pid, nr)
            ptrace("PTRACE_SYSCALL", pid, 0, 0).unwrap()
            ptrace.wait_stop(pid)
            after = ptrace.regs(pid)
            return ptrace.reg(after, "nr"), ptrace.reg(after, "ret") - pid

    assert in_child(run) == (nr, 0)


def test_singlestep_stops_after_one_instruction(kernel: Kernel, ptrace, in_child) -> None:
    def run() -> tuple[int, bool]:
        with ptrace.traceme() as pid:
            before = ptrace.reg(ptrace.regs(pid), "pc")
            ptrace("PTRACE_SINGLESTEP", pid, 0, 0).unwrap()
            sig = ptrace.wait_stop(pid)
            after = ptrace.reg(ptrace.regs(pid), "pc")
            return sig, 0 < abs(after - before) < 4096  # moved, but only by one step

    assert in_child(run) == (signal.SIGTRAP, True)


def test_traceexit_stops_before_exit_with_the_status(kernel: Kernel, ptrace, in_child) -> None:
    def run() -> tuple[int, int, int]:
        with ptrace.traceme(lambda: 9) as pid:
            ptrace("PTRACE_SETOPTIONS", pid, 0, kernel.PTRACE_O_TRACEEXIT).unwrap()
            ptrace("PTRACE_CONT", pid, 0, 0).unwrap()
            status = ptrace.wait(pid)
            msg = kernel.new("unsigned long *")
            ptrace("PTRACE_GETEVENTMSG", pid, 0, msg).unwrap()
            return os.WSTOPSIG(status), status >> 16, msg[0]

    sig, event, msg = in_child(run)
    assert sig == signal.SIGTRAP
    assert event == kernel.PTRACE_EVENT_EXIT
    assert os.WIFEXITED(msg) and os.WEXITSTATUS(msg) == 9


def test_setoptions_unknown_option_is_einval(kernel: Kernel, ptrace, in_child) -> None:
    def run() -> str:
        with ptrace.traceme() as pid:
            return ptrace("PTRACE_SETOPTIONS", pid, 0, 1 << 30).outcome

    assert in_child(run) == "EINVAL"
