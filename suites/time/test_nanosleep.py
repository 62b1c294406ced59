"""nanosleep(2) and clock_nanosleep(2): sleeping at least as long as asked, absolute
deadlines, interruption by a signal with the time left, and refused timespecs.

Sleeps run in a child; the interrupting signal comes from setitimer(ITIMER_REAL) and is
caught by a Python handler (installed without SA_RESTART, so the sleep ends in EINTR).
The timer repeats: on a slow target (UML, gVisor) its first expiry may come before the
sleep has begun, and a one-shot timer would then leave the sleep to run its course.
"""

import signal
import time

import pytest

from syscalls.expect import ByOS
from syscalls.kernel import Kernel

NS = 1_000_000_000


# Negative seconds: NetBSD takes the time as already past and returns at once
# (sys/kern/subr_time.c, itimespecfix: ETIMEDOUT, which nanosleep1 turns into 0).
NEGATIVE_SECONDS = ByOS(default="EINVAL", netbsd="ok")


def _ts(kernel: Kernel, ns: int):
    return kernel.new("struct timespec *", divmod(ns, NS))


def _now(kernel: Kernel, clock: int) -> int:
    ts = kernel.new("struct timespec *")
    kernel.clock_gettime(clock, ts).unwrap()
    return ts.tv_sec * NS + ts.tv_nsec


def test_nanosleep_sleeps_at_least_the_requested_time(kernel: Kernel, in_child) -> None:
    def run() -> int:
        start = _now(kernel, kernel.CLOCK_MONOTONIC)
        kernel.nanosleep(_ts(kernel, 30_000_000), None).unwrap()
        return _now(kernel, kernel.CLOCK_MONOTONIC) - start

    assert in_child(run) >= 30_000_000


def test_nanosleep_interrupted_reports_eintr_and_time_left(kernel: Kernel, in_child) -> None:
    def run() -> tuple[str, int]:
        signal.signal(signal.SIGALRM, lambda s, f: None)
        signal.setitimer(signal.ITIMER_REAL, 0.02, 0.02)  # repeats: see the top
        rem = kernel.new("struct timespec *")
        r = kernel.nanosleep(_ts(kernel, 5 * NS), rem)
        return r.outcome, rem.tv_sec * NS + rem.tv_nsec

    outcome, left = in_child(run)
    assert outcome == "EINTR"
    assert 0 < left < 5 * NS


@pytest.mark.parametrize(("sec", "nsec"), [(0, NS), (0, -1), (-1, 0)])
def test_nanosleep_invalid_timespec_is_einval(kernel: Kernel, sec: int, nsec: int) -> None:
    r = kernel.nanosleep(kernel.new("struct timespec *", (sec, nsec)), None)
    assert r.outcome == (NEGATIVE_SECONDS[kernel.platform.os] if sec < 0 else "EINVAL")


def test_nanosleep_zero_returns_at_once(kernel: Kernel) -> None:
    kernel.nanosleep(_ts(kernel, 0), None).unwrap()


def test_clock_nanosleep_relative_sleeps_at_least(kernel: Kernel, in_child) -> None:
    def run() -> int:
        start = _now(kernel, kernel.CLOCK_MONOTONIC)
        kernel.clock_nanosleep(kernel.CLOCK_MONOTONIC, 0, _ts(kernel, 30_000_000), None).unwrap()
        return _now(kernel, kernel.CLOCK_MONOTONIC) - start

    assert in_child(run) >= 30_000_000


@pytest.mark.parametrize("clock", ["CLOCK_MONOTONIC", "CLOCK_REALTIME", "CLOCK_BOOTTIME"])
def test_clock_nanosleep_abstime_wakes_after_the_deadline(
    kernel: Kernel, in_child, clock: str
) -> None:
    ident = getattr(kernel, clock)

    def run() -> int:
        deadline = _now(kernel, ident) + 30_000_000
        kernel.clock_nanosleep(ident, kernel.TIMER_ABSTIME, _ts(kernel, deadline), None).unwrap()
        return _now(kernel, ident) - deadline

    assert in_child(run) >= 0


def test_clock_nanosleep_abstime_in_the_past_returns_at_once(kernel: Kernel) -> None:
    past = _now(kernel, kernel.CLOCK_MONOTONIC) - NS
    start = time.monotonic()
    kernel.clock_nanosleep(kernel.CLOCK_MONOTONIC, kernel.TIMER_ABSTIME, _ts(kernel, past), None)
    assert time.monotonic() - start < 1.0


def test_clock_nanosleep_interrupted_reports_time_left(kernel: Kernel, in_child) -> None:
    def run() -> tuple[str, int]:
        signal.signal(signal.SIGALRM, lambda s, f: None)
        signal.setitimer(signal.ITIMER_REAL, 0.02, 0.02)  # repeats: see the top
        rem = kernel.new("struct timespec *")
        r = kernel.clock_nanosleep(kernel.CLOCK_MONOTONIC, 0, _ts(kernel, 5 * NS), rem)
        return r.outcome, rem.tv_sec * NS + rem.tv_nsec

    outcome, left = in_child(run)
    assert outcome == "EINTR"
    assert 0 < left < 5 * NS


def test_clock_nanosleep_nsec_out_of_range_is_einval(kernel: Kernel) -> None:
    ts = kernel.new("struct timespec *", (0, NS))
    assert kernel.clock_nanosleep(kernel.CLOCK_MONOTONIC, 0, ts, None).errno == "EINVAL"


def test_clock_nanosleep_unknown_clock_is_einval(kernel: Kernel) -> None:
    assert kernel.clock_nanosleep(1000, 0, _ts(kernel, 1), None).errno == "EINVAL"


@pytest.mark.os("linux")
def test_clock_nanosleep_on_thread_cputime_is_eopnotsupp(kernel: Kernel) -> None:
    # The thread CPU clock has no nsleep (kernel/time/posix-timers.c); C libraries turn
    # this into POSIX's EINVAL, the kernel itself answers EOPNOTSUPP.
    r = kernel.clock_nanosleep(kernel.CLOCK_THREAD_CPUTIME_ID, 0, _ts(kernel, 1), None)
    assert r.errno == "EOPNOTSUPP"


@pytest.mark.os("linux")  # NetBSD returns at once
def test_clock_nanosleep_negative_seconds_is_einval(kernel: Kernel) -> None:
    ts = kernel.new("struct timespec *", (-1, 0))
    assert kernel.clock_nanosleep(kernel.CLOCK_MONOTONIC, 0, ts, None).errno == "EINVAL"


@pytest.mark.os("linux")
def test_clock_nanosleep_abstime_leaves_remain_untouched(kernel: Kernel, in_child) -> None:
    """An absolute sleep cut short by a signal does not write the time left: there is
    nothing to restart from but the same deadline (kernel/time/hrtimer.c)."""

    def run() -> tuple[str, int, int]:
        signal.signal(signal.SIGALRM, lambda *_: None)
        signal.setitimer(signal.ITIMER_REAL, 0.02, 0.02)  # repeats: see the top
        now = _now(kernel, kernel.CLOCK_MONOTONIC)
        rem = kernel.new("struct timespec *", (77, 88))
        r = kernel.clock_nanosleep(
            kernel.CLOCK_MONOTONIC, kernel.TIMER_ABSTIME, _ts(kernel, now + 5 * NS), rem
        )
        return r.outcome, rem.tv_sec, rem.tv_nsec

    assert in_child(run) == ("EINTR", 77, 88)
