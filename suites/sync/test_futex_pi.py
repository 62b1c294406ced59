"""futex(2) priority-inheritance locks: FUTEX_LOCK_PI, FUTEX_TRYLOCK_PI, FUTEX_UNLOCK_PI.

The lock word holds the owner's tid (FUTEX_TID_MASK) plus FUTEX_WAITERS and
FUTEX_OWNER_DIED. Uncontended calls take and release the lock in the kernel all the
same. Each test runs in a child: a PI state left attached must not outlive it.
"""

import os
import time

import pytest

from syscalls import forking
from syscalls.kernel import Kernel
from syscalls.threads import Waiter

pytestmark = pytest.mark.os("linux")


def _pi(kernel: Kernel, word, op: str):
    return kernel.futex(word, getattr(kernel, op), 0, None, None, 0)


@pytest.mark.parametrize(
    "lock",
    [
        "FUTEX_LOCK_PI_PRIVATE",
        pytest.param("FUTEX_LOCK_PI2_PRIVATE", marks=pytest.mark.min_kernel("5.14")),
    ],
)
def test_futex_lock_pi_uncontended_stores_the_callers_tid(
    kernel: Kernel, futex, in_child, lock: str
) -> None:
    def run() -> tuple[int, int]:
        word = futex.word(0)
        _pi(kernel, word, lock).unwrap()
        held = word[0] - kernel.gettid().unwrap()
        _pi(kernel, word, "FUTEX_UNLOCK_PI_PRIVATE").unwrap()
        return held, word[0]

    assert in_child(run) == (0, 0)  # tid while held, 0 once released


def test_futex_trylock_pi_takes_a_free_lock(kernel: Kernel, futex, in_child) -> None:
    def run() -> int:
        word = futex.word(0)
        _pi(kernel, word, "FUTEX_TRYLOCK_PI_PRIVATE").unwrap()
        return (word[0] & kernel.FUTEX_TID_MASK) - kernel.gettid().unwrap()

    assert in_child(run) == 0


def test_futex_lock_pi_held_by_self_is_edeadlk(kernel: Kernel, futex, in_child) -> None:
    def run() -> str:
        word = futex.word(0)
        _pi(kernel, word, "FUTEX_LOCK_PI_PRIVATE").unwrap()
        return _pi(kernel, word, "FUTEX_LOCK_PI_PRIVATE").outcome

    assert in_child(run) == "EDEADLK"


def test_futex_unlock_pi_by_a_non_owner_is_eperm(kernel: Kernel, futex, in_child) -> None:
    def run() -> str:
        word = futex.word(kernel.getppid().unwrap())  # "owned" by another task
        return _pi(kernel, word, "FUTEX_UNLOCK_PI_PRIVATE").outcome

    assert in_child(run) == "EPERM"


def test_futex_trylock_pi_owned_by_a_missing_task_is_esrch(kernel: Kernel, futex, in_child) -> None:
    def run() -> str:
        gone = forking.fork(kernel)
        forking.wait(kernel, gone)  # its tid names nobody now
        word = futex.word(gone)
        return _pi(kernel, word, "FUTEX_TRYLOCK_PI_PRIVATE").outcome

    assert in_child(run) == "ESRCH"


def test_futex_lock_pi_waiter_gets_the_lock_on_unlock(kernel: Kernel, futex, in_child) -> None:
    """A second thread blocks in LOCK_PI (setting FUTEX_WAITERS); UNLOCK_PI hands the lock
    straight to it, so the word then holds the waiter's tid."""

    def run() -> tuple[bool, int]:
        word = futex.word(0)
        _pi(kernel, word, "FUTEX_LOCK_PI_PRIVATE").unwrap()
        tids: list[int] = []

        def waiter() -> str:
            tids.append(kernel.gettid().value)
            deadline = futex.timeout(time.time_ns() + 5_000_000_000)  # absolute, CLOCK_REALTIME
            r = kernel.futex(word, kernel.FUTEX_LOCK_PI_PRIVATE, 0, deadline, None, 0)
            owner = word[0] & kernel.FUTEX_TID_MASK
            _pi(kernel, word, "FUTEX_UNLOCK_PI_PRIVATE")
            return f"{r.outcome}:{owner == tids[0]}"

        waiting = futex.in_thread(waiter)
        while not word[0] & kernel.FUTEX_WAITERS:  # until the waiter has queued
            os.sched_yield()  # not the kernel binding: how often it ran is not an answer
        saw_waiters = True
        _pi(kernel, word, "FUTEX_UNLOCK_PI_PRIVATE").unwrap()
        return saw_waiters, waiting.join()

    saw_waiters, outcome = in_child(run)
    assert saw_waiters
    assert outcome == "ok:True"


@pytest.mark.min_kernel("5.14")
@pytest.mark.waits
def test_futex_lock_pi2_deadline_is_on_the_monotonic_clock(kernel: Kernel, futex, in_child):
    """FUTEX_LOCK_PI takes its absolute deadline on CLOCK_REALTIME; LOCK_PI2 on
    CLOCK_MONOTONIC, unless FUTEX_CLOCK_REALTIME says otherwise. A monotonic deadline
    200 ms ahead read as a realtime one would lie in 1970: no wait at all. The wait is
    counted from the deadline's reading, so that a slow start (a new thread under
    emulation) does not shorten it."""

    def run() -> tuple[str, float]:
        word = futex.word(0)
        _pi(kernel, word, "FUTEX_LOCK_PI_PRIVATE").unwrap()  # held by this thread

        def contend() -> tuple[str, float]:
            start = time.monotonic()  # the deadline's own clock (the vDSO's reading)
            ns = time.clock_gettime_ns(time.CLOCK_MONOTONIC) + 200_000_000
            deadline = kernel.new("struct timespec *", divmod(ns, 10**9))
            op = kernel.FUTEX_LOCK_PI2_PRIVATE
            r = kernel.futex(word, op, 0, deadline, None, 0)
            return r.outcome, time.monotonic() - start

        got = Waiter(contend).join()  # a skip (ENOSYS) or failure in it is raised here
        _pi(kernel, word, "FUTEX_UNLOCK_PI_PRIVATE").unwrap()
        return got

    outcome, waited = in_child(run)
    assert outcome == "ETIMEDOUT"
    assert waited >= 0.19
