"""POSIX per-process timers: timer_create/settime/gettime/getoverrun/delete(2).

The kernel's timer id is an int (__kernel_timer_t). struct sigevent is in
platforms/linux/common.h. A timer signal's siginfo carries, after the three leading
ints and padding (where the union starts: offset 16 on 64-bit, 12 on i386), the timer
id, the overrun count and the sigval (asm-generic/siginfo.h, _sifields._timer); read here
by those offsets.
"""

import os
import signal
import struct
import time

import pytest

from syscalls import forking
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

NS = 1_000_000_000
MS = 1_000_000
SIGSET_BYTES = 8  # the kernel's sigset_t: _NSIG = 64 bits


def _spec(kernel: Kernel, value_ns: int, interval_ns: int = 0):
    its = kernel.new("struct itimerspec *")
    its.it_value.tv_sec, its.it_value.tv_nsec = divmod(value_ns, NS)
    its.it_interval.tv_sec, its.it_interval.tv_nsec = divmod(interval_ns, NS)
    return its


def _ns(ts) -> int:
    return ts.tv_sec * NS + ts.tv_nsec


def _create(kernel: Kernel, notify: int, signo: int = 0, value: int = 0, clock=None):
    ev = kernel.new("struct sigevent *")
    ev.sigev_notify, ev.sigev_signo = notify, signo
    ev.sigev_value.sival_int = value
    tid = kernel.new("int *")
    r = kernel.timer_create(kernel.CLOCK_MONOTONIC if clock is None else clock, ev, tid)
    return r, tid[0]


@pytest.fixture
def timers(kernel: Kernel):
    """Timer ids to delete at teardown (straight through libc: not recorded)."""
    held: list[int] = []
    yield held
    nr = kernel.ffi.cast("long", kernel.platform.syscalls["timer_delete"])
    for tid in held:
        kernel.libc.syscall(nr, kernel.ffi.cast("long", tid))


def _none_timer(kernel: Kernel, timers: list[int]) -> int:
    r, tid = _create(kernel, kernel.SIGEV_NONE)
    r.unwrap()
    timers.append(tid)
    return tid


def _wait_signal(kernel: Kernel, signo: int, timeout_s: int = 5) -> bytes:
    """rt_sigtimedwait for one blocked signal; the raw siginfo bytes."""
    info = kernel.new("siginfo_t *")
    ts = kernel.new("struct timespec *", (timeout_s, 0))
    mask = kernel.new("uint64_t *", 1 << (signo - 1))
    assert kernel.rt_sigtimedwait(mask, info, ts, SIGSET_BYTES).unwrap() == signo
    return kernel.bytes(info, kernel.ffi.sizeof("siginfo_t"))


def test_timer_new_timer_is_disarmed(kernel: Kernel, timers) -> None:
    tid = _none_timer(kernel, timers)
    cur = kernel.new("struct itimerspec *")
    kernel.timer_gettime(tid, cur).unwrap()
    assert (_ns(cur.it_value), _ns(cur.it_interval)) == (0, 0)


def test_timer_gettime_counts_down_from_settime(kernel: Kernel, timers) -> None:
    tid = _none_timer(kernel, timers)
    kernel.timer_settime(tid, 0, _spec(kernel, 10 * NS, NS), None).unwrap()
    cur = kernel.new("struct itimerspec *")
    kernel.timer_gettime(tid, cur).unwrap()
    assert 9 * NS < _ns(cur.it_value) <= 10 * NS
    assert _ns(cur.it_interval) == NS


def test_timer_settime_returns_the_previous_setting(kernel: Kernel, timers) -> None:
    tid = _none_timer(kernel, timers)
    kernel.timer_settime(tid, 0, _spec(kernel, 10 * NS), None).unwrap()
    old = kernel.new("struct itimerspec *")
    kernel.timer_settime(tid, 0, _spec(kernel, 0), old).unwrap()
    assert 9 * NS < _ns(old.it_value) <= 10 * NS


def test_timer_abstime_in_the_past_expires_at_once(kernel: Kernel, timers) -> None:
    tid = _none_timer(kernel, timers)
    now = kernel.new("struct timespec *")
    kernel.clock_gettime(kernel.CLOCK_MONOTONIC, now).unwrap()
    past = _spec(kernel, max(_ns(now) - NS, 1))
    kernel.timer_settime(tid, kernel.TIMER_ABSTIME, past, None).unwrap()
    cur = kernel.new("struct itimerspec *")
    kernel.timer_gettime(tid, cur).unwrap()
    assert _ns(cur.it_value) == 0


def _fields(kernel: Kernel) -> int:
    """Where siginfo's union (_sifields) starts: the offset of its first member."""
    return kernel.ffi.offsetof("siginfo_t", "si_pid")


def test_timer_sigev_signal_delivers_timer_siginfo(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int, int, int, int]:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
        r, tid = _create(kernel, kernel.SIGEV_SIGNAL, signal.SIGUSR1, 4242)
        r.unwrap()
        kernel.timer_settime(tid, 0, _spec(kernel, 5 * MS), None).unwrap()
        raw = _wait_signal(kernel, signal.SIGUSR1)
        signo, _, code = struct.unpack_from("=iii", raw, 0)
        timer_id, _, value = struct.unpack_from("=iii", raw, _fields(kernel))
        return signo, code, timer_id, value, tid

    signo, code, timer_id, value, tid = in_child(run)
    assert (signo, code, value) == (signal.SIGUSR1, kernel.SI_TIMER, 4242)
    assert timer_id == tid


def test_timer_getoverrun_counts_expirations_while_pending(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})
        r, tid = _create(kernel, kernel.SIGEV_SIGNAL, signal.SIGUSR2)
        r.unwrap()
        kernel.timer_settime(tid, 0, _spec(kernel, MS, MS), None).unwrap()
        time.sleep(0.02)  # ~20 expirations, one signal queued
        raw = _wait_signal(kernel, signal.SIGUSR2)
        overrun = kernel.timer_getoverrun(tid).unwrap()  # of the signal just taken
        return struct.unpack_from("=i", raw, _fields(kernel) + 4)[0], overrun

    si_overrun, overrun = in_child(run)
    assert si_overrun >= 5
    assert overrun == si_overrun


def test_timer_sigev_none_sends_no_signal(kernel: Kernel, in_child) -> None:
    def run() -> set[int]:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        r, tid = _create(kernel, kernel.SIGEV_NONE, signal.SIGALRM)
        r.unwrap()
        kernel.timer_settime(tid, 0, _spec(kernel, MS), None).unwrap()
        time.sleep(0.02)
        return signal.sigpending()

    assert signal.SIGALRM not in in_child(run)


def test_timer_deleted_timer_is_einval(kernel: Kernel) -> None:
    r, tid = _create(kernel, kernel.SIGEV_NONE)
    r.unwrap()
    kernel.timer_delete(tid).unwrap()
    assert kernel.timer_gettime(tid, kernel.new("struct itimerspec *")).errno == "EINVAL"


def test_timer_delete_unknown_id_is_einval(kernel: Kernel) -> None:
    assert kernel.timer_delete(123456).errno == "EINVAL"


def test_timer_create_unknown_clock_is_einval(kernel: Kernel) -> None:
    r, _ = _create(kernel, kernel.SIGEV_NONE, clock=1000)
    assert r.errno == "EINVAL"


def test_timer_create_unknown_notify_is_einval(kernel: Kernel) -> None:
    r, _ = _create(kernel, 77)
    assert r.errno == "EINVAL"


def test_timer_create_invalid_signal_is_einval(kernel: Kernel) -> None:
    r, _ = _create(kernel, kernel.SIGEV_SIGNAL, 200)
    assert r.errno == "EINVAL"


def test_timer_settime_nsec_out_of_range_is_einval(kernel: Kernel, timers) -> None:
    tid = _none_timer(kernel, timers)
    its = _spec(kernel, 0)
    its.it_value.tv_nsec = NS
    assert kernel.timer_settime(tid, 0, its, None).errno == "EINVAL"


def test_timer_settime_zero_value_disarms_an_armed_timer(kernel: Kernel, in_child) -> None:
    """A signalling timer (a SIGEV_NONE one may go on reporting its old expiry)."""

    def run() -> tuple[int, int]:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
        r, tid = _create(kernel, kernel.SIGEV_SIGNAL, signal.SIGUSR1)
        r.unwrap()
        kernel.timer_settime(tid, 0, _spec(kernel, 10 * NS), None).unwrap()
        old = kernel.new("struct itimerspec *")
        kernel.timer_settime(tid, 0, _spec(kernel, 0), old).unwrap()
        cur = kernel.new("struct itimerspec *")
        kernel.timer_gettime(tid, cur).unwrap()
        kernel.timer_delete(tid).unwrap()
        return _ns(old.it_value) > 9 * NS, _ns(cur.it_value)

    assert in_child(run) == (True, 0)


def test_timer_settime_negative_seconds_is_einval(kernel: Kernel, timers) -> None:
    tid = _none_timer(kernel, timers)
    its = _spec(kernel, NS)
    its.it_value.tv_sec = -1
    assert kernel.timer_settime(tid, 0, its, None).errno == "EINVAL"


def test_timer_settime_interval_nsec_out_of_range_is_einval(kernel: Kernel, timers) -> None:
    tid = _none_timer(kernel, timers)
    its = _spec(kernel, NS)
    its.it_interval.tv_nsec = NS
    assert kernel.timer_settime(tid, 0, its, None).errno == "EINVAL"


def test_timer_getoverrun_unknown_id_is_einval(kernel: Kernel) -> None:
    assert kernel.timer_getoverrun(123456).errno == "EINVAL"


def test_timer_create_signal_zero_is_einval(kernel: Kernel) -> None:
    r, _ = _create(kernel, kernel.SIGEV_SIGNAL, 0)
    assert r.errno == "EINVAL"


def test_timer_create_for_a_thread_of_another_process_is_einval(kernel: Kernel, in_child) -> None:
    """SIGEV_THREAD_ID must name a thread of the caller's own thread group."""

    def run() -> str:
        pid = forking.fork(kernel, lambda: os.read(os.pipe()[0], 1) and 0)
        try:
            ev = kernel.new("struct sigevent *")
            ev.sigev_notify = kernel.SIGEV_THREAD_ID
            ev.sigev_signo = signal.SIGUSR1
            ev._sigev_un._tid = pid
            tid = kernel.new("int *")
            r = kernel.timer_create(kernel.CLOCK_MONOTONIC, ev, tid)
            if r.ok:
                kernel.timer_delete(tid[0])
            return r.outcome
        finally:
            kernel.kill(pid, signal.SIGKILL)
            forking.wait(kernel, pid)

    assert in_child(run) == "EINVAL"


def test_timer_null_sigevent_sends_sigalrm_with_the_timer_id(kernel: Kernel, in_child) -> None:
    """Without a sigevent: SIGEV_SIGNAL, SIGALRM, and the timer id as the value."""

    def run() -> tuple[int, int]:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        tid = kernel.new("int *")
        kernel.timer_create(kernel.CLOCK_MONOTONIC, None, tid).unwrap()
        kernel.timer_settime(tid[0], 0, _spec(kernel, MS), None).unwrap()
        raw = _wait_signal(kernel, signal.SIGALRM)
        timer_id, _, value = struct.unpack_from("=iii", raw, _fields(kernel))
        kernel.timer_delete(tid[0]).unwrap()
        return timer_id - tid[0], value - tid[0]

    assert in_child(run) == (0, 0)


# An alarm clock's timer wakes the machine: CAP_WAKE_ALARM's (kernel/time/alarmtimer.c
# alarm_timer_create), asked only where there is an RTC to wake it (EOPNOTSUPP first,
# unlike timerfd_create, which asks for the capability before anything else).
@pytest.mark.as_user("root may set wake-up alarms (CAP_WAKE_ALARM)")
@pytest.mark.parametrize("clock", ["CLOCK_REALTIME_ALARM", "CLOCK_BOOTTIME_ALARM"])
def test_timer_create_on_an_alarm_clock_as_a_user_is_eperm(
    kernel: Kernel, timers, clock: str
) -> None:
    r, tid = _create(kernel, kernel.SIGEV_NONE, clock=getattr(kernel, clock))
    if r.ok:
        timers.append(tid)
    elif r.errno == "EOPNOTSUPP":
        pytest.skip("no RTC device wakes alarm timers here (EOPNOTSUPP before the check)")
    assert r.errno == "EPERM"
