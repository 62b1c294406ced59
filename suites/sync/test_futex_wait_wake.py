"""futex(2) FUTEX_WAIT and FUTEX_WAKE: compare-and-block, timeouts, and wake-ups
between threads (private futexes) and between processes (shared memory).

Linux only; FUTEX_WAIT's timeout is relative (CLOCK_MONOTONIC).
"""

import mmap
import time

import pytest

from syscalls import forking
from syscalls.child import TIME_SCALE
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")


@pytest.mark.smoke
def test_futex_wait_on_changed_value_is_eagain(kernel: Kernel, futex) -> None:
    word = futex.word(1)
    assert futex.wait(word, 0).errno == "EAGAIN"


@pytest.mark.smoke
def test_futex_wait_times_out_with_etimedout(kernel: Kernel, futex, in_child) -> None:
    def run() -> tuple[str, float]:
        word = futex.word(0)
        start = time.monotonic()
        r = futex.wait(word, 0, ns=20_000_000)
        return r.outcome, time.monotonic() - start

    outcome, elapsed = in_child(run)
    assert outcome == "ETIMEDOUT"
    assert elapsed >= 0.02


@pytest.mark.smoke
def test_futex_wake_without_waiters_wakes_none(kernel: Kernel, futex) -> None:
    assert futex.wake(futex.word(0), 10).unwrap() == 0


@pytest.mark.smoke
def test_futex_wake_private_wakes_a_waiting_thread(kernel: Kernel, futex, in_child) -> None:
    def run() -> tuple[int, str]:
        word = futex.word(0)
        waiter = futex.in_thread(lambda: futex.wait(word, 0).outcome)
        woken = futex.wake_until(word)
        return woken, waiter.join()

    assert in_child(run) == (1, "ok")


@pytest.mark.smoke
def test_futex_shared_wake_reaches_a_waiter_in_another_process(
    kernel: Kernel, futex, in_child
) -> None:
    """A non-private futex on MAP_SHARED memory is keyed by the page, not the address
    space, so a forked child waiting on it is woken from the parent."""

    def run() -> tuple[int, int]:
        k = kernel
        addr = k.mmap(
            0, mmap.PAGESIZE, k.PROT_READ | k.PROT_WRITE, k.MAP_SHARED | k.MAP_ANONYMOUS, -1, 0
        ).unwrap()
        word = k.ffi.cast("uint32_t *", addr)
        pid = forking.fork(k, lambda: 0 if futex.wait(word, 0, "FUTEX_WAIT").ok else 1)
        try:
            woken = futex.wake_until(word, op="FUTEX_WAKE")
        finally:
            code = forking.exit_code(k, pid)
        return woken, code

    assert in_child(run) == (1, 0)


@pytest.mark.smoke
def test_futex_wait_invalid_timeout_is_einval(kernel: Kernel, futex) -> None:
    bad = kernel.new("struct timespec *", (0, 1_000_000_000))
    assert kernel.futex(futex.word(0), kernel.FUTEX_WAIT_PRIVATE, 0, bad, None, 0).errno == (
        "EINVAL"
    )


@pytest.mark.smoke
def test_futex_misaligned_address_is_einval(kernel: Kernel, futex) -> None:
    words = futex.word(0, 2)
    odd = kernel.ffi.cast("char *", words) + 1
    assert futex.wake(odd, 1).errno == "EINVAL"


@pytest.mark.smoke
def test_futex_wake_op_updates_second_word_and_wakes(kernel: Kernel, futex) -> None:
    """FUTEX_WAKE_OP: *uaddr2 = 5 (FUTEX_OP_SET), then wake waiters of both words;
    with none waiting it wakes 0 but the store happens."""
    a, b = futex.word(0), futex.word(1)
    op = (kernel.FUTEX_OP_SET << 28) | (kernel.FUTEX_OP_CMP_EQ << 24) | (5 << 12) | 1
    r = kernel.futex(a, kernel.FUTEX_WAKE_OP_PRIVATE, 1, 1, b, op)
    assert r.unwrap() == 0
    assert b[0] == 5


def test_futex_wait_negative_seconds_is_einval(kernel: Kernel, futex) -> None:
    bad = kernel.new("struct timespec *", (-1, 0))
    r = kernel.futex(futex.word(0), kernel.FUTEX_WAIT_PRIVATE, 0, bad, None, 0)
    assert r.errno == "EINVAL"


def test_futex_wake_of_zero_still_wakes_one(kernel: Kernel, futex, in_child) -> None:
    """futex_wake counts a waiter before comparing with nr_wake (kernel/futex/waitwake.c),
    so asking for 0 wakes one queued waiter, no more."""

    def run() -> tuple[int, int, list[str]]:
        word = futex.word(0)
        waiters = [futex.in_thread(lambda: futex.wait(word, 0).outcome) for _ in range(2)]
        for w in waiters:
            futex.until_waiting(w.tid, word)
        zero = futex.wake(word, 0).unwrap()
        rest = futex.wake_until(word, 1)
        return zero, rest, [w.join() for w in waiters]

    assert in_child(run) == (1, 1, ["ok", "ok"])


def test_futex_wait_with_a_waker_on_another_word_times_out(kernel: Kernel, futex, in_child) -> None:
    def run() -> tuple[int, str]:
        a, b = futex.word(0), futex.word(0)
        # Long enough to be seen queued where only its state tells (procstate: SETTLE)
        ns = int(50_000_000 * TIME_SCALE)
        waiter = futex.in_thread(lambda: futex.wait(a, 0, ns=ns).outcome)
        futex.until_waiting(waiter.tid, a)
        return futex.wake(b, 10).unwrap(), waiter.join()

    assert in_child(run) == (0, "ETIMEDOUT")


# kernel/futex/syscalls.c do_futex: an operation it does not know is ENOSYS, and so is
# FUTEX_CLOCK_REALTIME on any operation but those that take an absolute deadline on that
# clock (FUTEX_WAIT_BITSET, FUTEX_WAIT_REQUEUE_PI, FUTEX_LOCK_PI2): FUTEX_WAIT included,
# whatever futex(2) says of it since 4.5. futex itself is there, so its ENOSYS is an
# answer like any other (syscalls.enosys BY_ARGUMENT), not a kernel built without futex.
def test_futex_unknown_operation_is_enosys(kernel: Kernel, futex) -> None:
    unknown = 0x7F | kernel.FUTEX_PRIVATE_FLAG  # the highest command number there is
    assert kernel.futex(futex.word(0), unknown, 0, None, None, 0).errno == "ENOSYS"


@pytest.mark.parametrize("op", ["FUTEX_WAKE", "FUTEX_WAIT", "FUTEX_CMP_REQUEUE", "FUTEX_WAKE_OP"])
def test_futex_clock_realtime_on_an_operation_without_its_deadline_is_enosys(
    kernel: Kernel, futex, op: str
) -> None:
    word, other = futex.word(1), futex.word(0)
    flags = kernel.FUTEX_PRIVATE_FLAG | kernel.FUTEX_CLOCK_REALTIME
    r = kernel.futex(word, getattr(kernel, op) | flags, 0, None, other, 1)
    assert r.errno == "ENOSYS"
