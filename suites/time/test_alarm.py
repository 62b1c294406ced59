"""alarm(2): a one-shot SIGALRM after whole seconds, on the same timer as
setitimer(ITIMER_REAL); it returns what was left of the previous one, rounded to the
nearest second (kernel/time/itimer.c: alarm_setitimer, a remainder below one second
counting as 1). Always in a child: the timer and SIGALRM are the process's.
"""

import signal
import time

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")


def test_alarm_with_none_pending_returns_zero(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: kernel.alarm(0).unwrap()) == 0


def test_alarm_returns_the_seconds_left_of_the_previous(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int, int]:
        first = kernel.alarm(30).unwrap()
        second = kernel.alarm(5).unwrap()  # replaces the 30 s one
        return first, second, kernel.alarm(0).unwrap()

    assert in_child(run) == (0, 30, 5)


def test_alarm_zero_cancels_the_pending_one(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        kernel.alarm(10).unwrap()
        kernel.alarm(0).unwrap()
        cur = kernel.new("struct itimerval *")
        kernel.getitimer(kernel.ITIMER_REAL, cur).unwrap()
        return cur.it_value.tv_sec, cur.it_value.tv_usec

    assert in_child(run) == (0, 0)


def test_alarm_arms_itimer_real_one_shot(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        kernel.alarm(20).unwrap()
        cur = kernel.new("struct itimerval *")
        kernel.getitimer(kernel.ITIMER_REAL, cur).unwrap()
        return cur.it_value.tv_sec, cur.it_interval.tv_sec * 10**6 + cur.it_interval.tv_usec

    secs, interval = in_child(run)
    assert 19 <= secs <= 20
    assert interval == 0


def test_alarm_reports_a_sub_second_itimer_as_one_second(kernel: Kernel, in_child) -> None:
    def run() -> int:
        itv = kernel.new("struct itimerval *")
        itv.it_value.tv_usec = 300_000
        kernel.setitimer(kernel.ITIMER_REAL, itv, None).unwrap()
        return kernel.alarm(0).unwrap()

    assert in_child(run) == 1


@pytest.mark.waits
def test_alarm_delivers_sigalrm(kernel: Kernel, in_child) -> None:
    """The one test here that waits: an alarm's shortest time is one second."""

    def run() -> tuple[int, float]:
        hits: list[int] = []
        signal.signal(signal.SIGALRM, lambda *_: hits.append(1))
        start = time.monotonic()
        kernel.alarm(1).unwrap()
        while not hits and time.monotonic() - start < 5:
            time.sleep(0.01)
        return len(hits), time.monotonic() - start

    count, waited = in_child(run)
    assert count == 1
    assert waited >= 0.9
