"""futex(2) FUTEX_WAIT_REQUEUE_PI and FUTEX_CMP_REQUEUE_PI: a waiter on a plain futex
(a condition variable) is moved onto a PI futex (its mutex) and returns owning it.

kernel/futex/requeue.c: the pair must be used together (either one meeting a waiter of
another kind is EINVAL, and so is a plain FUTEX_WAKE meeting a WAIT_REQUEUE_PI
waiter), on two distinct futexes, with nr_wake exactly 1. If the PI futex is free,
CMP_REQUEUE_PI takes it for the top waiter and wakes it; if it is held, the waiter is
queued on its rtmutex and gets it from FUTEX_UNLOCK_PI. The waiter's timeout is
absolute (CLOCK_MONOTONIC). The count returned is woken plus requeued.
"""

import os
import signal
import time

import pytest

from syscalls import procstate
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

ALL = 0x7FFFFFFF
LIMIT_NS = 5_000_000_000


def _deadline(kernel: Kernel, ns: int = LIMIT_NS):
    at = time.clock_gettime_ns(time.CLOCK_MONOTONIC) + ns
    return kernel.new("struct timespec *", divmod(at, 1_000_000_000))


def _wait_requeue_pi(kernel: Kernel, cond, mutex, val: int = 0, ns: int = LIMIT_NS):
    op = kernel.FUTEX_WAIT_REQUEUE_PI_PRIVATE
    return kernel.futex(cond, op, val, _deadline(kernel, ns), mutex, 0)


def _cmp_requeue_pi(kernel: Kernel, cond, mutex, nr_wake=1, nr_requeue=ALL, cmpval=0):
    op = kernel.FUTEX_CMP_REQUEUE_PI_PRIVATE
    return kernel.futex(cond, op, nr_wake, nr_requeue, mutex, cmpval)


def _pi(kernel: Kernel, word, op: str):
    return kernel.futex(word, getattr(kernel, op), 0, None, None, 0)


def _owner_waiter(kernel: Kernel, futex, cond, mutex):
    """A thread in WAIT_REQUEUE_PI that, once it returns, reports (outcome, whether the
    mutex word holds its tid) and unlocks what it got."""

    def wait() -> tuple[str, bool]:
        r = _wait_requeue_pi(kernel, cond, mutex)
        mine = mutex[0] & kernel.FUTEX_TID_MASK == kernel.gettid().unwrap()
        if r.ok:
            _pi(kernel, mutex, "FUTEX_UNLOCK_PI_PRIVATE")
        return r.outcome, mine

    waiter = futex.in_thread(wait)
    futex.until_waiting(waiter.tid, cond)
    return waiter


def test_cmp_requeue_pi_to_a_free_mutex_hands_it_to_the_waiter(
    kernel: Kernel, futex, in_child
) -> None:
    def run() -> tuple[int, tuple[str, bool]]:
        cond, mutex = futex.word(0), futex.word(0)
        waiter = _owner_waiter(kernel, futex, cond, mutex)
        woken = _cmp_requeue_pi(kernel, cond, mutex).unwrap()
        return woken, waiter.join()

    assert in_child(run) == (1, ("ok", True))


def test_cmp_requeue_pi_to_a_held_mutex_queues_the_waiter_until_unlock(
    kernel: Kernel, futex, in_child
) -> None:
    def run() -> tuple[int, bool, tuple[str, bool]]:
        cond, mutex = futex.word(0), futex.word(0)
        _pi(kernel, mutex, "FUTEX_LOCK_PI_PRIVATE").unwrap()
        waiter = _owner_waiter(kernel, futex, cond, mutex)
        moved = _cmp_requeue_pi(kernel, cond, mutex).unwrap()
        contended = bool(mutex[0] & kernel.FUTEX_WAITERS)
        _pi(kernel, mutex, "FUTEX_UNLOCK_PI_PRIVATE").unwrap()
        return moved, contended, waiter.join()

    assert in_child(run) == (1, True, ("ok", True))


def test_plain_wake_meeting_a_requeue_pi_waiter_is_einval(kernel: Kernel, futex, in_child) -> None:
    def run() -> tuple[str, tuple[str, bool]]:
        cond, mutex = futex.word(0), futex.word(0)
        waiter = _owner_waiter(kernel, futex, cond, mutex)
        refused = futex.wake(cond).outcome  # it stays queued
        _cmp_requeue_pi(kernel, cond, mutex).unwrap()
        return refused, waiter.join()

    assert in_child(run) == ("EINVAL", ("ok", True))


def test_wait_requeue_pi_times_out_at_its_absolute_deadline(
    kernel: Kernel, futex, in_child
) -> None:
    def run() -> str:
        return _wait_requeue_pi(kernel, futex.word(0), futex.word(0), ns=20_000_000).outcome

    assert in_child(run) == "ETIMEDOUT"


def test_wait_requeue_pi_with_a_changed_value_is_eagain(kernel: Kernel, futex) -> None:
    assert _wait_requeue_pi(kernel, futex.word(1), futex.word(0), val=0).errno == "EAGAIN"


def test_wait_requeue_pi_on_one_futex_twice_is_einval(kernel: Kernel, futex) -> None:
    word = futex.word(0)
    assert _wait_requeue_pi(kernel, word, word).errno == "EINVAL"


def test_cmp_requeue_pi_on_one_futex_twice_is_einval(kernel: Kernel, futex) -> None:
    word = futex.word(0)
    assert _cmp_requeue_pi(kernel, word, word).errno == "EINVAL"


@pytest.mark.parametrize("nr_wake", [0, 2])
def test_cmp_requeue_pi_waking_other_than_one_is_einval(
    kernel: Kernel, futex, nr_wake: int
) -> None:
    assert _cmp_requeue_pi(kernel, futex.word(0), futex.word(0), nr_wake).errno == "EINVAL"


def test_cmp_requeue_pi_with_a_changed_value_is_eagain(kernel: Kernel, futex) -> None:
    assert _cmp_requeue_pi(kernel, futex.word(3), futex.word(0), cmpval=0).errno == "EAGAIN"


def test_cmp_requeue_pi_meeting_a_plain_waiter_is_einval(kernel: Kernel, futex, in_child) -> None:
    def run() -> tuple[str, str]:
        cond, mutex = futex.word(0), futex.word(0)
        waiter = futex.in_thread(lambda: futex.wait(cond, 0).outcome)
        futex.until_waiting(waiter.tid, cond)
        refused = _cmp_requeue_pi(kernel, cond, mutex).outcome
        futex.wake(cond).unwrap()
        return refused, waiter.join()

    assert in_child(run) == ("EINVAL", "ok")


def test_plain_cmp_requeue_meeting_a_requeue_pi_waiter_is_einval(
    kernel: Kernel, futex, in_child
) -> None:
    def run() -> tuple[str, tuple[str, bool]]:
        cond, mutex, other = futex.word(0), futex.word(0), futex.word(0)
        waiter = _owner_waiter(kernel, futex, cond, mutex)
        op = kernel.FUTEX_CMP_REQUEUE_PRIVATE
        refused = kernel.futex(cond, op, 0, ALL, other, 0).outcome
        _cmp_requeue_pi(kernel, cond, mutex).unwrap()
        return refused, waiter.join()

    assert in_child(run) == ("EINVAL", ("ok", True))


def test_cmp_requeue_pi_to_another_mutex_than_the_waiter_named_is_einval(
    kernel: Kernel, futex, in_child
) -> None:
    def run() -> tuple[str, tuple[str, bool]]:
        cond, mutex, other = futex.word(0), futex.word(0), futex.word(0)
        waiter = _owner_waiter(kernel, futex, cond, mutex)
        refused = _cmp_requeue_pi(kernel, cond, other).outcome
        _cmp_requeue_pi(kernel, cond, mutex).unwrap()
        return refused, waiter.join()

    assert in_child(run) == ("EINVAL", ("ok", True))


def _signal_when_asleep(kernel: Kernel, futex, waiter, cond) -> None:
    """tgkill the waiter with SIGUSR1 (a handler without SA_RESTART is installed) and
    return once it has taken the signal."""
    kernel.tgkill(os.getpid(), waiter.tid, signal.SIGUSR1).unwrap()
    deadline = time.monotonic() + 5
    while signal.SIGUSR1 in procstate.pending(waiter.tid):
        assert time.monotonic() < deadline, "the signal was not taken"
        time.sleep(0.0005)


def test_wait_requeue_pi_signalled_before_the_requeue_is_restarted(
    kernel: Kernel, futex, in_child
) -> None:
    """-ERESTARTNOINTR: it waits on the condition again, even for a handler without
    SA_RESTART, and is then requeued as usual."""

    def run() -> tuple[str, bool]:
        signal.signal(signal.SIGUSR1, lambda *_: None)
        signal.siginterrupt(signal.SIGUSR1, True)
        cond, mutex = futex.word(0), futex.word(0)
        waiter = _owner_waiter(kernel, futex, cond, mutex)
        _signal_when_asleep(kernel, futex, waiter, cond)
        futex.until_waiting(waiter.tid, cond)
        _cmp_requeue_pi(kernel, cond, mutex).unwrap()
        return waiter.join()

    assert in_child(run) == ("ok", True)


def test_requeued_waiter_signalled_is_eagain(kernel: Kernel, futex, in_child) -> None:
    """Once requeued onto a held mutex it cannot restart the call (the condition moved
    on): a signal ends it with EWOULDBLOCK (EAGAIN), not EINTR."""

    def run() -> tuple[int, tuple[str, bool]]:
        signal.signal(signal.SIGUSR1, lambda *_: None)
        signal.siginterrupt(signal.SIGUSR1, True)
        cond, mutex = futex.word(0), futex.word(0)
        _pi(kernel, mutex, "FUTEX_LOCK_PI_PRIVATE").unwrap()
        waiter = _owner_waiter(kernel, futex, cond, mutex)
        moved = _cmp_requeue_pi(kernel, cond, mutex).unwrap()
        futex.until_waiting(waiter.tid, cond)
        _signal_when_asleep(kernel, futex, waiter, cond)
        outcome = waiter.join()
        _pi(kernel, mutex, "FUTEX_UNLOCK_PI_PRIVATE").unwrap()
        return moved, outcome

    assert in_child(run) == (1, ("EAGAIN", False))
