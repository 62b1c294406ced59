"""setitimer(2)/getitimer(2): interval timers, run in a child so that the test process's
own timers and SIGALRM disposition are never touched."""

import signal
import time

import pytest

from syscalls.kernel import Kernel

US = 1_000_000


def _us(tv) -> int:
    return tv.tv_sec * US + tv.tv_usec


def _itv(kernel: Kernel, value_us: int, interval_us: int = 0):
    itv = kernel.new("struct itimerval *")
    itv.it_value.tv_sec, itv.it_value.tv_usec = divmod(value_us, US)
    itv.it_interval.tv_sec, itv.it_interval.tv_usec = divmod(interval_us, US)
    return itv


@pytest.mark.parametrize("which", ["ITIMER_REAL", "ITIMER_VIRTUAL", "ITIMER_PROF"])
def test_getitimer_of_fresh_process_is_disarmed(kernel: Kernel, in_child, which: str) -> None:
    def run() -> int:
        cur = kernel.new("struct itimerval *")
        kernel.getitimer(getattr(kernel, which), cur).unwrap()
        return _us(cur.it_value) + _us(cur.it_interval)

    assert in_child(run) == 0


def test_setitimer_real_counts_down(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        kernel.setitimer(kernel.ITIMER_REAL, _itv(kernel, 10 * US, 2 * US), None).unwrap()
        cur = kernel.new("struct itimerval *")
        kernel.getitimer(kernel.ITIMER_REAL, cur).unwrap()
        return _us(cur.it_value), _us(cur.it_interval)

    value, interval = in_child(run)
    assert 9 * US < value <= 10 * US
    assert interval == 2 * US


def test_setitimer_returns_the_previous_setting(kernel: Kernel, in_child) -> None:
    def run() -> int:
        kernel.setitimer(kernel.ITIMER_REAL, _itv(kernel, 10 * US), None).unwrap()
        old = kernel.new("struct itimerval *")
        kernel.setitimer(kernel.ITIMER_REAL, _itv(kernel, 0), old).unwrap()
        return _us(old.it_value)

    assert 9 * US < in_child(run) <= 10 * US


def test_setitimer_real_delivers_sigalrm(kernel: Kernel, in_child) -> None:
    def run() -> list[int]:
        caught: list[int] = []
        signal.signal(signal.SIGALRM, lambda s, f: caught.append(s))
        kernel.setitimer(kernel.ITIMER_REAL, _itv(kernel, 10_000), None).unwrap()
        deadline = time.monotonic() + 5
        while not caught and time.monotonic() < deadline:
            time.sleep(0.005)
        return caught

    assert in_child(run) == [signal.SIGALRM]


def test_setitimer_virtual_advances_only_with_cpu_time(kernel: Kernel, in_child) -> None:
    def run() -> int:
        kernel.setitimer(kernel.ITIMER_VIRTUAL, _itv(kernel, 10 * US), None).unwrap()
        # Burn user CPU until the timer moves (or 5 s pass). With tick-based accounting
        # it moves by whole ticks that land in user mode, which a fixed 20 ms did not
        # always get on an emulated CPU (QEMU TCG).
        cur = kernel.new("struct itimerval *")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            kernel.getitimer(kernel.ITIMER_VIRTUAL, cur).unwrap()
            if _us(cur.it_value) < 10 * US:
                break
        return _us(cur.it_value)

    assert 0 < in_child(run) < 10 * US


def test_setitimer_unknown_timer_is_einval(kernel: Kernel) -> None:
    assert kernel.setitimer(99, _itv(kernel, 0), None).errno == "EINVAL"


def test_setitimer_usec_out_of_range_is_einval(kernel: Kernel, in_child) -> None:
    def run() -> str:
        itv = _itv(kernel, 0)
        itv.it_value.tv_usec = US
        return kernel.setitimer(kernel.ITIMER_REAL, itv, None).outcome

    assert in_child(run) == "EINVAL"


def test_getitimer_unknown_timer_is_einval(kernel: Kernel) -> None:
    assert kernel.getitimer(99, kernel.new("struct itimerval *")).errno == "EINVAL"


def test_setitimer_interval_usec_out_of_range_is_einval(kernel: Kernel, in_child) -> None:
    def run() -> str:
        itv = _itv(kernel, US)
        itv.it_interval.tv_usec = US
        return kernel.setitimer(kernel.ITIMER_REAL, itv, None).outcome

    assert in_child(run) == "EINVAL"


def test_setitimer_negative_seconds_is_einval(kernel: Kernel, in_child) -> None:
    def run() -> str:
        itv = _itv(kernel, 0)
        itv.it_value.tv_sec = -1
        return kernel.setitimer(kernel.ITIMER_REAL, itv, None).outcome

    assert in_child(run) == "EINVAL"


def test_setitimer_zero_value_disarms_and_returns_the_old(kernel: Kernel, in_child) -> None:
    """A zero it_value disarms; the interval given is stored all the same and read back
    (kernel/time/itimer.c: set_cpu_itimer), though it will never be used."""

    def run() -> tuple[int, int, int]:
        kernel.setitimer(kernel.ITIMER_VIRTUAL, _itv(kernel, 50 * US, US), None).unwrap()
        old = kernel.new("struct itimerval *")
        kernel.setitimer(kernel.ITIMER_VIRTUAL, _itv(kernel, 0, US), old).unwrap()
        cur = kernel.new("struct itimerval *")
        kernel.getitimer(kernel.ITIMER_VIRTUAL, cur).unwrap()
        return _us(old.it_interval), _us(cur.it_value), _us(cur.it_interval)

    assert in_child(run) == (US, 0, US)
