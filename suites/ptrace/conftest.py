"""Helpers for the ptrace suite: traced children that are always killed and reaped.

`ptrace.traceme(body)` forks a child that calls PTRACE_TRACEME and stops itself with SIGSTOP,
waits for that stop and yields the pid; on the way out the child is SIGKILLed and
reaped whatever happened. Use it inside in_child. After the stop the child runs
body() (Python: it makes syscalls of its own, so syscall stops are searched for the
one a test wants rather than assumed to come first).

Yama: /proc/sys/kernel/yama/ptrace_scope 0 or 1 allows tracing one's own children
(TRACEME, or ATTACH to a descendant); 2 needs CAP_SYS_PTRACE for ATTACH/SEIZE; 3
forbids attaching altogether. Without Yama (this host) scope 0 rules apply.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from syscalls import forking
from syscalls.kernel import Kernel, Unsupported

SYSCALL_STOP_LIMIT = 500  # syscall stops to search before giving up
TRACEME_ENOSYS = 97  # exit status of a would-be tracee whose PTRACE_TRACEME was ENOSYS


@dataclass(frozen=True)
class RegNames:
    """Which struct user_regs_struct field holds what on one arch."""

    nr: str  # the syscall number at a syscall stop
    ret: str  # -ENOSYS at entry, the result at exit
    pc: str
    sp: str
    first: str  # the first two fields, in order (a short PTRACE_GETREGSET copies these)
    second: str
    # A register the kernel sets to 0 at syscall-entry stops and 1 at exit stops, where
    # the arch has one; without it an entry stop is told by -ENOSYS in `ret` (x86).
    direction: str | None = None


# arch/x86/include/asm/user_64.h and user_32.h (as glibc's <sys/user.h> names them);
# arch/arm64/include/uapi/asm/ptrace.h user_pt_regs: x8 the number, x0 the first
# argument and the result, and at syscall stops x7 = PTRACE_SYSCALL_ENTER (0) or EXIT (1)
# (arch/arm64/kernel/ptrace.c report_syscall; x0 then still holds the first argument).
REGS = {
    "x86_64": RegNames("orig_rax", "rax", "rip", "rsp", "r15", "r14"),
    "i386": RegNames("orig_eax", "eax", "eip", "esp", "ebx", "ecx"),
    "aarch64": RegNames("regs[8]", "regs[0]", "pc", "sp", "regs[0]", "regs[1]", "regs[7]"),
}


def yama_scope() -> int:
    try:
        return int(Path("/proc/sys/kernel/yama/ptrace_scope").read_text())
    except (OSError, ValueError):
        return 0


def attach_allowed() -> bool:
    scope = yama_scope()
    return scope <= 1 or (scope == 2 and os.geteuid() == 0)


class Tracer:
    """ptrace calls on one kernel, with the wait/regs plumbing tests share."""

    TRACEME_ENOSYS = TRACEME_ENOSYS

    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel

    def __call__(self, request: str, pid: int, addr: Any = 0, data: Any = 0):
        return self.k.ptrace(getattr(self.k, request), pid, addr, data)

    def wait(self, pid: int) -> int:
        status = self.k.new("int *")
        got = self.k.wait4(pid, status, self.k.platform["__WALL"], None).unwrap()
        assert got == pid, f"wait4 returned {got}"
        return status[0]

    def wait_stop(self, pid: int) -> int:
        """Wait for the next stop; the stop signal (or fail if the tracee ended)."""
        status = self.wait(pid)
        assert os.WIFSTOPPED(status), f"tracee did not stop: status {status:#x}"
        return os.WSTOPSIG(status)

    @property
    def names(self) -> RegNames:
        names = REGS.get(self.k.platform.arch)
        if names is None:
            pytest.skip(f"no register names for {self.k.platform.arch} in suites/ptrace (REGS)")
        return names

    def reg(self, regs: Any, role: str) -> int:
        """A register by its role (nr, ret, pc, sp, ...), as an unsigned word."""
        holder, key = _field(regs, getattr(self.names, role))
        return self.reg_value(holder[key] if isinstance(key, int) else getattr(holder, key))

    def reg_value(self, value: int) -> int:
        """A value as an unsigned register word of this arch."""
        return value & ((1 << 8 * self.k.ffi.sizeof("long")) - 1)

    def set_reg(self, regs: Any, role: str, value: int) -> None:
        """A register by its role, from a signed value or an unsigned word: i386's
        fields are signed longs, which take no word above LONG_MAX."""
        holder, key = _field(regs, getattr(self.names, role))
        try:
            _store(holder, key, value)
        except OverflowError:
            _store(holder, key, value - (1 << 8 * self.k.ffi.sizeof("long")))

    def regs(self, pid: int) -> Any:
        """The tracee's struct user_regs_struct: PTRACE_GETREGS, or where the arch has
        none (arm64) PTRACE_GETREGSET NT_PRSTATUS, which fills the same layout."""
        self.names  # noqa: B018 - skips where this arch's names are not known
        regs = self.k.new("struct user_regs_struct *")
        if self.k.platform.constants.get("PTRACE_GETREGS") is not None:
            self("PTRACE_GETREGS", pid, 0, regs).unwrap()
        else:
            self("PTRACE_GETREGSET", pid, self.k.NT_PRSTATUS, self._iov(regs)).unwrap()
        return regs

    def set_regs(self, pid: int, regs: Any) -> None:
        """PTRACE_SETREGS, or PTRACE_SETREGSET NT_PRSTATUS where the arch has no SETREGS."""
        if self.k.platform.constants.get("PTRACE_SETREGS") is not None:
            self("PTRACE_SETREGS", pid, 0, regs).unwrap()
        else:
            self("PTRACE_SETREGSET", pid, self.k.NT_PRSTATUS, self._iov(regs)).unwrap()

    def set_syscall(self, pid: int, regs: Any, nr: int) -> None:
        """The call a tracee stopped at syscall entry makes instead. x86 takes the number
        back from the registers (orig_rax); arm64 keeps its own copy, which only the
        NT_ARM_SYSTEM_CALL regset writes (arch/arm64/kernel/ptrace.c system_call_set)."""
        if self.k.platform.arch != "aarch64":
            self.set_reg(regs, "nr", nr)
            self.set_regs(pid, regs)
            return
        number = self.k.new("int *", nr)
        iov = self.k.new("struct iovec *", (number, self.k.ffi.sizeof("int")))
        self("PTRACE_SETREGSET", pid, self.k.NT_ARM_SYSTEM_CALL, iov).unwrap()

    def _iov(self, regs: Any) -> Any:
        return self.k.new("struct iovec *", (regs, self.k.ffi.sizeof("struct user_regs_struct")))

    def entering(self, regs: Any) -> bool:
        """Whether these registers are from a syscall-entry stop (see RegNames)."""
        if self.names.direction is not None:
            return self.reg(regs, "direction") == 0
        return self.reg(regs, "ret") == self.reg_value(-self.k.ENOSYS)

    def to_syscall(self, pid: int, nr: int) -> Any:
        """PTRACE_SYSCALL until the entry stop of syscall `nr`; its registers."""
        entering = False
        for _ in range(SYSCALL_STOP_LIMIT):
            self("PTRACE_SYSCALL", pid, 0, 0).unwrap()
            self.wait_stop(pid)
            regs = self.regs(pid)
            # Entry and exit stops alternate: x86 enters with -ENOSYS in rax/eax, arm64
            # with x7 = 0.
            entering = self.entering(regs)
            if entering and self.reg(regs, "nr") == nr:
                return regs
        raise AssertionError(f"no entry into syscall {nr} within {SYSCALL_STOP_LIMIT} stops")

    def reap(self, pid: int) -> None:
        reap(self.k, pid)

    def request_tracing(self) -> bool:
        """In a would-be tracee: PTRACE_TRACEME; False where the kernel says ENOSYS (the
        child then exits with TRACEME_ENOSYS for skip_if_untraceable)."""
        try:
            self.k.ptrace(self.k.PTRACE_TRACEME, 0, 0, 0).unwrap()
        except Unsupported:
            return False
        return True

    def skip_if_untraceable(self, status: int) -> None:
        """The tracee's first wait status: a skip naming the errno if it had no ptrace
        (qemu-user, for one), as any ENOSYS is."""
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == TRACEME_ENOSYS:
            pytest.skip("ptrace: ENOSYS (PTRACE_TRACEME in the child)")

    @contextlib.contextmanager
    def running(self) -> Iterator[tuple[int, int]]:
        """An untraced child blocked reading a pipe: (pid, write end); a byte written
        makes it exit 0. Killed and reaped on the way out."""
        r, w = os.pipe()
        pid = forking.fork(self.k, lambda: os.close(w) or (os.read(r, 1) and 0))
        os.close(r)
        try:
            yield pid, w
        finally:
            os.close(w)
            self.reap(pid)

    @contextlib.contextmanager
    def traceme(self, body: Callable[[], int | None] | None = None) -> Iterator[int]:
        k = self.k

        def child() -> int | None:
            if not self.request_tracing():
                return TRACEME_ENOSYS
            os.kill(os.getpid(), signal.SIGSTOP)
            return body() if body else 0

        pid = forking.fork(k, child)
        try:
            status = self.wait(pid)
            self.skip_if_untraceable(status)
            assert os.WIFSTOPPED(status), f"tracee did not stop: status {status:#x}"
            assert os.WSTOPSIG(status) == signal.SIGSTOP
            yield pid
        finally:
            reap(k, pid)


def _field(regs: Any, name: str) -> tuple[Any, str | int]:
    """Where a register named "rax" or "regs[8]" lives: (struct or array, key)."""
    if name.endswith("]"):
        array, index = name[:-1].split("[")
        return getattr(regs, array), int(index)
    return regs, name


def _store(holder: Any, key: str | int, value: int) -> None:
    if isinstance(key, int):
        holder[key] = value
    else:
        setattr(holder, key, value)


def reap(kernel: Kernel, pid: int) -> None:
    """SIGKILL and reap a child, whatever state it is in (or already reaped).

    A tracee stopped at PTRACE_EVENT_EXIT is already exiting, so SIGKILL no longer
    reaches it: the tracer has to let it go on with PTRACE_CONT.
    """
    # os.* rather than kernel.*: the cleanup is not part of the test's observations.
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    for _ in range(1000):
        try:
            got, status = os.waitpid(pid, kernel.platform["__WALL"] | os.WNOHANG)
        except ChildProcessError:
            return
        if got == pid and not os.WIFSTOPPED(status):
            return
        with kernel.unobserved():  # its ESRCH or ok depends on when the tracee died
            kernel.ptrace(kernel.PTRACE_CONT, pid, 0, 0)
        time.sleep(0.001)
    raise AssertionError(f"tracee {pid} could not be reaped")


@pytest.fixture
def ptrace(kernel: Kernel) -> Tracer:
    return Tracer(kernel)
