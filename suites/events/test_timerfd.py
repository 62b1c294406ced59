"""timerfd_create/settime/gettime(2): expirations counted by read(2) (Linux only)."""

import time

import pytest

from syscalls import kconfig, readiness
from syscalls.abi import compat_process
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

MS = 1_000_000  # nanoseconds


def _spec(kernel: Kernel, value_ns: int, interval_ns: int = 0):
    its = kernel.new("struct itimerspec *")
    its.it_value.tv_sec, its.it_value.tv_nsec = divmod(value_ns, 1_000_000_000)
    its.it_interval.tv_sec, its.it_interval.tv_nsec = divmod(interval_ns, 1_000_000_000)
    return its


def _ns(ts) -> int:
    return ts.tv_sec * 1_000_000_000 + ts.tv_nsec


def _expirations(kernel: Kernel, fd: int) -> int:
    out = kernel.new("uint64_t *")
    assert kernel.read(fd, out, 8).unwrap() == 8
    return int(out[0])


@pytest.fixture
def tfd(kernel: Kernel, fds) -> int:
    return fds(kernel.timerfd_create(kernel.CLOCK_MONOTONIC, kernel.TFD_NONBLOCK))


def test_timerfd_new_timer_is_disarmed(kernel: Kernel, tfd: int) -> None:
    cur = kernel.new("struct itimerspec *")
    kernel.timerfd_gettime(tfd, cur).unwrap()
    assert (_ns(cur.it_value), _ns(cur.it_interval)) == (0, 0)


def test_timerfd_read_before_expiry_is_eagain(kernel: Kernel, tfd: int) -> None:
    kernel.timerfd_settime(tfd, 0, _spec(kernel, 10_000 * MS), None).unwrap()
    assert kernel.read(tfd, kernel.new("uint64_t *"), 8).errno == "EAGAIN"


def test_timerfd_read_after_expiry_counts_one(kernel: Kernel, fds, in_child) -> None:
    fd = fds(kernel.timerfd_create(kernel.CLOCK_MONOTONIC, 0))

    def wait() -> int:
        kernel.timerfd_settime(fd, 0, _spec(kernel, 10 * MS), None).unwrap()
        return _expirations(kernel, fd)  # blocks until the timer fires

    assert in_child(wait) == 1


def test_timerfd_interval_timer_counts_every_expiration(kernel: Kernel, fds, in_child) -> None:
    fd = fds(kernel.timerfd_create(kernel.CLOCK_MONOTONIC, 0))

    def wait() -> int:
        kernel.timerfd_settime(fd, 0, _spec(kernel, 2 * MS, 2 * MS), None).unwrap()
        time.sleep(0.025)
        return _expirations(kernel, fd)

    assert in_child(wait) >= 3


def test_timerfd_abstime_in_the_past_expires_at_once(kernel: Kernel, tfd: int) -> None:
    now = kernel.new("struct timespec *")
    kernel.clock_gettime(kernel.CLOCK_MONOTONIC, now).unwrap()
    past = _spec(kernel, max(_ns(now) - 1000 * MS, 1))
    kernel.timerfd_settime(tfd, kernel.TFD_TIMER_ABSTIME, past, None).unwrap()
    # The expiry comes from the timer interrupt the kernel programs at once, not from
    # timerfd_settime itself: on an emulated CPU (QEMU TCG) it lands after the call has
    # returned. "At once" is well within a second, not before the next instruction.
    p = kernel.new("struct pollfd *", (tfd, kernel.POLLIN, 0))
    assert readiness.poll(kernel, p, 1, 1000).unwrap() == 1
    assert _expirations(kernel, tfd) == 1


def test_timerfd_abstime_deadline_is_reported_as_relative(kernel: Kernel, tfd: int) -> None:
    now = kernel.new("struct timespec *")
    kernel.clock_gettime(kernel.CLOCK_MONOTONIC, now).unwrap()
    deadline = _spec(kernel, _ns(now) + 10_000 * MS)
    kernel.timerfd_settime(tfd, kernel.TFD_TIMER_ABSTIME, deadline, None).unwrap()
    cur = kernel.new("struct itimerspec *")
    kernel.timerfd_gettime(tfd, cur).unwrap()
    assert 9_000 * MS < _ns(cur.it_value) <= 10_000 * MS


def test_timerfd_settime_returns_the_previous_setting(kernel: Kernel, tfd: int) -> None:
    kernel.timerfd_settime(tfd, 0, _spec(kernel, 10_000 * MS, 2_000 * MS), None).unwrap()
    old = kernel.new("struct itimerspec *")
    kernel.timerfd_settime(tfd, 0, _spec(kernel, 0), old).unwrap()
    assert _ns(old.it_interval) == 2_000 * MS
    assert 9_000 * MS < _ns(old.it_value) <= 10_000 * MS


def test_timerfd_gettime_reports_the_interval_of_a_periodic_timer(kernel: Kernel, tfd: int) -> None:
    kernel.timerfd_settime(tfd, 0, _spec(kernel, 10_000 * MS, 2_000 * MS), None).unwrap()
    cur = kernel.new("struct itimerspec *")
    kernel.timerfd_gettime(tfd, cur).unwrap()
    assert _ns(cur.it_interval) == 2_000 * MS
    assert 9_000 * MS < _ns(cur.it_value) <= 10_000 * MS


def test_timerfd_zero_value_disarms(kernel: Kernel, tfd: int) -> None:
    kernel.timerfd_settime(tfd, 0, _spec(kernel, 10_000 * MS), None).unwrap()
    kernel.timerfd_settime(tfd, 0, _spec(kernel, 0, 1_000 * MS), None).unwrap()
    cur = kernel.new("struct itimerspec *")
    kernel.timerfd_gettime(tfd, cur).unwrap()
    assert _ns(cur.it_value) == 0


def test_timerfd_unknown_clock_is_einval(kernel: Kernel) -> None:
    assert kernel.timerfd_create(1000, 0).errno == "EINVAL"


def test_timerfd_unknown_create_flag_is_einval(kernel: Kernel) -> None:
    assert kernel.timerfd_create(kernel.CLOCK_MONOTONIC, 1 << 30).errno == "EINVAL"


def test_timerfd_settime_nsec_out_of_range_is_einval(kernel: Kernel, tfd: int) -> None:
    its = _spec(kernel, 0)
    its.it_value.tv_nsec = 1_000_000_000
    assert kernel.timerfd_settime(tfd, 0, its, None).errno == "EINVAL"


def test_timerfd_settime_unknown_flag_is_einval(kernel: Kernel, tfd: int) -> None:
    assert kernel.timerfd_settime(tfd, 1 << 20, _spec(kernel, MS), None).errno == "EINVAL"


def test_timerfd_read_shorter_than_8_bytes_is_einval(kernel: Kernel, tfd: int) -> None:
    assert kernel.read(tfd, kernel.buf(4), 4).errno == "EINVAL"


def test_timerfd_settime_on_non_timerfd_is_einval(kernel: Kernel, fds) -> None:
    r, _ = fds.pipe()
    assert kernel.timerfd_settime(r, 0, _spec(kernel, MS), None).errno == "EINVAL"


def test_timerfd_settime_interval_nsec_out_of_range_is_einval(kernel: Kernel, tfd: int) -> None:
    its = _spec(kernel, MS)
    its.it_interval.tv_nsec = 1_000_000_000
    assert kernel.timerfd_settime(tfd, 0, its, None).errno == "EINVAL"


def test_timerfd_settime_negative_seconds_is_einval(kernel: Kernel, tfd: int) -> None:
    its = _spec(kernel, MS)
    its.it_value.tv_sec = -1
    assert kernel.timerfd_settime(tfd, 0, its, None).errno == "EINVAL"


@pytest.mark.parametrize("clock", ["CLOCK_REALTIME_ALARM", "CLOCK_BOOTTIME_ALARM"])
@pytest.mark.as_user("root may set wake-up alarms (CAP_WAKE_ALARM)")
def test_timerfd_alarm_clock_without_wake_alarm_is_eperm(kernel: Kernel, clock: str) -> None:
    assert kernel.timerfd_create(getattr(kernel, clock), 0).errno == "EPERM"


def test_timerfd_clock_process_cputime_is_einval(kernel: Kernel) -> None:
    assert kernel.timerfd_create(kernel.CLOCK_PROCESS_CPUTIME_ID, 0).errno == "EINVAL"


def test_timerfd_settime_discards_unread_expirations(kernel: Kernel, tfd: int) -> None:
    kernel.timerfd_settime(tfd, 0, _spec(kernel, 1), None).unwrap()
    p = kernel.new("struct pollfd *", (tfd, kernel.POLLIN, 0))
    assert readiness.poll(kernel, p, 1, 1000).unwrap() == 1
    kernel.timerfd_settime(tfd, 0, _spec(kernel, 10_000 * MS), None).unwrap()
    assert kernel.read(tfd, kernel.new("uint64_t *"), 8).errno == "EAGAIN"


def test_timerfd_cancel_on_set_without_abstime_is_accepted(kernel: Kernel, fds) -> None:
    fd = fds(kernel.timerfd_create(kernel.CLOCK_REALTIME, kernel.TFD_NONBLOCK))
    spec = _spec(kernel, 10_000 * MS)
    kernel.timerfd_settime(fd, kernel.TFD_TIMER_CANCEL_ON_SET, spec, None).unwrap()
    cur = kernel.new("struct itimerspec *")
    kernel.timerfd_gettime(fd, cur).unwrap()
    assert 0 < _ns(cur.it_value) <= 10_000 * MS


def _set_ticks(kernel: Kernel, fd: int, ticks: int):
    r = kernel.ioctl(fd, kernel.TFD_IOC_SET_TICKS, kernel.new("uint64_t *", ticks))
    if r.errno == "ENOTTY" and kconfig.built_without("CONFIG_CHECKPOINT_RESTORE"):
        pytest.skip("TFD_IOC_SET_TICKS needs CONFIG_CHECKPOINT_RESTORE (ENOTTY)")
    if r.errno == "ENOTTY" and compat_process():  # fs/timerfd.c has no compat_ioctl
        pytest.skip("TFD_IOC_SET_TICKS is ENOTTY to a 32-bit process on a 64-bit kernel")
    return r


@pytest.mark.min_kernel("3.17")
def test_timerfd_ioc_set_ticks_is_what_read_returns(kernel: Kernel, tfd: int) -> None:
    _set_ticks(kernel, tfd, 5).unwrap()
    assert _expirations(kernel, tfd) == 5
    assert kernel.read(tfd, kernel.new("uint64_t *"), 8).errno == "EAGAIN"


@pytest.mark.min_kernel("3.17")
def test_timerfd_ioc_set_ticks_of_zero_is_einval(kernel: Kernel, tfd: int) -> None:
    assert _set_ticks(kernel, tfd, 0).errno == "EINVAL"
