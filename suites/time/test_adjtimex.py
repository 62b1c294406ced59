"""adjtimex(2), clock_adjtime(2), settimeofday(2): reading the kernel's clock discipline,
and the refusals of changing it (kernel/time/ntp.c, timekeeping.c, time.c).

adjtimex with modes 0 (and ADJ_OFFSET_SS_READ) only reads, and anyone may; it returns
the clock state (TIME_OK .. TIME_ERROR). Changing anything needs CAP_SYS_TIME (EPERM);
the values are checked first where the syscall itself checks them (a settimeofday
microsecond count out of range is EINVAL for anyone). As root the host sees only
requests refused before anything changes (timekeeping_validate_timex runs first), and
settimeofday(NULL, NULL), which changes nothing (a timezone would change the host's).
ADJ_OFFSET_SINGLESHOT combined with other modes is not refused (its check tests any bit
of 0x8001), so no host test sends it as root. Setting the clock for real is disposable:
in a VM the tests move it and put it back. On i386 adjtimex is sent to
clock_adjtime64(CLOCK_REALTIME) with the 64-bit struct timex, as glibc does.
"""

import time

import pytest

from syscalls.expect import ByOS
from syscalls.kernel import Kernel

AS_USER = pytest.mark.as_user("root may set the clock (CAP_SYS_TIME)")
USER_HZ = 100
MAXFREQ_SCALED_PPM = 500 << 16  # kernel/time/ntp.c: what txc->tolerance reports

# NetBSD's settimeofday has no kernel time zone (a timezone argument is logged and
# ignored) and with no time returns 0 before any privilege check (sys/kern/kern_time.c,
# settimeofday1). It takes any time from root, out of range or before the epoch, and
# sets the clock: those refusals stay Linux's tests, which must not move a host clock.
NOTHING_AS_A_USER = ByOS(default="EPERM", netbsd="ok")
TIMEZONE_OUT_OF_RANGE = ByOS(default="EINVAL", netbsd="ok")


def _timex(kernel: Kernel, modes: int = 0, **fields: int):
    tx = kernel.new("struct timex *")
    tx.modes = modes
    for name, value in fields.items():
        setattr(tx, name, value)
    return tx


# --- reading: anyone -------------------------------------------------------------------------


@pytest.mark.os("linux")
def test_adjtimex_read_returns_a_clock_state(kernel: Kernel, observe) -> None:
    state = kernel.adjtimex(_timex(kernel)).unwrap()
    observe("state_known", kernel.TIME_OK <= state <= kernel.TIME_ERROR)
    assert kernel.TIME_OK <= state <= kernel.TIME_ERROR


@pytest.mark.os("linux")
def test_adjtimex_read_reports_the_fixed_precision_and_tolerance(kernel: Kernel) -> None:
    tx = _timex(kernel)
    kernel.adjtimex(tx).unwrap()
    assert (tx.precision, tx.tolerance) == (1, MAXFREQ_SCALED_PPM)


@pytest.mark.os("linux")
def test_adjtimex_tick_is_within_the_ten_percent_it_accepts(kernel: Kernel) -> None:
    tx = _timex(kernel)
    kernel.adjtimex(tx).unwrap()
    assert 900000 // USER_HZ <= tx.tick <= 1100000 // USER_HZ


@pytest.mark.os("linux")
def test_adjtimex_time_is_the_time_of_day(kernel: Kernel) -> None:
    tx = _timex(kernel)
    before = time.time()
    kernel.adjtimex(tx).unwrap()
    after = time.time()
    nano = tx.status & kernel.STA_NANO
    seconds = tx.time.tv_sec + tx.time.tv_usec / (1e9 if nano else 1e6)
    assert before - 1 <= seconds <= after + 1


@pytest.mark.os("linux")
def test_adjtimex_read_leaves_modes_and_status_bits_consistent(kernel: Kernel) -> None:
    first, second = _timex(kernel), _timex(kernel)
    kernel.adjtimex(first).unwrap()
    kernel.adjtimex(second).unwrap()
    assert (first.status, first.freq, first.tick) == (second.status, second.freq, second.tick)


@pytest.mark.os("linux")
def test_adjtimex_offset_singleshot_read_is_allowed_to_anyone(kernel: Kernel) -> None:
    r = kernel.adjtimex(_timex(kernel, kernel.ADJ_OFFSET_SS_READ))
    assert kernel.TIME_OK <= r.unwrap() <= kernel.TIME_ERROR


@pytest.mark.os("linux")
def test_clock_adjtime_realtime_read_agrees_with_adjtimex(kernel: Kernel) -> None:
    a, b = _timex(kernel), _timex(kernel)
    kernel.adjtimex(a).unwrap()
    kernel.clock_adjtime(kernel.CLOCK_REALTIME, b).unwrap()
    assert (a.tick, a.precision, a.tolerance) == (b.tick, b.precision, b.tolerance)


@pytest.mark.os("linux")
@pytest.mark.parametrize("clock", ["CLOCK_MONOTONIC", "CLOCK_BOOTTIME"])
def test_clock_adjtime_of_a_clock_that_cannot_be_adjusted_is_eopnotsupp(
    kernel: Kernel, clock: str
) -> None:
    assert kernel.clock_adjtime(getattr(kernel, clock), _timex(kernel)).errno == "EOPNOTSUPP"


@pytest.mark.os("linux")
def test_clock_adjtime_of_an_unknown_clock_is_einval(kernel: Kernel) -> None:
    assert kernel.clock_adjtime(100, _timex(kernel)).errno == "EINVAL"


@pytest.mark.os("linux")
@pytest.mark.requires("fault_handler")
def test_adjtimex_unmapped_buffer_is_efault(kernel: Kernel) -> None:
    assert kernel.adjtimex(8).errno == "EFAULT"


# --- changing: refused -------------------------------------------------------------------------


@pytest.mark.os("linux")
@AS_USER
def test_adjtimex_setting_the_frequency_as_a_user_is_eperm(kernel: Kernel) -> None:
    assert kernel.adjtimex(_timex(kernel, kernel.ADJ_FREQUENCY)).errno == "EPERM"


@pytest.mark.os("linux")
@AS_USER
def test_adjtimex_singleshot_offset_that_is_not_read_only_is_eperm(kernel: Kernel) -> None:
    assert kernel.adjtimex(_timex(kernel, kernel.ADJ_OFFSET_SINGLESHOT)).errno == "EPERM"


@pytest.mark.os("linux")
@AS_USER
def test_clock_adjtime_setting_as_a_user_is_eperm(kernel: Kernel) -> None:
    tx = _timex(kernel, kernel.ADJ_SETOFFSET)
    assert kernel.clock_adjtime(kernel.CLOCK_REALTIME, tx).errno == "EPERM"


@AS_USER
def test_settimeofday_as_a_user_is_eperm(kernel: Kernel) -> None:
    tv = kernel.new("struct timeval *", (int(time.time()), 0))
    assert kernel.settimeofday(tv, None).errno == "EPERM"


@AS_USER
def test_settimeofday_of_nothing_as_a_user_is_still_eperm(kernel: Kernel) -> None:
    assert kernel.settimeofday(None, None).outcome == NOTHING_AS_A_USER[kernel.platform.os]


@pytest.mark.os("linux")
@pytest.mark.parametrize("usec", [1_000_000, -1])
def test_settimeofday_microseconds_out_of_range_is_einval_for_anyone(
    kernel: Kernel, usec: int
) -> None:
    tv = kernel.new("struct timeval *", (int(time.time()), usec))
    assert kernel.settimeofday(tv, None).errno == "EINVAL"


@pytest.mark.os("linux")
def test_settimeofday_before_the_epoch_is_einval_for_anyone(kernel: Kernel) -> None:
    assert kernel.settimeofday(kernel.new("struct timeval *", (-1, 0)), None).errno == "EINVAL"


@pytest.mark.os("linux")
@pytest.mark.root
def test_adjtimex_tick_out_of_range_is_einval(kernel: Kernel) -> None:
    tx = _timex(kernel, kernel.ADJ_TICK, tick=2 * 1100000 // USER_HZ)
    assert kernel.adjtimex(tx).errno == "EINVAL"


@pytest.mark.os("linux")
@pytest.mark.root
def test_clock_adjtime_setoffset_with_microseconds_out_of_range_is_einval(kernel: Kernel) -> None:
    tx = _timex(kernel, kernel.ADJ_SETOFFSET)
    tx.time.tv_sec, tx.time.tv_usec = 0, 1_000_000
    assert kernel.clock_adjtime(kernel.CLOCK_REALTIME, tx).errno == "EINVAL"


@pytest.mark.root
def test_settimeofday_timezone_out_of_range_is_einval(kernel: Kernel) -> None:
    tz = kernel.new("struct timezone *", (16 * 60, 0))
    assert kernel.settimeofday(None, tz).outcome == TIMEZONE_OUT_OF_RANGE[kernel.platform.os]


@pytest.mark.root
def test_settimeofday_of_nothing_as_root_changes_nothing_and_succeeds(kernel: Kernel) -> None:
    before = time.time()
    assert kernel.settimeofday(None, None).unwrap() == 0
    assert abs(time.time() - before) < 5


# --- a disposable VM: moving the clock and putting it back ---------------------------------


def _realtime(kernel: Kernel) -> float:
    ts = kernel.new("struct timespec *")
    kernel.clock_gettime(kernel.CLOCK_REALTIME, ts).unwrap()
    return ts.tv_sec + ts.tv_nsec / 1e9


@pytest.mark.os("linux")
@pytest.mark.disposable
@pytest.mark.root
def test_settimeofday_moves_the_realtime_clock_and_back(kernel: Kernel) -> None:
    start = time.monotonic()
    now = _realtime(kernel)
    kernel.settimeofday(kernel.new("struct timeval *", (int(now) + 3600, 0)), None).unwrap()
    moved = _realtime(kernel) - now
    back = now + (time.monotonic() - start)
    kernel.settimeofday(kernel.new("struct timeval *", (int(back), 0)), None).unwrap()
    assert 3590 < moved < 3610
    assert abs(_realtime(kernel) - back) < 5


@pytest.mark.os("linux")
@pytest.mark.disposable
@pytest.mark.root
def test_clock_adjtime_setoffset_shifts_the_clock_by_the_offset(kernel: Kernel) -> None:
    before = _realtime(kernel)
    tx = _timex(kernel, kernel.ADJ_SETOFFSET)
    tx.time.tv_sec = 100
    kernel.clock_adjtime(kernel.CLOCK_REALTIME, tx).unwrap()
    shifted = _realtime(kernel) - before
    tx = _timex(kernel, kernel.ADJ_SETOFFSET)
    tx.time.tv_sec = -100
    kernel.clock_adjtime(kernel.CLOCK_REALTIME, tx).unwrap()
    assert 99 < shifted < 110


@pytest.mark.os("linux")
@pytest.mark.disposable
@pytest.mark.root
def test_adjtimex_frequency_set_is_read_back_and_restored(kernel: Kernel) -> None:
    old = _timex(kernel)
    kernel.adjtimex(old).unwrap()
    try:
        kernel.adjtimex(_timex(kernel, kernel.ADJ_FREQUENCY, freq=old.freq + (1 << 16))).unwrap()
        now = _timex(kernel)
        kernel.adjtimex(now).unwrap()
        assert now.freq == old.freq + (1 << 16)
    finally:
        kernel.adjtimex(_timex(kernel, kernel.ADJ_FREQUENCY, freq=old.freq)).unwrap()


@pytest.mark.os("linux")
@pytest.mark.disposable
@pytest.mark.root
def test_adjtimex_tick_set_is_read_back_and_restored(kernel: Kernel) -> None:
    old = _timex(kernel)
    kernel.adjtimex(old).unwrap()
    try:
        kernel.adjtimex(_timex(kernel, kernel.ADJ_TICK, tick=old.tick + 1)).unwrap()
        now = _timex(kernel)
        kernel.adjtimex(now).unwrap()
        assert now.tick == old.tick + 1
    finally:
        kernel.adjtimex(_timex(kernel, kernel.ADJ_TICK, tick=old.tick)).unwrap()
