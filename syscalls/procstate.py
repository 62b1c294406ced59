"""Where another thread is, as /proc tells: blocked inside a given syscall, and which
signals are pending for it.

Tests that wake, signal or requeue a waiter must know it waits already; sleeping "long
enough" is both slow and wrong under load. /proc/TID/syscall names the syscall a thread
is in, with its arguments, only while the thread is off the CPU inside it (the kernel's
wait_task_inactive): a thread that is running, or woken and not yet run, reads
"running". So "blocked in futex on this word" is exact, where a thread's 'S' state is
not (a Python thread waiting for the GIL sleeps in futex too, on another word).

Reading the file needs ptrace access to the thread (PTRACE_MODE_ATTACH): one's own
threads, children and tracees qualify, also under Yama scope 1. A thread reading its
own file sees the read it is making, so ask only about other threads. Where the file
is missing (a kernel without CONFIG_HAVE_ARCH_TRACEHOOK, a sandbox), the thread's state
letter 'S' stands in, which cannot tell which call it sleeps in.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import NoReturn

from syscalls import threads
from syscalls.child import TIME_SCALE
from syscalls.kernel import Kernel

PROC = Path("/proc")
WAIT_S = 5.0  # how long wait_blocked waits, stretched by SYSCALLS_TIME_SCALE
SETTLE = 0.02  # seconds a thread seen only as sleeping ('S') must stay so (wait_blocked)


def numbers(kernel: Kernel, names: str | Iterable[str]) -> set[int]:
    """The syscall numbers of these names in the kernel's table (absent names dropped)."""
    p = kernel.platform
    wanted = [names] if isinstance(names, str) else list(names)
    return {p.syscalls[p.resolve(n)] for n in wanted if p.resolve(n) in p.syscalls}


def blocked_in(
    kernel: Kernel, tid: int, names: str | Iterable[str], arg0: int | None = None
) -> bool:
    """Whether thread `tid` sleeps inside one of these syscalls (with this first argument)."""
    try:
        text = (PROC / str(tid) / "syscall").read_text()
    except FileNotFoundError:
        return _sleeping(tid)
    except ProcessLookupError:  # it ended between open and read
        return False
    fields = text.split()
    if len(fields) < 2 or fields[0] in ("running", "-1"):
        return False
    if int(fields[0]) not in numbers(kernel, names):
        return False
    return arg0 is None or int(fields[1], 16) == arg0 % (1 << 8 * kernel.ffi.sizeof("long"))


def _sleeping(tid: int) -> bool:
    try:
        stat = (PROC / str(tid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):  # gone, or ending as it is read
        return False
    return stat.rsplit(")", 1)[1].split()[0] == "S"  # the state follows "(comm)"


def wait_blocked(
    kernel: Kernel,
    tid: int,
    names: str | Iterable[str],
    arg0: int | None = None,
    timeout: float = WAIT_S,
) -> None:
    """Return once thread `tid` sleeps in one of these syscalls; fail after `timeout`.
    Where only the state letter can be read, the thread must stay asleep for SETTLE:
    a Python thread waiting for the GIL on its way into the call sleeps too, briefly."""
    deadline = time.monotonic() + timeout * TIME_SCALE
    exact = (PROC / str(tid) / "syscall").exists()
    asleep_since: float | None = None
    while True:
        now = time.monotonic()
        if not blocked_in(kernel, tid, names, arg0):
            asleep_since = None
            if _ended(tid):
                _ended_before_blocking(tid, names)
        elif exact:
            return
        elif asleep_since is None:
            asleep_since = now
        elif now - asleep_since >= SETTLE * TIME_SCALE:
            return
        if now > deadline:
            raise AssertionError(
                f"thread {tid} did not block in {names} within {timeout * TIME_SCALE:.1f}s"
            )
        time.sleep(0.0005)


def _ended(tid: int) -> bool:
    """Whether thread or process `tid` is gone, or a zombie: it will never block."""
    try:
        stat = (PROC / str(tid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def _ended_before_blocking(tid: int, names: str | Iterable[str]) -> NoReturn:
    """Fail at once, not at the deadline: with what a Waiter's thread raised (a skip
    for an ENOSYS, the failed assertion) where `tid` was one, else with what it gave."""
    waiter = threads.by_tid(tid)
    said = ""
    if waiter is not None:
        said = f", returning {waiter.join()!r}"  # join() raises what the thread raised
    raise AssertionError(f"thread {tid} ended before it blocked in {names}{said}")


def pending(tid: int) -> set[int]:
    """The signals pending for thread `tid` itself (its SigPnd, not the process's); none
    once the thread is gone."""
    try:
        status = (PROC / str(tid) / "status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return set()
    for line in status.splitlines():
        if line.startswith("SigPnd:"):
            mask = int(line.split()[1], 16)
            return {s for s in range(1, 65) if mask >> (s - 1) & 1}
    raise AssertionError(f"/proc/{tid}/status has no SigPnd line")
