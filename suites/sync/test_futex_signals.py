"""futex(2) and futex_waitv(2) waiters hit by a signal: EINTR, or restarted (LTP
futex_wait07 checks the first case).

What each wait returns when a handled signal interrupts it (kernel/futex/waitwake.c,
pi.c, requeue.c; arch signal code turns the restart codes into EINTR or a restart):
- FUTEX_WAIT without a timeout: -ERESTARTSYS, so EINTR unless the handler has
  SA_RESTART, which restarts it (the waiter sleeps on);
- FUTEX_WAIT with a timeout, FUTEX_WAIT_BITSET: -ERESTART_RESTARTBLOCK, EINTR whenever
  a handler runs, SA_RESTART or not;
- FUTEX_LOCK_PI: -ERESTARTNOINTR, always restarted, never EINTR;
- futex_waitv: -ERESTARTSYS, as FUTEX_WAIT without a timeout.
A stop signal and SIGCONT run no handler: every one of them resumes waiting, the
timed FUTEX_WAIT through restart_syscall (its deadline kept in the restart block).

The waiter is a thread, signalled with tgkill once /proc shows it asleep in futex on its
word; a restarted waiter is woken only after the signal was taken and it sleeps again.
"""

import os
import signal
import time

import pytest

from syscalls import forking, procstate
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

USR1 = signal.SIGUSR1
LIMIT_NS = 5_000_000_000
WAITV = pytest.mark.min_kernel("5.16")


def _waitv(kernel: Kernel, futex, word):
    v = kernel.new("struct futex_waitv[1]")
    v[0].uaddr, v[0].val = futex.addr(word), 0
    v[0].flags = kernel.FUTEX_32 | kernel.FUTEX_PRIVATE_FLAG
    deadline = time.clock_gettime_ns(time.CLOCK_MONOTONIC) + LIMIT_NS
    ts = kernel.new("struct __kernel_timespec *", divmod(deadline, 1_000_000_000))
    return v, lambda: kernel.futex_waitv(v, 1, 0, ts, time.CLOCK_MONOTONIC)


def _waiter(kernel: Kernel, futex, kind: str, word):
    """(the blocking call, the syscall it sleeps in, its first argument, how to end it)."""
    k = kernel
    if kind == "wait":
        return lambda: k.futex(word, k.FUTEX_WAIT_PRIVATE, 0, None, None, 0), "futex", word
    if kind == "wait_timeout":
        return lambda: futex.wait(word, 0), "futex", word
    if kind == "wait_bitset":
        at = futex.timeout(time.clock_gettime_ns(time.CLOCK_MONOTONIC) + LIMIT_NS)
        op = k.FUTEX_WAIT_BITSET_PRIVATE
        return lambda: k.futex(word, op, 0, at, None, k.FUTEX_BITSET_MATCH_ANY), "futex", word
    if kind == "lock_pi":
        return lambda: k.futex(word, k.FUTEX_LOCK_PI_PRIVATE, 0, None, None, 0), "futex", word
    v, call = _waitv(kernel, futex, word)
    return call, "futex_waitv", v


@pytest.mark.parametrize(
    ("kind", "sa_restart", "expected"),
    [
        ("wait", False, "EINTR"),
        ("wait", True, "ok"),
        ("wait_timeout", True, "EINTR"),
        ("wait_bitset", True, "EINTR"),
        ("lock_pi", False, "ok"),
    ],
)
def test_futex_waiter_signalled_by_a_handled_signal(
    kernel: Kernel, futex, in_child, kind: str, sa_restart: bool, expected: str
) -> None:
    assert in_child(_signalled(kernel, futex, kind, sa_restart, expected)) == expected


@WAITV
@pytest.mark.parametrize(("sa_restart", "expected"), [(False, "EINTR"), (True, "ok")])
def test_futex_waitv_waiter_signalled_by_a_handled_signal(
    kernel: Kernel, futex, in_child, sa_restart: bool, expected: str
) -> None:
    assert in_child(_signalled(kernel, futex, "waitv", sa_restart, expected)) == expected


def _signalled(kernel: Kernel, futex, kind: str, sa_restart: bool, expected: str):
    """A child's body: a waiter of `kind` signalled once asleep; what its call answered."""

    def run() -> str:
        signal.signal(USR1, lambda *_: None)
        signal.siginterrupt(USR1, not sa_restart)
        word = futex.word(0)
        if kind == "lock_pi":  # held by this thread: the waiter blocks in LOCK_PI
            kernel.futex(word, kernel.FUTEX_LOCK_PI_PRIVATE, 0, None, None, 0).unwrap()
        call, name, arg0 = _waiter(kernel, futex, kind, word)
        waiter = futex.in_thread(lambda: call().outcome)
        futex.until_waiting(waiter.tid, arg0, (name,))
        kernel.tgkill(os.getpid(), waiter.tid, USR1).unwrap()
        if expected == "ok":  # restarted: asleep again once the signal has been taken
            deadline = time.monotonic() + 5
            while USR1 in procstate.pending(waiter.tid) or not procstate.blocked_in(
                kernel, waiter.tid, name, futex.addr(arg0)
            ):
                assert time.monotonic() < deadline, "the waiter did not sleep again"
                time.sleep(0.0005)
            if kind == "lock_pi":
                kernel.futex(word, kernel.FUTEX_UNLOCK_PI_PRIVATE, 0, None, None, 0).unwrap()
            else:
                futex.wake(word).unwrap()
        return waiter.join()

    return run


@pytest.mark.parametrize(("timed", "sleeps_in"), [(False, "futex"), (True, "restart_syscall")])
def test_futex_wait_stopped_and_continued_sleeps_on_until_woken(
    kernel: Kernel, futex, in_child, timed: bool, sleeps_in: str
) -> None:
    """SIGSTOP then SIGCONT: no handler runs, so the wait resumes; a timed wait resumes
    through restart_syscall (its registers, the word's address among them, kept)."""

    def run() -> tuple[bool, int, int]:
        word = futex.shared_page()
        word[0] = 0
        ns = futex.timeout(LIMIT_NS) if timed else None

        def waiter() -> int:
            r = kernel.futex(word, kernel.FUTEX_WAIT, 0, ns, None, 0)
            return 0 if r.ok else 1

        pid = forking.fork(kernel, waiter)
        futex.until_waiting(pid, word)
        kernel.kill(pid, signal.SIGSTOP).unwrap()
        stopped = os.WIFSTOPPED(forking.wait(kernel, pid, kernel.WUNTRACED))
        kernel.kill(pid, signal.SIGCONT).unwrap()
        futex.until_waiting(pid, word, (sleeps_in,))
        woken = futex.wake(word, 1, "FUTEX_WAKE").unwrap()
        return stopped, woken, forking.exit_code(kernel, pid)

    assert in_child(run) == (True, 1, 0)
