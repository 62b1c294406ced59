"""clock_gettime(2), clock_getres(2), clock_settime(2) for every clock id.

The alarm clocks (CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM) read only where the
machine has an RTC that can wake it (kernel/time/alarmtimer.c: alarmtimer_get_rtcdev);
without one they answer EINVAL, as in most VMs and under gVisor. Both are accepted and
the outcome is recorded as a value (a --baseline from another machine is not worse).

Where the ABI has 32-bit time calls beside the 64-bit ones (i386: the suite's
clock_gettime is clock_gettime64 with a 64-bit timespec, clock_gettime32 is i386's own
clock_gettime with struct old_timespec32), both read the same clocks; elsewhere those
tests skip ("clock_gettime32: not in the linux/x86_64 table").
"""

import os
import time

import pytest

from syscalls import forking
from syscalls.expect import ByOS
from syscalls.kernel import Kernel
from syscalls.threads import Waiter

CLOCKS = [
    "CLOCK_REALTIME",
    "CLOCK_MONOTONIC",
    "CLOCK_PROCESS_CPUTIME_ID",
    "CLOCK_THREAD_CPUTIME_ID",
    "CLOCK_MONOTONIC_RAW",
    "CLOCK_REALTIME_COARSE",
    "CLOCK_MONOTONIC_COARSE",
    "CLOCK_BOOTTIME",
    "CLOCK_TAI",
]
ALARM_CLOCKS = ["CLOCK_REALTIME_ALARM", "CLOCK_BOOTTIME_ALARM"]
STEADY = ["CLOCK_MONOTONIC", "CLOCK_MONOTONIC_RAW", "CLOCK_MONOTONIC_COARSE", "CLOCK_BOOTTIME"]
BAD_CLOCK = 1000  # past MAX_CLOCKS (16), and positive: not a CPU-clock id either

AS_USER = pytest.mark.as_user("root may set the clock (CAP_SYS_TIME)")


# clock_getres knows only CLOCK_REALTIME and CLOCK_MONOTONIC on NetBSD 7
# (sys/kern/kern_time.c, clock_getres1).
GETRES_CPU_CLOCK = ByOS(default="ok", netbsd="EINVAL")


def _ns(kernel: Kernel, clock: int) -> int:
    ts = kernel.new("struct timespec *")
    kernel.clock_gettime(clock, ts).unwrap()
    assert 0 <= ts.tv_nsec < 1_000_000_000
    return ts.tv_sec * 1_000_000_000 + ts.tv_nsec


@pytest.mark.parametrize(
    "clock",
    [
        "CLOCK_REALTIME",
        "CLOCK_MONOTONIC",
        pytest.param("CLOCK_PROCESS_CPUTIME_ID", marks=pytest.mark.requires("cpu_time")),
        pytest.param("CLOCK_THREAD_CPUTIME_ID", marks=pytest.mark.requires("cpu_time")),
        "CLOCK_MONOTONIC_RAW",
        "CLOCK_REALTIME_COARSE",
        "CLOCK_MONOTONIC_COARSE",
        "CLOCK_BOOTTIME",
        "CLOCK_TAI",
    ],
)
@pytest.mark.smoke
def test_clock_gettime_reads_a_normalised_time(kernel: Kernel, clock: str) -> None:
    assert _ns(kernel, getattr(kernel, clock)) > 0


@pytest.mark.os("linux")
@pytest.mark.parametrize("clock", ALARM_CLOCKS)
def test_clock_gettime_alarm_clock_reads_or_is_einval(kernel: Kernel, clock: str, observe) -> None:
    ts = kernel.new("struct timespec *")
    with kernel.unobserved():  # the machine's RTC decides: a recorded value, not an answer
        r = kernel.clock_gettime(getattr(kernel, clock), ts)
    observe("outcome", r.outcome)
    assert r.ok or r.errno == "EINVAL"
    assert not r.ok or ts.tv_sec > 0


@pytest.mark.parametrize("clock", CLOCKS)
def test_clock_getres_is_positive_and_below_a_second(kernel: Kernel, clock: str) -> None:
    res = kernel.new("struct timespec *")
    r = kernel.clock_getres(getattr(kernel, clock), res)
    if "CPUTIME" in clock:
        assert r.outcome == GETRES_CPU_CLOCK[kernel.platform.os]
    else:
        r.unwrap()
    if r.ok:
        assert (res.tv_sec, 0) == (0, 0) and 0 < res.tv_nsec < 1_000_000_000


def test_clock_getres_with_null_result_succeeds(kernel: Kernel) -> None:
    # POSIX stores the resolution only "if the argument res is not NULL": NULL asks
    # whether the clock exists. glibc answers from the vDSO; this is the system call.
    assert kernel.clock_getres(kernel.CLOCK_MONOTONIC, None).outcome == "ok"


@pytest.mark.os("linux")
def test_clock_getres_coarse_is_no_finer_than_monotonic(kernel: Kernel, observe) -> None:
    fine, coarse = kernel.new("struct timespec *"), kernel.new("struct timespec *")
    kernel.clock_getres(kernel.CLOCK_MONOTONIC, fine).unwrap()
    kernel.clock_getres(kernel.CLOCK_MONOTONIC_COARSE, coarse).unwrap()
    observe("coarse_ns", coarse.tv_nsec)
    assert coarse.tv_nsec >= fine.tv_nsec


@pytest.mark.parametrize("clock", STEADY)
def test_clock_gettime_steady_clock_never_goes_backwards(kernel: Kernel, clock: str) -> None:
    ident = getattr(kernel, clock)
    readings = [_ns(kernel, ident) for _ in range(500)]
    assert readings == sorted(readings)


def test_clock_gettime_boottime_is_not_behind_monotonic(kernel: Kernel) -> None:
    mono = _ns(kernel, kernel.CLOCK_MONOTONIC)
    assert _ns(kernel, kernel.CLOCK_BOOTTIME) >= mono


def test_clock_gettime_tai_is_realtime_plus_whole_seconds(kernel: Kernel, observe) -> None:
    real = _ns(kernel, kernel.CLOCK_REALTIME)
    offset = _ns(kernel, kernel.CLOCK_TAI) - real
    seconds = round(offset / 1e9)
    observe("tai_offset_s", seconds)
    assert seconds >= 0
    assert abs(offset - seconds * 1_000_000_000) < 50_000_000


def test_clock_gettime_realtime_agrees_with_python_time(kernel: Kernel) -> None:
    assert abs(_ns(kernel, kernel.CLOCK_REALTIME) / 1e9 - time.time()) < 1.0


@pytest.mark.requires("cpu_time")
def test_clock_gettime_thread_cputime_advances_with_work(kernel: Kernel) -> None:
    before = _ns(kernel, kernel.CLOCK_THREAD_CPUTIME_ID)
    deadline = time.monotonic() + 0.02
    while time.monotonic() < deadline:  # burn CPU for 20 ms
        pass
    assert _ns(kernel, kernel.CLOCK_THREAD_CPUTIME_ID) > before


@pytest.mark.requires("cpu_time")
def test_clock_gettime_process_cputime_covers_the_thread(kernel: Kernel) -> None:
    thread = _ns(kernel, kernel.CLOCK_THREAD_CPUTIME_ID)
    assert _ns(kernel, kernel.CLOCK_PROCESS_CPUTIME_ID) >= thread


# The process clock sums every thread's CPU time, those that have ended included
# (kernel/time/posix-cpu-timers.c, cpu_clock_sample_group). In a forked child the
# calling thread is the group leader, whose own time alone would leave the other's out.
@pytest.mark.requires("cpu_time")
def test_clock_gettime_process_cputime_counts_another_threads_time(
    kernel: Kernel, in_child
) -> None:
    def burn() -> int:  # 20 ms of this thread's CPU time (10 s at most, whatever it gets)
        deadline = time.monotonic() + 10
        while _ns(kernel, kernel.CLOCK_THREAD_CPUTIME_ID) < 20_000_000:
            if time.monotonic() > deadline:
                break
        return _ns(kernel, kernel.CLOCK_THREAD_CPUTIME_ID)

    def run() -> tuple[int, int]:
        other = Waiter(burn).join()
        mine = _ns(kernel, kernel.CLOCK_THREAD_CPUTIME_ID)
        return _ns(kernel, kernel.CLOCK_PROCESS_CPUTIME_ID) - mine, other

    others, other = in_child(run)
    assert other > 0
    assert others >= other


@pytest.mark.parametrize("call", ["clock_gettime", "clock_getres"])
@pytest.mark.smoke
def test_clock_unknown_id_is_einval(kernel: Kernel, call: str) -> None:
    assert getattr(kernel, call)(BAD_CLOCK, kernel.new("struct timespec *")).errno == "EINVAL"


@pytest.mark.requires("fault_handler")
def test_clock_gettime_unmapped_buffer_is_efault(kernel: Kernel) -> None:
    assert kernel.clock_gettime(kernel.CLOCK_MONOTONIC, 8).errno == "EFAULT"


def test_clock_settime_monotonic_is_einval(kernel: Kernel) -> None:
    ts = kernel.new("struct timespec *")
    kernel.clock_gettime(kernel.CLOCK_MONOTONIC, ts).unwrap()
    assert kernel.clock_settime(kernel.CLOCK_MONOTONIC, ts).errno == "EINVAL"


@AS_USER
def test_clock_settime_realtime_without_privilege_is_eperm(kernel: Kernel) -> None:
    ts = kernel.new("struct timespec *")
    kernel.clock_gettime(kernel.CLOCK_REALTIME, ts).unwrap()
    assert kernel.clock_settime(kernel.CLOCK_REALTIME, ts).errno == "EPERM"


def _ns32(gettime32, kernel: Kernel, clock: int) -> int:
    ts = kernel.new("struct old_timespec32 *")
    gettime32(clock, ts).unwrap()
    assert 0 <= ts.tv_nsec < 1_000_000_000
    return ts.tv_sec * 1_000_000_000 + ts.tv_nsec


def test_clock_gettime32_and_the_64_bit_call_read_the_same_monotonic_clock(
    kernel: Kernel,
) -> None:
    gettime32 = kernel.clock_gettime32
    before = _ns32(gettime32, kernel, kernel.CLOCK_MONOTONIC)
    middle = _ns(kernel, kernel.CLOCK_MONOTONIC)
    assert before <= middle <= _ns32(gettime32, kernel, kernel.CLOCK_MONOTONIC)


def test_clock_gettime32_and_the_64_bit_call_agree_on_the_time_of_day(
    kernel: Kernel, observe
) -> None:
    gettime32 = kernel.clock_gettime32
    wide = _ns(kernel, kernel.CLOCK_REALTIME)
    narrow = _ns32(gettime32, kernel, kernel.CLOCK_REALTIME)
    observe("realtime_fits_32_bits", wide // 1_000_000_000 < 1 << 31)
    assert abs(narrow - wide) < 5_000_000_000


def _cpu_clock(pid: int, thread: bool = False) -> int:
    """The clock id of a process's (or thread's) CPU-time clock, as clock_getcpuclockid
    makes it: ~pid << 3, then CPUCLOCK_SCHED (2), plus 4 for a thread
    (include/linux/posix-timers.h, make_process_cpuclock)."""
    return (~pid << 3) | 2 | (4 if thread else 0)


@pytest.mark.os("linux")
def test_clock_gettime_of_a_processes_cpu_clock_by_pid_reads(kernel: Kernel) -> None:
    ts = kernel.new("struct timespec *")
    kernel.clock_gettime(_cpu_clock(os.getpid()), ts).unwrap()
    assert ts.tv_sec * 1_000_000_000 + ts.tv_nsec > 0


@pytest.mark.os("linux")
def test_clock_gettime_cpu_clock_of_a_reaped_process_is_einval(kernel: Kernel, in_child) -> None:
    def run() -> str:
        pid = forking.fork(kernel)
        forking.wait(kernel, pid)
        return kernel.clock_gettime(_cpu_clock(pid), kernel.new("struct timespec *")).outcome

    assert in_child(run) == "EINVAL"


@pytest.mark.os("linux")
def test_clock_gettime_thread_cpu_clock_of_another_process_is_einval(
    kernel: Kernel, in_child
) -> None:
    """A thread's CPU clock may be read only from its own thread group."""

    def run() -> tuple[str, str]:
        r, w = os.pipe()
        pid = forking.fork(kernel, lambda: os.read(r, 1) and 0)
        try:
            ts = kernel.new("struct timespec *")
            other = kernel.clock_gettime(_cpu_clock(pid, thread=True), ts).outcome
            mine = kernel.clock_gettime(_cpu_clock(kernel.gettid().unwrap(), True), ts).outcome
            return other, mine
        finally:
            os.write(w, b"x")
            forking.wait(kernel, pid)

    assert in_child(run) == ("EINVAL", "ok")


@pytest.mark.os("linux")
def test_clock_settime_of_a_cpu_clock_named_by_pid_is_eperm(kernel: Kernel) -> None:
    """No one may set a CPU-time clock, root included (kernel/time/posix-cpu-timers.c:
    posix_cpu_clock_set checks the clock, then refuses)."""
    ts = kernel.new("struct timespec *", (1, 0))
    assert kernel.clock_settime(_cpu_clock(os.getpid()), ts).errno == "EPERM"


@pytest.mark.os("linux")
@pytest.mark.parametrize("clock", ["CLOCK_PROCESS_CPUTIME_ID", "CLOCK_THREAD_CPUTIME_ID"])
def test_clock_settime_of_the_own_cpu_clocks_is_einval(kernel: Kernel, clock: str) -> None:
    """The two fixed CPU-clock ids have no set operation at all: EINVAL, as for any clock
    without one (kernel/time/posix-timers.c: clock_settime)."""
    ts = kernel.new("struct timespec *", (1, 0))
    assert kernel.clock_settime(getattr(kernel, clock), ts).errno == "EINVAL"


@pytest.mark.os("linux")
@pytest.mark.parametrize("clock", ["CLOCK_PROCESS_CPUTIME_ID", "CLOCK_THREAD_CPUTIME_ID"])
def test_clock_getres_of_a_cpu_clock_is_one_nanosecond(kernel: Kernel, clock: str) -> None:
    ts = kernel.new("struct timespec *")
    kernel.clock_getres(getattr(kernel, clock), ts).unwrap()
    assert (ts.tv_sec, ts.tv_nsec) == (0, 1)
