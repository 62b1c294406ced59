"""Kinds of ptrace stop: group-stop (and PTRACE_LISTEN), breakpoints, interrupted
syscalls and their restart, PTRACE_SYSEMU, and PTRACE_KILL.

- Group-stop: a traced task that takes SIGSTOP stops for its tracer twice, first at
  the signal's delivery and then, if the tracer lets SIGSTOP through, in the group-stop
  itself. For a task that was not seized the second looks like the first (WSTOPSIG
  SIGSTOP) but PTRACE_GETSIGINFO says EINVAL there (no siginfo); for a seized task it
  is an event stop, status >> 16 == PTRACE_EVENT_STOP, and PTRACE_LISTEN leaves it
  stopped until SIGCONT, which re-traps it with PTRACE_EVENT_STOP and SIGTRAP
  (kernel/ptrace.c, kernel/signal.c do_jobctl_trap). LISTEN anywhere else is EIO.
- A breakpoint instruction stops the tracee with SIGTRAP; where the pc then is, and the
  siginfo code, are the arch's (BREAKPOINT below).
- A syscall interrupted by a signal shows the kernel's restart code in the return
  register at the syscall-exit stop (include/linux/errno.h: ERESTARTSYS 512,
  ERESTARTNOHAND 514, ERESTART_RESTARTBLOCK 516); if the tracer suppresses the signal
  the call is made again, the next stop is its entry (through restart_syscall for
  ERESTART_RESTARTBLOCK). epoll_wait is never restarted: -EINTR.
- PTRACE_SYSEMU (x86 only) stops at the next syscall entry and the syscall is not
  made: the tracee gets what the tracer leaves in the return register, -ENOSYS unless
  changed.
- PTRACE_KILL sends SIGKILL, to a stopped or a running tracee (ptrace_check_attach
  waives the stop for it).
"""

import contextlib
import mmap
import os
import signal
import time

import pytest

from syscalls import procstate
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

WNOHANG_WALL = 0x40000000 | 1  # __WALL | WNOHANG

# arch -> (breakpoint then return, pc at the stop minus the code's address, si_code)
BREAKPOINT = {
    "x86_64": (b"\xcc\xc3", 1, "SI_KERNEL"),  # int3; ret: the pc is past the int3
    "i386": (b"\xcc\xc3", 1, "SI_KERNEL"),
    "aarch64": (bytes.fromhex("000020d4c0035fd6"), 0, "TRAP_BRKPT"),  # brk #0; ret
}


def _signed(kernel: Kernel, value: int) -> int:
    bits = 8 * kernel.ffi.sizeof("long")
    return value - (1 << bits) if value >> (bits - 1) else value


def test_group_stop_of_a_traced_task_is_a_stop_without_siginfo(
    kernel: Kernel, ptrace, in_child
) -> None:
    def run() -> tuple[str, int, str, int]:
        with ptrace.traceme(lambda: 5) as pid:  # stopped at SIGSTOP's delivery
            info = kernel.new("siginfo_t *")
            at_delivery = ptrace("PTRACE_GETSIGINFO", pid, 0, info).outcome
            ptrace("PTRACE_CONT", pid, 0, signal.SIGSTOP).unwrap()  # let it stop the group
            sig = ptrace.wait_stop(pid)
            in_group_stop = ptrace("PTRACE_GETSIGINFO", pid, 0, info).outcome
            ptrace("PTRACE_CONT", pid, 0, 0).unwrap()  # the tracer resumes it
            status = ptrace.wait(pid)
            return at_delivery, sig, in_group_stop, os.WEXITSTATUS(status)

    assert in_child(run) == ("ok", signal.SIGSTOP, "EINVAL", 5)


def _seized_in_group_stop(kernel: Kernel, ptrace, pid: int) -> tuple[int, int, str]:
    """SEIZE, SIGSTOP, and through the delivery stop into the group-stop. (signal and
    event of that stop, what LISTEN answered at the delivery stop)."""
    ptrace("PTRACE_SEIZE", pid, 0, 0).unwrap()
    kernel.kill(pid, signal.SIGSTOP).unwrap()
    assert ptrace.wait_stop(pid) == signal.SIGSTOP
    listen_at_delivery = ptrace("PTRACE_LISTEN", pid, 0, 0).outcome
    ptrace("PTRACE_CONT", pid, 0, signal.SIGSTOP).unwrap()
    status = ptrace.wait(pid)
    return os.WSTOPSIG(status), status >> 16, listen_at_delivery


def test_group_stop_of_a_seized_task_is_an_event_stop(kernel: Kernel, ptrace, in_child) -> None:
    def run() -> tuple[int, int, str]:
        with ptrace.running() as (pid, _):
            return _seized_in_group_stop(kernel, ptrace, pid)

    sig, event, listen_at_delivery = in_child(run)
    assert (sig, event) == (signal.SIGSTOP, kernel.PTRACE_EVENT_STOP)
    assert listen_at_delivery == "EIO"


def test_listen_keeps_the_task_stopped_until_sigcont_retraps_it(
    kernel: Kernel, ptrace, in_child
) -> None:
    def run() -> tuple[int, int, int]:
        with ptrace.running() as (pid, _):
            _seized_in_group_stop(kernel, ptrace, pid)
            ptrace("PTRACE_LISTEN", pid, 0, 0).unwrap()
            status = kernel.new("int *")
            quiet = kernel.wait4(pid, status, WNOHANG_WALL, None).unwrap()
            kernel.kill(pid, signal.SIGCONT).unwrap()
            retrap = ptrace.wait(pid)
            return quiet, os.WSTOPSIG(retrap), retrap >> 16

    assert in_child(run) == (0, signal.SIGTRAP, kernel.PTRACE_EVENT_STOP)


def test_listen_on_a_task_that_was_not_seized_is_eio(kernel: Kernel, ptrace, in_child) -> None:
    def run() -> str:
        with ptrace.traceme() as pid:
            ptrace("PTRACE_CONT", pid, 0, signal.SIGSTOP).unwrap()
            ptrace.wait_stop(pid)  # in group-stop, but attached by TRACEME
            return ptrace("PTRACE_LISTEN", pid, 0, 0).outcome

    assert in_child(run) == "EIO"


@contextlib.contextmanager
def _code(kernel: Kernel, code: bytes):
    """`code` in an executable page: a cffi function pointer to it."""
    k = kernel
    addr = k.mmap(
        0, mmap.PAGESIZE, k.PROT_READ | k.PROT_WRITE, k.MAP_PRIVATE | k.MAP_ANONYMOUS, -1, 0
    ).unwrap()
    try:
        k.ffi.memmove(k.ffi.cast("char *", addr), code, len(code))
        k.mprotect(addr, mmap.PAGESIZE, k.PROT_READ | k.PROT_EXEC).unwrap()
        yield addr, k.ffi.cast("void (*)(void)", addr)
    finally:
        k.munmap(addr, mmap.PAGESIZE)


def test_breakpoint_instruction_stops_the_tracee_with_sigtrap(
    kernel: Kernel, ptrace, in_child
) -> None:
    arch = kernel.platform.arch
    if arch not in BREAKPOINT:
        pytest.skip(f"no breakpoint instruction spelt for {arch} (BREAKPOINT)")
    code, pc_offset, si_code = BREAKPOINT[arch]

    def run() -> tuple[int, int, int, int]:
        with _code(kernel, code) as (addr, fn), ptrace.traceme(lambda: fn() or 0) as pid:
            ptrace("PTRACE_CONT", pid, 0, 0).unwrap()
            sig = ptrace.wait_stop(pid)
            regs = ptrace.regs(pid)
            at = ptrace.reg(regs, "pc") - ptrace.reg_value(addr)
            info = kernel.new("siginfo_t *")
            ptrace("PTRACE_GETSIGINFO", pid, 0, info).unwrap()
            if at == 0:  # the pc is on the breakpoint: step over it to go on
                ptrace.set_reg(regs, "pc", ptrace.reg_value(addr) + len(code) // 2)
                ptrace.set_regs(pid, regs)
            ptrace("PTRACE_CONT", pid, 0, 0).unwrap()  # the SIGTRAP is not delivered
            status = ptrace.wait(pid)
            return sig, at, info.si_code, os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1

    assert in_child(run) == (signal.SIGTRAP, pc_offset, getattr(kernel, si_code), 0)


def _nr(kernel: Kernel, name: str) -> int:
    (nr,) = procstate.numbers(kernel, name)
    return nr


def _blocking_call(kernel: Kernel, name: str):
    """A call of `name` that blocks until signalled."""
    k = kernel
    if name == "read":
        r, _ = os.pipe()
        return lambda: k.read(r, k.buf(1), 1)
    if name == "clock_nanosleep":
        ts = k.new("struct timespec *", (60, 0))
        return lambda: k.clock_nanosleep(time.CLOCK_MONOTONIC, 0, ts, None)
    if name == "futex":
        word = k.new("uint32_t *", 0)
        return lambda: k.futex(word, k.FUTEX_WAIT_PRIVATE, 0, None, None, 0)
    if name == "rt_sigsuspend":
        empty = k.new("uint64_t *", 0)
        return lambda: k.rt_sigsuspend(empty, 8)
    ep = k.epoll_create1(0).unwrap()
    r, _ = os.pipe()
    ev = k.new("struct epoll_event *")
    ev.events = k.EPOLLIN
    k.epoll_ctl(ep, k.EPOLL_CTL_ADD, r, ev).unwrap()
    events = k.new("struct epoll_event[1]")
    return lambda: k.epoll_pwait(ep, events, 1, -1, None, 8)


# (the blocked call, the return register at its exit stop, the call the restart makes)
RESTARTS = [
    ("read", "ERESTARTSYS", "read"),
    ("futex", "ERESTARTSYS", "futex"),
    ("rt_sigsuspend", "ERESTARTNOHAND", "rt_sigsuspend"),
    ("clock_nanosleep", "ERESTART_RESTARTBLOCK", "restart_syscall"),
    ("epoll_pwait", "EINTR", None),
]


@pytest.mark.parametrize(("name", "code", "again"), RESTARTS)
def test_interrupted_syscall_shows_its_restart_code_and_is_made_again(
    kernel: Kernel, ptrace, in_child, name: str, code: str, again
) -> None:
    def run() -> tuple[int, int, bool, int]:
        call = _blocking_call(kernel, name)
        with ptrace.traceme(lambda: call() and 0) as pid:
            ptrace.to_syscall(pid, _nr(kernel, name))
            ptrace("PTRACE_SYSCALL", pid, 0, 0).unwrap()
            procstate.wait_blocked(kernel, pid, name)
            kernel.kill(pid, signal.SIGUSR1).unwrap()
            ptrace.wait_stop(pid)  # the exit stop
            ret = _signed(kernel, ptrace.reg(ptrace.regs(pid), "ret"))
            ptrace("PTRACE_SYSCALL", pid, 0, 0).unwrap()
            delivered = ptrace.wait_stop(pid)
            ptrace("PTRACE_SYSCALL", pid, 0, 0).unwrap()  # the signal suppressed
            ptrace.wait_stop(pid)
            regs = ptrace.regs(pid)
            return ret, delivered, ptrace.entering(regs), ptrace.reg(regs, "nr")

    ret, delivered, entering, nr = in_child(run)
    assert ret == -getattr(kernel, code)
    assert delivered == signal.SIGUSR1
    if again is not None:
        assert entering
        assert nr == _nr(kernel, again)


def _sysemu_body(kernel: Kernel, nr: int):
    """Tracee: getpid() as a marker, then a raw exit_group(126); exits with what that
    returned (100 + errno if -1), so 126 means the syscall was made after all."""

    def body() -> int:
        kernel.getpid()
        ret = int(kernel.libc.syscall(kernel.ffi.cast("long", nr), kernel.ffi.cast("long", 126)))
        return 100 + kernel.ffi.errno if ret == -1 else ret

    return body


@pytest.mark.requires("ptrace_sysemu")
@pytest.mark.parametrize(("inject", "code"), [(42, 42), (None, "100+ENOSYS")])
def test_sysemu_stops_at_the_syscall_and_skips_it(
    kernel: Kernel, ptrace, in_child, inject, code
) -> None:
    if kernel.platform.arch not in ("x86_64", "i386"):
        pytest.skip("PTRACE_SYSEMU is x86 only (arch/x86/include/uapi/asm/ptrace-abi.h)")
    exit_group = _nr(kernel, "exit_group")

    def run() -> tuple[int, bool, int]:
        with ptrace.traceme(_sysemu_body(kernel, exit_group)) as pid:
            ptrace.to_syscall(pid, _nr(kernel, "getpid"))
            ptrace("PTRACE_SYSCALL", pid, 0, 0).unwrap()
            ptrace.wait_stop(pid)  # getpid's exit
            ptrace("PTRACE_SYSEMU", pid, 0, 0).unwrap()
            ptrace.wait_stop(pid)
            regs = ptrace.regs(pid)
            nr, entering = ptrace.reg(regs, "nr"), ptrace.entering(regs)
            if inject is not None:
                ptrace.set_reg(regs, "ret", inject)
                ptrace.set_regs(pid, regs)
            ptrace("PTRACE_CONT", pid, 0, 0).unwrap()
            status = ptrace.wait(pid)
            return nr, entering, os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1

    expected = code if isinstance(code, int) else 100 + kernel.ENOSYS
    assert in_child(run) == (exit_group, True, expected)


def test_ptrace_kill_kills_a_stopped_tracee(kernel: Kernel, ptrace, in_child) -> None:
    def run() -> int:
        with ptrace.traceme() as pid:
            ptrace("PTRACE_KILL", pid, 0, 0).unwrap()
            status = ptrace.wait(pid)
            return os.WTERMSIG(status) if os.WIFSIGNALED(status) else -1

    assert in_child(run) == signal.SIGKILL


def test_ptrace_kill_kills_a_running_seized_tracee(kernel: Kernel, ptrace, in_child) -> None:
    def run() -> int:
        with ptrace.running() as (pid, _):
            ptrace("PTRACE_SEIZE", pid, 0, 0).unwrap()
            ptrace("PTRACE_KILL", pid, 0, 0).unwrap()
            status = ptrace.wait(pid)
            return os.WTERMSIG(status) if os.WIFSIGNALED(status) else -1

    assert in_child(run) == signal.SIGKILL


def test_ptrace_kill_of_an_untraced_child_is_esrch(kernel: Kernel, ptrace, in_child) -> None:
    def run() -> str:
        with ptrace.running() as (pid, _):
            return ptrace("PTRACE_KILL", pid, 0, 0).outcome

    assert in_child(run) == "ESRCH"
