"""futex(2) FUTEX_REQUEUE and FUTEX_CMP_REQUEUE: moving waiters to another futex.

CMP_REQUEUE with nothing to wake moves waiters without waking them and answers how
many it moved, which also tells the test exactly how many threads are queued.
"""

import time

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

ALL = 0x7FFFFFFF
WAIT_LIMIT_NS = 5_000_000_000  # as long as a waiter waits (suites/sync/conftest.py)


def _requeue_all(kernel: Kernel, futex, src, dst, want: int) -> int:
    """CMP_REQUEUE src -> dst (wake none) until `want` waiters have moved, or as many as
    moved within the waiters' own limit (a kernel that does not count them stops there)."""
    moved = 0
    deadline = time.monotonic() + WAIT_LIMIT_NS / 1e9
    while moved < want and time.monotonic() < deadline:
        moved += kernel.futex(src, kernel.FUTEX_CMP_REQUEUE_PRIVATE, 0, ALL, dst, 0).unwrap()
    return moved


def test_futex_cmp_requeue_moves_waiters_without_waking(kernel: Kernel, futex, in_child) -> None:
    def run() -> tuple[int, int, int, list[str]]:
        a, b = futex.word(0), futex.word(0)
        threads = [futex.in_thread(lambda: futex.wait(a, 0).outcome) for _ in range(2)]
        moved = _requeue_all(kernel, futex, a, b, 2)
        on_a = futex.wake(a, ALL).unwrap()  # nobody is left on a
        on_b = futex.wake_until(b, 2)
        return moved, on_a, on_b, [t.join() for t in threads]

    moved, on_a, on_b, outcomes = in_child(run)
    assert (moved, on_a, on_b) == (2, 0, 2)
    assert outcomes == ["ok", "ok"]


def test_futex_wake_wakes_no_more_than_asked(kernel: Kernel, futex, in_child) -> None:
    def run() -> tuple[int, int]:
        a, b = futex.word(0), futex.word(0)
        threads = [futex.in_thread(lambda: futex.wait(a, 0).outcome) for _ in range(3)]
        _requeue_all(kernel, futex, a, b, 3)  # all three are now queued on b
        two = futex.wake(b, 2).unwrap()
        rest = futex.wake_until(b, 1)
        for t in threads:
            t.join()
        return two, rest

    assert in_child(run) == (2, 1)


def test_futex_requeue_wakes_some_and_moves_the_rest(kernel: Kernel, futex, in_child) -> None:
    def run() -> tuple[int, int]:
        a, b, c = futex.word(0), futex.word(0), futex.word(0)
        threads = [futex.in_thread(lambda: futex.wait(a, 0).outcome) for _ in range(2)]
        _requeue_all(kernel, futex, a, b, 2)  # both queued (on b) before the real test
        both = kernel.futex(b, kernel.FUTEX_REQUEUE_PRIVATE, 1, 1, c, 0).unwrap()
        on_c = futex.wake_until(c, 1)
        for t in threads:
            t.join()
        return both, on_c

    assert in_child(run) == (2, 1)  # one woken plus one requeued; then one on c


def test_futex_cmp_requeue_with_changed_value_is_eagain(kernel: Kernel, futex) -> None:
    a, b = futex.word(3), futex.word(0)
    r = kernel.futex(a, kernel.FUTEX_CMP_REQUEUE_PRIVATE, 1, 1, b, 2)
    assert r.errno == "EAGAIN"


def test_futex_cmp_requeue_negative_count_is_einval(kernel: Kernel, futex) -> None:
    a, b = futex.word(0), futex.word(0)
    assert kernel.futex(a, kernel.FUTEX_CMP_REQUEUE_PRIVATE, -1, 1, b, 0).errno == "EINVAL"


def test_futex_requeue_negative_requeue_count_is_einval(kernel: Kernel, futex) -> None:
    a, b = futex.word(0), futex.word(0)
    assert kernel.futex(a, kernel.FUTEX_REQUEUE_PRIVATE, 0, -1, b, 0).errno == "EINVAL"


def test_futex_plain_requeue_does_not_compare_the_word(kernel: Kernel, futex) -> None:
    """Only FUTEX_CMP_REQUEUE checks *uaddr against val3; FUTEX_REQUEUE ignores val3."""
    a, b = futex.word(3), futex.word(0)
    assert kernel.futex(a, kernel.FUTEX_REQUEUE_PRIVATE, 1, 1, b, 2).unwrap() == 0


def test_futex_cmp_requeue_with_zero_requeue_count_only_wakes(
    kernel: Kernel, futex, in_child
) -> None:
    def run() -> tuple[int, int, int]:
        a, b = futex.word(0), futex.word(0)
        threads = [futex.in_thread(lambda: futex.wait(a, 0).outcome) for _ in range(2)]
        for t in threads:
            futex.until_waiting(t.tid, a)
        woken = kernel.futex(a, kernel.FUTEX_CMP_REQUEUE_PRIVATE, 1, 0, b, 0).unwrap()
        on_b = futex.wake(b, ALL).unwrap()  # nothing was moved there
        on_a = futex.wake_until(a, 1)
        for t in threads:
            t.join()
        return woken, on_b, on_a

    assert in_child(run) == (1, 0, 1)
