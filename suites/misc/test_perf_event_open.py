"""perf_event_open(2) with software events: counters of the calling process (task clock,
page faults, context switches) read through the returned fd.

/proc/sys/kernel/perf_event_paranoid decides what a user may count: at 2 (the
upstream default) its own process's user-space events only (exclude_kernel=1); Debian
patches in a 3 that refuses users everything. The counting tests skip for a user there,
saying so; root (CAP_PERFMON) may always. Counts are checked against work the test
does, never against a figure.
"""

import mmap
import os
import time
from pathlib import Path
from typing import Any

import pytest

from syscalls import forking
from syscalls.kernel import Kernel

pytestmark = [pytest.mark.os("linux"), pytest.mark.min_kernel("2.6.32")]

_SYSCTL = Path("/proc/sys/kernel/perf_event_paranoid")
PARANOID = int(_SYSCTL.read_text()) if _SYSCTL.exists() else 2
ROOT = os.geteuid() == 0
counting = pytest.mark.skipif(
    not ROOT and PARANOID > 2,
    reason=f"perf_event_paranoid = {PARANOID} refuses users every perf event (Debian)",
)
counting_kernel = pytest.mark.skipif(
    not ROOT and PARANOID >= 2,
    reason=f"perf_event_paranoid = {PARANOID} refuses users events counted in the kernel",
)


def NOT_ROOT_AT_2(test: Any) -> Any:
    """What perf_event_paranoid >= 2 refuses a user (run as one: syscalls.as_user)."""
    test = pytest.mark.skipif(
        PARANOID < 2, reason=f"perf_event_paranoid = {PARANOID} refuses a user less"
    )(test)
    return pytest.mark.as_user("root may open any perf event (CAP_PERFMON)")(test)


def _attr(
    kernel: Kernel, config: str, disabled: bool = False, read_format: int = 0, user_only=True
) -> Any:
    attr = kernel.new("struct perf_event_attr *")
    attr.type = kernel.PERF_TYPE_SOFTWARE
    attr.size = kernel.ffi.sizeof(attr[0])
    attr.config = getattr(kernel, f"PERF_COUNT_SW_{config}")
    attr.disabled = int(disabled)
    attr.exclude_kernel = attr.exclude_hv = int(user_only)  # what paranoid 2 lets a user count
    attr.read_format = read_format
    return attr


def _open(kernel: Kernel, attr: Any, pid: int = 0, cpu: int = -1, group: int = -1, flags=None):
    cloexec = kernel.PERF_FLAG_FD_CLOEXEC if flags is None else flags
    return kernel.perf_event_open(attr, pid, cpu, group, cloexec)


@pytest.fixture
def counter(kernel: Kernel):
    """counter(config, ...) -> fd of an event on this process, closed afterwards."""
    opened: list[int] = []

    def make(config: str, **kw: Any) -> int:
        group = kw.pop("group", -1)
        fd = _open(kernel, _attr(kernel, config, **kw), group=group).unwrap()
        opened.append(fd)
        return fd

    yield make
    for fd in opened:
        os.close(fd)


def _count(fd: int) -> int:
    return int.from_bytes(os.read(fd, 8), "little")


def _spin(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


@counting
def test_task_clock_counts_the_cpu_time_spent(kernel: Kernel, counter) -> None:
    fd = counter("TASK_CLOCK")
    _spin(0.01)
    first = _count(fd)
    _spin(0.01)
    second = _count(fd)
    assert 0 < first < second  # nanoseconds of this task's CPU time


@counting
def test_page_faults_count_the_pages_touched(kernel: Kernel, counter) -> None:
    pages = 16
    area = mmap.mmap(-1, pages * mmap.PAGESIZE)
    try:
        fd = counter("PAGE_FAULTS")
        before = _count(fd)
        for i in range(pages):
            area[i * mmap.PAGESIZE] = 1
        assert _count(fd) - before >= pages
    finally:
        area.close()


@counting_kernel
def test_context_switches_count_sleeps(kernel: Kernel, counter) -> None:
    """A switch happens in the kernel: excluding kernel mode would count none."""
    fd = counter("CONTEXT_SWITCHES", user_only=False)
    before = _count(fd)
    for _ in range(3):
        # Each sleep gives the CPU up, unless its timer fires before the sleeper reaches
        # schedule() (kernel/time/hrtimer.c do_nanosleep): a vCPU stalled as long as the
        # sleep (TCG under load: 2 of 3 once, with 1 ms) gives none, so 10 ms.
        time.sleep(0.01)
    assert _count(fd) - before >= 3


@counting
def test_dummy_event_counts_nothing(kernel: Kernel, counter) -> None:
    fd = counter("DUMMY")
    _spin(0.005)
    assert _count(fd) == 0


@counting
def test_disabled_event_counts_only_once_enabled(kernel: Kernel, counter) -> None:
    fd = counter("TASK_CLOCK", disabled=True)
    _spin(0.005)
    idle = _count(fd)
    kernel.ioctl(fd, kernel.PERF_EVENT_IOC_ENABLE, 0).unwrap()
    _spin(0.005)
    kernel.ioctl(fd, kernel.PERF_EVENT_IOC_DISABLE, 0).unwrap()
    stopped = _count(fd)
    _spin(0.005)
    assert idle == 0
    assert stopped > 0
    assert _count(fd) == stopped  # disabled again: frozen


@counting
def test_reset_zeroes_the_count(kernel: Kernel, counter) -> None:
    fd = counter("TASK_CLOCK", disabled=True)
    kernel.ioctl(fd, kernel.PERF_EVENT_IOC_ENABLE, 0).unwrap()
    _spin(0.005)
    kernel.ioctl(fd, kernel.PERF_EVENT_IOC_DISABLE, 0).unwrap()
    counted = _count(fd)
    kernel.ioctl(fd, kernel.PERF_EVENT_IOC_RESET, 0).unwrap()
    assert counted > 0
    assert _count(fd) == 0


@counting
def test_read_format_adds_times_and_id(kernel: Kernel, counter) -> None:
    fmt = (
        kernel.PERF_FORMAT_TOTAL_TIME_ENABLED
        | kernel.PERF_FORMAT_TOTAL_TIME_RUNNING
        | kernel.PERF_FORMAT_ID
    )
    fd = counter("TASK_CLOCK", read_format=fmt)
    _spin(0.005)
    data = os.read(fd, 64)
    value, enabled, running, ident = (
        int.from_bytes(data[i : i + 8], "little") for i in range(0, 32, 8)
    )
    assert len(data) == 32
    assert value > 0 and enabled >= running > 0
    assert ident > 0


@counting
def test_group_read_returns_every_member(kernel: Kernel, counter) -> None:
    fmt = kernel.PERF_FORMAT_GROUP
    leader = counter("TASK_CLOCK", read_format=fmt)
    counter("PAGE_FAULTS", read_format=fmt, group=leader)
    _spin(0.005)
    data = os.read(leader, 64)
    nr, clock = int.from_bytes(data[0:8], "little"), int.from_bytes(data[8:16], "little")
    assert (len(data), nr) == (24, 2)
    assert clock > 0


@counting
def test_read_into_a_buffer_too_small_is_enospc(kernel: Kernel, counter) -> None:
    fd = counter("TASK_CLOCK")
    assert kernel.read(fd, kernel.buf(4), 4).errno == "ENOSPC"


@counting
def test_fd_is_close_on_exec_with_the_flag(kernel: Kernel, counter) -> None:
    fd = counter("TASK_CLOCK")
    assert kernel.fcntl(fd, kernel.F_GETFD, 0).unwrap() & kernel.FD_CLOEXEC


def test_attr_size_below_version_0_is_e2big_with_the_kernels_size(kernel: Kernel) -> None:
    attr = _attr(kernel, "TASK_CLOCK")
    attr.size = 32
    assert _open(kernel, attr).errno == "E2BIG"
    assert attr.size >= kernel.PERF_ATTR_SIZE_VER7  # written back


def test_attr_larger_than_the_kernels_with_unknown_bytes_is_e2big(kernel: Kernel) -> None:
    buf = kernel.buf(4096)
    attr = kernel.ffi.cast("struct perf_event_attr *", buf)
    kernel.ffi.memmove(attr, _attr(kernel, "TASK_CLOCK"), kernel.ffi.sizeof(attr[0]))
    attr.size = 4096
    buf[4000] = b"\x01"
    assert _open(kernel, attr).errno == "E2BIG"


def test_unknown_event_type_is_enoent(kernel: Kernel) -> None:
    attr = _attr(kernel, "TASK_CLOCK")
    attr.type = 0x7FFF0000  # no PMU has it
    assert _open(kernel, attr).errno == "ENOENT"


def test_unknown_flags_are_einval(kernel: Kernel) -> None:
    assert _open(kernel, _attr(kernel, "TASK_CLOCK"), flags=1 << 20).errno == "EINVAL"


def test_of_a_missing_pid_is_esrch(kernel: Kernel) -> None:
    assert _open(kernel, _attr(kernel, "TASK_CLOCK"), pid=forking.missing_pid()).errno == "ESRCH"


@NOT_ROOT_AT_2
def test_counting_kernel_events_as_a_user_is_eacces(kernel: Kernel) -> None:
    attr = _attr(kernel, "TASK_CLOCK")
    attr.exclude_kernel = 0
    assert _open(kernel, attr).errno == "EACCES"


@NOT_ROOT_AT_2
def test_a_cpu_wide_event_as_a_user_is_eacces(kernel: Kernel) -> None:
    assert _open(kernel, _attr(kernel, "TASK_CLOCK"), pid=-1, cpu=0).errno == "EACCES"


# Counting another process is what ptrace would let one do (kernel/events/core.c
# perf_event_open: perf_check_permission, PTRACE_MODE_READ_REALCREDS): init, another
# user's, is EACCES even for a user-space-only software event.
@pytest.mark.skipif(PARANOID > 2, reason=f"perf_event_paranoid = {PARANOID} refuses users first")
@pytest.mark.as_user("root may count any process (CAP_PERFMON, CAP_SYS_PTRACE)")
def test_an_event_on_another_users_process_is_eacces(kernel: Kernel, anothers_process) -> None:
    r = _open(kernel, _attr(kernel, "TASK_CLOCK"), pid=anothers_process())
    if r.ok:
        os.close(r.value)
    assert r.errno == "EACCES"
