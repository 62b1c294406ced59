"""gettimeofday(2) and time(2): the same wall clock as CLOCK_REALTIME."""

import pytest

from syscalls.kernel import Kernel


def _realtime_us(kernel: Kernel) -> int:
    ts = kernel.new("struct timespec *")
    kernel.clock_gettime(kernel.CLOCK_REALTIME, ts).unwrap()
    return ts.tv_sec * 1_000_000 + ts.tv_nsec // 1000


def test_gettimeofday_agrees_with_clock_realtime(kernel: Kernel) -> None:
    before = _realtime_us(kernel)
    tv = kernel.new("struct timeval *")
    kernel.gettimeofday(tv, None).unwrap()
    after = _realtime_us(kernel)
    assert 0 <= tv.tv_usec < 1_000_000
    # REALTIME and gettimeofday share one clock: within a coarse tick of the bracket.
    assert before - 10_000 <= tv.tv_sec * 1_000_000 + tv.tv_usec <= after + 10_000


def test_gettimeofday_with_only_timezone_succeeds(kernel: Kernel) -> None:
    tz = kernel.new("struct timezone *")
    kernel.gettimeofday(None, tz).unwrap()


@pytest.mark.os("linux")
def test_time_returns_and_stores_the_seconds(kernel: Kernel) -> None:
    before = _realtime_us(kernel) // 1_000_000
    out = kernel.new("long *")
    got = kernel.time(out).unwrap()
    after = _realtime_us(kernel) // 1_000_000
    assert got == out[0]
    assert before - 1 <= got <= after  # time() may lag by up to a coarse tick
