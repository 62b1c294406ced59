"""futex_waitv(2): wait on several futexes at once (Linux >= 5.16).

futex_waitv(waiters, nr, flags, timeout, clockid): each struct futex_waitv names a
32-bit word (FUTEX_32, optionally FUTEX_PRIVATE_FLAG) and its expected value; the
timeout is absolute on the given clock. A wake on any of them returns its index.
"""

import time

import pytest

from syscalls.kernel import Kernel

pytestmark = [pytest.mark.os("linux"), pytest.mark.min_kernel("5.16")]

LIMIT_NS = 5_000_000_000


def _waiters(kernel: Kernel, words: list, values: list[int], flags: int | None = None):
    v = kernel.new("struct futex_waitv[]", len(words))
    f = kernel.FUTEX_32 | kernel.FUTEX_PRIVATE_FLAG if flags is None else flags
    for i, (w, val) in enumerate(zip(words, values, strict=True)):
        v[i].uaddr = int(kernel.ffi.cast("uintptr_t", w))
        v[i].val = val
        v[i].flags = f
    return v


def _deadline(kernel: Kernel, ns: int):
    now = time.clock_gettime_ns(time.CLOCK_MONOTONIC) + ns
    # futex_waitv takes a struct __kernel_timespec (64-bit fields on 32-bit arches too)
    return kernel.new("struct __kernel_timespec *", divmod(now, 1_000_000_000))


def _waitv(kernel: Kernel, v, n: int, ns: int = LIMIT_NS, flags: int = 0):
    return kernel.futex_waitv(v, n, flags, _deadline(kernel, ns), time.CLOCK_MONOTONIC)


def test_futex_waitv_with_a_changed_value_is_eagain(kernel: Kernel, futex) -> None:
    a, b = futex.word(0), futex.word(7)
    assert _waitv(kernel, _waiters(kernel, [a, b], [0, 0]), 2).errno == "EAGAIN"


def test_futex_waitv_times_out_at_the_deadline(kernel: Kernel, futex, in_child) -> None:
    def run() -> str:
        a, b = futex.word(0), futex.word(0)
        return _waitv(kernel, _waiters(kernel, [a, b], [0, 0]), 2, ns=20_000_000).outcome

    assert in_child(run) == "ETIMEDOUT"


def test_futex_waitv_returns_the_index_of_the_woken_futex(kernel: Kernel, futex, in_child) -> None:
    def run() -> tuple[int, str]:
        a, b = futex.word(0), futex.word(0)
        v = _waiters(kernel, [a, b], [0, 0])
        waiter = futex.in_thread(lambda: _waitv(kernel, v, 2))
        woken = futex.wake_until(b)
        r = waiter.join()
        return woken, f"{r.outcome}:{r.value}"

    assert in_child(run) == (1, "ok:1")


@pytest.mark.parametrize("n", [0, 129])
def test_futex_waitv_count_out_of_range_is_einval(kernel: Kernel, futex, n: int) -> None:
    words = [futex.word(0) for _ in range(max(n, 1))]
    v = _waiters(kernel, words, [1] * len(words))  # values differ: never blocks
    assert _waitv(kernel, v, n).errno == "EINVAL"


def test_futex_waitv_nonzero_flags_argument_is_einval(kernel: Kernel, futex) -> None:
    v = _waiters(kernel, [futex.word(0)], [1])
    assert _waitv(kernel, v, 1, flags=1).errno == "EINVAL"


def test_futex_waitv_entry_without_a_size_flag_is_einval(kernel: Kernel, futex) -> None:
    v = _waiters(kernel, [futex.word(0)], [1], flags=kernel.FUTEX_PRIVATE_FLAG)
    assert _waitv(kernel, v, 1).errno == "EINVAL"
