"""PTRACE_GETREGS/SETREGS, PTRACE_GETREGSET (NT_PRSTATUS), PTRACE_GET_SYSCALL_INFO, at
the syscall stops of PTRACE_SYSCALL around a getpid() in the tracee. Registers are read
by role (the `ptrace` fixture's REGS names them per arch).

At a syscall-entry stop x86 holds the syscall number in orig_rax (orig_eax) and -ENOSYS
in rax (eax); at the exit stop rax is the result, which the tracer may rewrite. arm64
has the number in x8 and marks the stop in x7 (0 at entry, 1 at exit); x0 holds the
first argument at entry and the result at exit. arm64 has no PTRACE_GETREGS/SETREGS:
the fixture reads and writes through PTRACE_GETREGSET/SETREGSET NT_PRSTATUS there.
"""

import os
import select

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

FAKE_PID = 12345


def _getpid_then_report(kernel: Kernel) -> int:
    """Tracee body: getpid(); exit 0 if it answered FAKE_PID, 1 if its own pid."""
    got = kernel.getpid().value
    return 0 if got == FAKE_PID else 1 if got == os.getpid() else 2


def test_syscall_entry_stop_shows_number_in_orig_rax_and_enosys_in_rax(
    kernel: Kernel, ptrace, in_child
) -> None:
    def run() -> tuple[int, int | None, int]:
        with ptrace.traceme(lambda: _getpid_then_report(kernel)) as pid:
            regs = ptrace.to_syscall(pid, kernel.platform.syscalls["getpid"])
            direction = ptrace.reg(regs, "direction") if ptrace.names.direction else None
            return ptrace.reg(regs, "nr"), direction, ptrace.reg(regs, "ret")

    nr, direction, ret = in_child(run)
    assert nr == kernel.platform.syscalls["getpid"]
    if direction is None:  # x86: -ENOSYS until the syscall has run
        assert ret == ptrace.reg_value(-kernel.ENOSYS)
    else:  # arm64: x7 = PTRACE_SYSCALL_ENTER
        assert direction == 0


def test_syscall_exit_stop_shows_the_result_in_rax(kernel: Kernel, ptrace, in_child) -> None:
    def run() -> tuple[int, int]:
        with ptrace.traceme(lambda: _getpid_then_report(kernel)) as pid:
            ptrace.to_syscall(pid, kernel.platform.syscalls["getpid"])
            ptrace("PTRACE_SYSCALL", pid, 0, 0).unwrap()
            ptrace.wait_stop(pid)
            regs = ptrace.regs(pid)
            return ptrace.reg(regs, "ret") - pid, ptrace.reg(regs, "nr")

    delta, nr = in_child(run)
    assert delta == 0
    assert nr == kernel.platform.syscalls["getpid"]


def test_setregs_at_exit_changes_what_the_tracee_sees(kernel: Kernel, ptrace, in_child) -> None:
    def run() -> int:
        with ptrace.traceme(lambda: _getpid_then_report(kernel)) as pid:
            ptrace.to_syscall(pid, kernel.platform.syscalls["getpid"])
            ptrace("PTRACE_SYSCALL", pid, 0, 0).unwrap()
            ptrace.wait_stop(pid)
            regs = ptrace.regs(pid)
            ptrace.set_reg(regs, "ret", FAKE_PID)
            ptrace.set_regs(pid, regs)
            ptrace("PTRACE_CONT", pid, 0, 0).unwrap()
            status = ptrace.wait(pid)
            return os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1

    assert in_child(run) == 0


def test_setregs_at_entry_to_another_number_makes_that_call_instead(
    kernel: Kernel, ptrace, in_child
) -> None:
    """At the entry stop of the tracee's getpid the tracer writes getppid's number: the
    tracee gets its parent's pid, the tracer's own."""

    def body() -> int:
        got = kernel.getpid().value
        return 0 if got == os.getppid() else 1 if got == os.getpid() else 2

    def run() -> int:
        with ptrace.traceme(body) as pid:
            regs = ptrace.to_syscall(pid, kernel.platform.syscalls["getpid"])
            ptrace.set_syscall(pid, regs, kernel.platform.syscalls["getppid"])
            ptrace("PTRACE_CONT", pid, 0, 0).unwrap()
            status = ptrace.wait(pid)
            return os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1

    assert in_child(run) == 0


@pytest.mark.arch("x86_64", "i386", reason="x86 returns what the tracer leaves in rax")
def test_setregs_at_entry_to_minus_one_skips_the_call(kernel: Kernel, ptrace, in_child):
    """Number -1 at the entry stop: the tracee's write never happens (its pipe stays
    empty) and it gets what the tracer put in the result register."""
    r, w = os.pipe()

    def body() -> int:
        return 0 if kernel.write(w, b"x", 1).value == 7 else 1

    def run() -> tuple[int, bool]:
        with ptrace.traceme(body) as pid:
            regs = ptrace.to_syscall(pid, kernel.platform.syscalls["write"])
            ptrace.set_reg(regs, "nr", ptrace.reg_value(-1))
            ptrace.set_reg(regs, "ret", 7)
            ptrace.set_regs(pid, regs)
            ptrace("PTRACE_CONT", pid, 0, 0).unwrap()
            status = ptrace.wait(pid)
            written = bool(select.select([r], [], [], 0)[0])
            return (os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1), written

    try:
        assert in_child(run) == (0, False)
    finally:
        os.close(r)
        os.close(w)


@pytest.mark.requires("ptrace_regsets")
def test_getregset_prstatus_fills_user_regs_and_sets_its_length(
    kernel: Kernel, ptrace, in_child
) -> None:
    def run() -> tuple[int, int, int]:
        with ptrace.traceme() as pid:
            size = kernel.ffi.sizeof("struct user_regs_struct")
            regs = kernel.new("struct user_regs_struct *")
            iov = kernel.new("struct iovec *", (regs, size + 64))  # more room than needed
            ptrace("PTRACE_GETREGSET", pid, kernel.NT_PRSTATUS, iov).unwrap()
            pc = ptrace.reg(regs, "pc") - ptrace.reg(ptrace.regs(pid), "pc")
            return iov.iov_len - size, pc, ptrace.reg(regs, "sp")

    dlen, drip, rsp = in_child(run)
    assert dlen == 0
    assert drip == 0
    assert rsp != 0


@pytest.mark.requires("ptrace_regsets")
def test_getregset_with_short_buffer_copies_only_that_much(
    kernel: Kernel, ptrace, in_child
) -> None:
    def run() -> tuple[int, int, int]:
        with ptrace.traceme() as pid:
            regs = kernel.new("struct user_regs_struct *")
            ptrace.set_reg(regs, "second", 0xDEAD)
            word = kernel.ffi.sizeof("long")
            iov = kernel.new("struct iovec *", (regs, word))  # the first register only
            ptrace("PTRACE_GETREGSET", pid, kernel.NT_PRSTATUS, iov).unwrap()
            first = ptrace.reg(regs, "first") - ptrace.reg(ptrace.regs(pid), "first")
            return iov.iov_len - word, ptrace.reg(regs, "second"), first

    assert in_child(run) == (0, 0xDEAD, 0)


@pytest.mark.requires("ptrace_regsets")
def test_getregset_unknown_note_type_is_einval(kernel: Kernel, ptrace, in_child) -> None:
    def run() -> str:
        with ptrace.traceme() as pid:
            buf = kernel.buf(512)
            iov = kernel.new("struct iovec *", (buf, 512))
            return ptrace("PTRACE_GETREGSET", pid, 0x7777, iov).outcome

    assert in_child(run) == "EINVAL"


@pytest.mark.requires("ptrace_regsets")
@pytest.mark.min_kernel("5.3")
def test_get_syscall_info_reports_entry_and_exit(kernel: Kernel, ptrace, in_child) -> None:
    def run() -> tuple[int, int, int, int, int]:
        with ptrace.traceme(lambda: _getpid_then_report(kernel)) as pid:
            ptrace("PTRACE_SETOPTIONS", pid, 0, kernel.PTRACE_O_TRACESYSGOOD).unwrap()
            ptrace.to_syscall(pid, kernel.platform.syscalls["getpid"])
            size = kernel.ffi.sizeof("struct ptrace_syscall_info")
            info = kernel.new("struct ptrace_syscall_info *")
            ptrace("PTRACE_GET_SYSCALL_INFO", pid, size, info).unwrap()
            entry = (info.op, info.entry.nr)
            ptrace("PTRACE_SYSCALL", pid, 0, 0).unwrap()
            ptrace.wait_stop(pid)
            ptrace("PTRACE_GET_SYSCALL_INFO", pid, size, info).unwrap()
            return (*entry, info.op, info.exit.rval - pid, info.exit.is_error)

    op_in, nr, op_out, drval, is_error = in_child(run)
    assert (op_in, nr) == (kernel.PTRACE_SYSCALL_INFO_ENTRY, kernel.platform.syscalls["getpid"])
    assert (op_out, drval, is_error) == (kernel.PTRACE_SYSCALL_INFO_EXIT, 0, 0)
