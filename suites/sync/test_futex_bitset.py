"""futex(2) FUTEX_WAIT_BITSET and FUTEX_WAKE_BITSET: wake-ups filtered by a mask, and
absolute timeouts on CLOCK_MONOTONIC (or CLOCK_REALTIME with FUTEX_CLOCK_REALTIME)."""

import time

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

WAIT_LIMIT_NS = 5_000_000_000


def _abs_ns(clock: int, delta_ns: int) -> int:
    return time.clock_gettime_ns(clock) + delta_ns


def test_futex_wake_bitset_skips_waiters_with_other_bits(kernel: Kernel, futex, in_child) -> None:
    def run() -> tuple[int, int, int, str]:
        word, queue = futex.word(0), futex.word(0)
        deadline = futex.timeout(_abs_ns(time.CLOCK_MONOTONIC, WAIT_LIMIT_NS))  # absolute
        op = kernel.FUTEX_WAIT_BITSET_PRIVATE
        waiter = futex.in_thread(lambda: kernel.futex(word, op, 0, deadline, None, 0b01).outcome)
        # A wake finds nobody while the waiter is not queued yet: first make sure it is.
        # CMP_REQUEUE (waking none) moves it, mask and all, to `queue` and counts it.
        moved, limit = 0, time.monotonic() + WAIT_LIMIT_NS / 1e9
        while not moved and time.monotonic() < limit:
            moved = kernel.futex(word, kernel.FUTEX_CMP_REQUEUE_PRIVATE, 0, 1, queue, 0).unwrap()
        other_bits = futex.wake(queue, 1, "FUTEX_WAKE_BITSET_PRIVATE", 0b10).unwrap()
        woken = futex.wake_until(queue, op="FUTEX_WAKE_BITSET_PRIVATE", bitset=0b01)
        return moved, other_bits, woken, waiter.join()

    # a mask sharing no bit with the waiter's never wakes it; one sharing a bit does
    assert in_child(run) == (1, 0, 1, "ok")


def test_futex_wait_bitset_zero_mask_is_einval(kernel: Kernel, futex) -> None:
    assert futex.wait(futex.word(0), 0, "FUTEX_WAIT_BITSET_PRIVATE", 0, 0).errno == "EINVAL"


@pytest.mark.parametrize(
    ("clock", "flag"),
    [(time.CLOCK_MONOTONIC, 0), (time.CLOCK_REALTIME, "FUTEX_CLOCK_REALTIME")],
)
def test_futex_wait_bitset_absolute_deadline_times_out(
    kernel: Kernel, futex, in_child, clock: int, flag
) -> None:
    def run() -> tuple[str, bool]:
        word = futex.word(0)
        op = kernel.FUTEX_WAIT_BITSET_PRIVATE | (getattr(kernel, flag) if flag else 0)
        deadline = _abs_ns(clock, 20_000_000)
        r = kernel.futex(word, op, 0, futex.timeout(deadline), None, kernel.FUTEX_BITSET_MATCH_ANY)
        return r.outcome, time.clock_gettime_ns(clock) >= deadline

    assert in_child(run) == ("ETIMEDOUT", True)


def test_futex_wait_bitset_deadline_in_the_past_returns_at_once(kernel: Kernel, futex) -> None:
    past = futex.timeout(_abs_ns(time.CLOCK_MONOTONIC, -1_000_000_000))
    word = futex.word(0)
    r = kernel.futex(word, kernel.FUTEX_WAIT_BITSET_PRIVATE, 0, past, None, 1)
    assert r.errno == "ETIMEDOUT"


def test_futex_wake_bitset_zero_mask_is_einval(kernel: Kernel, futex) -> None:
    assert futex.wake(futex.word(0), 1, "FUTEX_WAKE_BITSET_PRIVATE", 0).errno == "EINVAL"


def test_futex_plain_wake_reaches_a_bitset_waiter(kernel: Kernel, futex, in_child) -> None:
    """FUTEX_WAKE matches every bit (FUTEX_BITSET_MATCH_ANY), whatever the waiter's set."""

    def run() -> tuple[int, str]:
        word = futex.word(0)
        deadline = _abs_ns(time.CLOCK_MONOTONIC, 5_000_000_000)  # BITSET's is absolute
        waiter = futex.in_thread(
            lambda: futex.wait(word, 0, "FUTEX_WAIT_BITSET_PRIVATE", deadline, 0x4).outcome
        )
        futex.until_waiting(waiter.tid, word)
        return futex.wake(word, 1).unwrap(), waiter.join()

    assert in_child(run) == (1, "ok")
