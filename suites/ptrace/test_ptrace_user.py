"""PTRACE_PEEKUSER and PTRACE_POKEUSER: the tracee's "user area", struct user, one word
at a time: the registers at the start, the debug registers at u_debugreg.

x86 only (arch/x86/kernel/ptrace.c; i386 tasks on a 64-bit kernel get the compat
struct user32, laid out as i386's struct user): arm64 has no user area, its
arch_ptrace leaves both requests to ptrace_request, which answers EIO (use
PTRACE_GETREGSET there). On x86 an offset that is not word-aligned or past the area is
EIO; a word of the area that is neither a register nor a debug register reads 0.
Writes go through the same checks as PTRACE_SETREGS: eflags keeps what a user may not
change (IF, IOPL), a null cs is EIO, an fs_base above user space is EIO.

Debug registers: DR0-3 hold addresses (a kernel address is refused, EINVAL), DR7
enables them; DR7 patterns the CPU or the kernel cannot honour (I/O breakpoints, an
execute breakpoint longer than one byte, a length the address is not aligned to) are
EINVAL; there is no DR4 or DR5 (EIO). A write watchpoint stops the tracee with SIGTRAP
(si_code TRAP_HWBKPT) and DR6 says which one fired.
"""

import signal

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

PEEKUSER_OUTCOME = {"x86_64": "ok", "i386": "ok", "aarch64": "EIO"}
X86 = ("x86_64", "i386")
# DR7: L0 (enable DR0) | RW0 (bits 16-17) | LEN0 (bits 18-19).
L0, RW_WRITE, RW_IO, LEN_4 = 1, 0b01 << 16, 0b10 << 16, 0b11 << 18
WATCH_4 = L0 | RW_WRITE | LEN_4
EFLAGS_IF, EFLAGS_IOPL = 0x200, 0x3000


@pytest.fixture
def x86(kernel: Kernel) -> None:
    if kernel.platform.arch not in X86:
        pytest.skip("the user area and its debug registers are x86's (arm64: GETREGSET)")


def _word(kernel: Kernel) -> int:
    return kernel.ffi.sizeof("long")


def _peek(kernel: Kernel, ptrace, pid: int, offset: int):
    out = kernel.new("unsigned long *")
    r = ptrace("PTRACE_PEEKUSR", pid, offset, out)
    return r.outcome, int(out[0])


def _reg_offset(kernel: Kernel, ptrace, role: str) -> int:
    return kernel.ffi.offsetof("struct user_regs_struct", getattr(ptrace.names, role))


def _dr(kernel: Kernel, n: int) -> int:
    return kernel.ffi.offsetof("struct user", "u_debugreg") + n * _word(kernel)


def test_peekuser_reads_the_registers_getregs_reads(kernel: Kernel, ptrace, in_child) -> None:
    arch = kernel.platform.arch
    if arch not in PEEKUSER_OUTCOME:
        pytest.skip(f"what PEEKUSER answers on {arch} is not stated here (PEEKUSER_OUTCOME)")

    def run() -> list[tuple[str, int]]:
        with ptrace.traceme() as pid:
            regs = ptrace.regs(pid)
            got = []
            for role in ("pc", "sp"):
                outcome, value = _peek(kernel, ptrace, pid, _reg_offset(kernel, ptrace, role))
                got.append((outcome, value - ptrace.reg(regs, role) if outcome == "ok" else 0))
            return got

    expected = PEEKUSER_OUTCOME[arch]
    assert in_child(run) == [(expected, 0), (expected, 0)]


def test_pokeuser_sets_a_register_getregs_then_reads(kernel: Kernel, ptrace, in_child, x86) -> None:
    def run() -> int:
        with ptrace.traceme() as pid:
            offset = _reg_offset(kernel, ptrace, "second")
            ptrace("PTRACE_POKEUSR", pid, offset, 0x1234).unwrap()
            return ptrace.reg(ptrace.regs(pid), "second")

    assert in_child(run) == 0x1234


CHECKED = pytest.mark.requires("user_area_checks")


@pytest.mark.parametrize("where", ["unaligned", pytest.param("past_the_area", marks=CHECKED)])
def test_peekuser_outside_the_words_of_the_area_is_eio(
    kernel: Kernel, ptrace, in_child, x86, where: str
) -> None:
    offset = 1 if where == "unaligned" else 4096

    def run() -> str:
        with ptrace.traceme() as pid:
            return _peek(kernel, ptrace, pid, offset)[0]

    assert in_child(run) == "EIO"


def test_peekuser_of_a_word_that_is_no_register_reads_zero(
    kernel: Kernel, ptrace, in_child, x86
) -> None:
    def run() -> tuple[str, int]:
        with ptrace.traceme() as pid:
            return _peek(kernel, ptrace, pid, kernel.ffi.offsetof("struct user", "u_tsize"))

    assert in_child(run) == ("ok", 0)


def test_pokeuser_eflags_keeps_what_a_user_may_not_change(
    kernel: Kernel, ptrace, in_child, x86
) -> None:
    """Writing IOPL 3 with IF clear: the word reads back with IF set and IOPL 0."""

    def run() -> int:
        with ptrace.traceme() as pid:
            offset = kernel.ffi.offsetof("struct user_regs_struct", "eflags")
            ptrace("PTRACE_POKEUSR", pid, offset, EFLAGS_IOPL).unwrap()
            return _peek(kernel, ptrace, pid, offset)[1] & (EFLAGS_IF | EFLAGS_IOPL)

    assert in_child(run) == EFLAGS_IF


@CHECKED
@pytest.mark.parametrize(("field", "value"), [("cs", 0), ("fs_base", 0xFFFF_8000_0000_0000)])
def test_pokeuser_of_a_value_the_register_cannot_hold_is_eio(
    kernel: Kernel, ptrace, in_child, x86, field: str, value: int
) -> None:
    name = {"i386": {"cs": "xcs"}}.get(kernel.platform.arch, {}).get(field, field)
    if name not in dict(kernel.ffi.typeof("struct user_regs_struct").fields):
        pytest.skip(f"{kernel.platform.arch} has no {field} in its registers")

    def run() -> str:
        with ptrace.traceme() as pid:
            offset = kernel.ffi.offsetof("struct user_regs_struct", name)
            return ptrace("PTRACE_POKEUSR", pid, offset, value).outcome

    assert in_child(run) == "EIO"


@pytest.mark.requires("debug_registers")
def test_debug_register_address_and_control_read_back(
    kernel: Kernel, ptrace, in_child, x86
) -> None:
    def run() -> tuple[int, int, int]:
        cell = kernel.new("uint64_t *")
        addr = kernel.address(cell)
        with ptrace.traceme() as pid:
            ptrace("PTRACE_POKEUSR", pid, _dr(kernel, 0), addr).unwrap()
            ptrace("PTRACE_POKEUSR", pid, _dr(kernel, 7), WATCH_4).unwrap()
            ptrace("PTRACE_POKEUSR", pid, _dr(kernel, 6), 1).unwrap()
            back = [_peek(kernel, ptrace, pid, _dr(kernel, n))[1] for n in (0, 7, 6)]
            return back[0] - addr, back[1], back[2]

    assert in_child(run) == (0, WATCH_4, 1)


@pytest.mark.parametrize(
    ("dr7", "misalign"),
    [(0x20001, 0), (0xC0001, 0), (0xD0001, 1)],  # L0|RW_IO, L0|LEN_4 (execute), WATCH_4
    ids=["io_breakpoint", "long_execute_breakpoint", "unaligned_watchpoint"],
)
@pytest.mark.requires("debug_registers")
def test_debug_control_the_kernel_cannot_honour_is_einval(
    kernel: Kernel, ptrace, in_child, x86, dr7: int, misalign: int
) -> None:
    def run() -> tuple[str, int]:
        cell = kernel.new("uint64_t *")
        with ptrace.traceme() as pid:
            addr = kernel.address(cell) + misalign
            ptrace("PTRACE_POKEUSR", pid, _dr(kernel, 0), addr).unwrap()
            refused = ptrace("PTRACE_POKEUSR", pid, _dr(kernel, 7), dr7).outcome
            return refused, _peek(kernel, ptrace, pid, _dr(kernel, 7))[1]

    assert in_child(run) == ("EINVAL", 0)  # and DR7 stays as it was


@pytest.mark.parametrize("n", [4, 5])
def test_debug_registers_4_and_5_do_not_exist(
    kernel: Kernel, ptrace, in_child, x86, n: int
) -> None:
    def run() -> str:
        with ptrace.traceme() as pid:
            return ptrace("PTRACE_POKEUSR", pid, _dr(kernel, n), 0).outcome

    assert in_child(run) == "EIO"


@pytest.mark.requires("debug_registers")
def test_debug_address_above_user_space_is_einval(kernel: Kernel, ptrace, in_child, x86) -> None:
    if _word(kernel) != 8:
        pytest.skip("a 32-bit word cannot name an address above a 64-bit kernel's user space")

    def run() -> str:
        with ptrace.traceme() as pid:
            return ptrace("PTRACE_POKEUSR", pid, _dr(kernel, 0), 0xFFFF_8000_0000_0000).outcome

    assert in_child(run) == "EINVAL"


@pytest.mark.requires("debug_registers")
def test_write_watchpoint_stops_the_tracee_and_dr6_names_it(
    kernel: Kernel, ptrace, in_child, x86
) -> None:
    def run() -> tuple[int, int, int]:
        cell = kernel.new("uint64_t *")

        def body() -> int:
            cell[0] = 1  # the watched write
            return 0

        with ptrace.traceme(body) as pid:
            addr = kernel.address(cell)
            ptrace("PTRACE_POKEUSR", pid, _dr(kernel, 0), addr).unwrap()
            ptrace("PTRACE_POKEUSR", pid, _dr(kernel, 7), WATCH_4).unwrap()
            ptrace("PTRACE_CONT", pid, 0, 0).unwrap()
            sig = ptrace.wait_stop(pid)
            info = kernel.new("siginfo_t *")
            ptrace("PTRACE_GETSIGINFO", pid, 0, info).unwrap()
            return sig, info.si_code, _peek(kernel, ptrace, pid, _dr(kernel, 6))[1] & 0xF

    assert in_child(run) == (signal.SIGTRAP, kernel.TRAP_HWBKPT, 0b0001)
