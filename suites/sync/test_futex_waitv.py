"""futex_waitv(2): wait on several futexes at once (Linux >= 5.16).

futex_waitv(waiters, nr, flags, timeout, clockid): each struct futex_waitv names a
32-bit word (FUTEX_32, optionally FUTEX_PRIVATE_FLAG) and its expected value; the
timeout is absolute on the given clock. A wake on any of them returns its index.
"""

import mmap
import time

import pytest

from syscalls import forking
from syscalls.kernel import Kernel

pytestmark = [pytest.mark.os("linux"), pytest.mark.min_kernel("5.16")]

LIMIT_NS = 5_000_000_000


def _waiters(kernel: Kernel, words: list, values: list[int], flags: int | None = None):
    v = kernel.new("struct futex_waitv[]", len(words))
    f = kernel.FUTEX_32 | kernel.FUTEX_PRIVATE_FLAG if flags is None else flags
    for i, (w, val) in enumerate(zip(words, values, strict=True)):
        v[i].uaddr = kernel.address(w)
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


def _shared_waiter(kernel: Kernel, futex, v, n: int) -> int:
    """A child in futex_waitv on `v`; its exit code is 10 + the index it was woken by."""

    def body() -> int:
        r = _waitv(kernel, v, n)
        return 10 + r.value if r.ok else 1

    pid = forking.fork(kernel, body)
    futex.until_waiting(pid, v, ("futex_waitv",))
    return pid


@pytest.mark.parametrize("index", [0, 1, 2])
def test_futex_waitv_on_shared_memory_is_woken_by_another_process(
    kernel: Kernel, futex, in_child, index: int
) -> None:
    def run() -> tuple[int, int]:
        page = futex.shared_page()
        words = [page + 16 * i for i in range(3)]  # 64 bytes apart
        v = _waiters(kernel, words, [0, 0, 0], flags=kernel.FUTEX_32)  # shared
        pid = _shared_waiter(kernel, futex, v, 3)
        woken = futex.wake(words[index], 1, "FUTEX_WAKE").unwrap()
        return woken, forking.exit_code(kernel, pid)

    assert in_child(run) == (1, 10 + index)


def test_futex_waitv_on_a_shared_file_mapping_is_woken_through_another_mapping(
    kernel: Kernel, futex, in_child, tmp
) -> None:
    def run() -> tuple[int, int]:
        (tmp / "f").write_bytes(bytes(mmap.PAGESIZE))
        fd = kernel.openat(kernel.AT_FDCWD, tmp / "f", kernel.O_RDWR).unwrap()
        prot = kernel.PROT_READ | kernel.PROT_WRITE
        maps = [kernel.mmap(0, mmap.PAGESIZE, prot, kernel.MAP_SHARED, fd, 0) for _ in "ab"]
        here, there = (kernel.ffi.cast("uint32_t *", m.unwrap()) for m in maps)
        v = _waiters(kernel, [here, here + 1], [0, 0], flags=kernel.FUTEX_32)
        pid = _shared_waiter(kernel, futex, v, 2)
        woken = futex.wake(there + 1, 1, "FUTEX_WAKE").unwrap()
        return woken, forking.exit_code(kernel, pid)

    assert in_child(run) == (1, 11)


def test_futex_waitv_private_entry_is_not_reached_from_another_process(
    kernel: Kernel, futex, in_child
) -> None:
    def run() -> tuple[int, int, int]:
        page = futex.shared_page()
        words = [page, page + 16]
        v = _waiters(kernel, words, [0, 0], flags=kernel.FUTEX_32)
        v[0].flags |= kernel.FUTEX_PRIVATE_FLAG  # keyed by the child's address space
        pid = _shared_waiter(kernel, futex, v, 2)
        missed = futex.wake(words[0], 1, "FUTEX_WAKE").unwrap()
        woken = futex.wake(words[1], 1, "FUTEX_WAKE").unwrap()
        return missed, woken, forking.exit_code(kernel, pid)

    assert in_child(run) == (0, 1, 11)


def test_futex_waitv_null_waiters_is_einval(kernel: Kernel) -> None:
    r = kernel.futex_waitv(None, 1, 0, _deadline(kernel, 0), time.CLOCK_MONOTONIC)
    assert r.errno == "EINVAL"


def test_futex_waitv_entry_with_reserved_bits_is_einval(kernel: Kernel, futex) -> None:
    v = _waiters(kernel, [futex.word(0)], [1])
    v[0].__reserved = 1
    assert _waitv(kernel, v, 1).errno == "EINVAL"


def test_futex_waitv_unknown_clock_is_einval(kernel: Kernel, futex) -> None:
    v = _waiters(kernel, [futex.word(0)], [1])
    r = kernel.futex_waitv(v, 1, 0, _deadline(kernel, 0), time.CLOCK_BOOTTIME)
    assert r.errno == "EINVAL"


@pytest.mark.requires("fault_handler")
@pytest.mark.parametrize("what", ["array", "word", "timeout"])
def test_futex_waitv_unmapped_memory_is_efault(
    kernel: Kernel, futex, bad_memory, what: str
) -> None:
    bad = bad_memory.unmapped()
    v = _waiters(kernel, [futex.word(0)], [0])
    if what == "word":
        v[0].uaddr = bad
    ts = bad if what == "timeout" else _deadline(kernel, 0)
    r = kernel.futex_waitv(bad if what == "array" else v, 1, 0, ts, time.CLOCK_MONOTONIC)
    assert r.errno == "EFAULT"
