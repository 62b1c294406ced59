"""getrusage(2): CPU time and memory of the caller, its reaped children, or one thread.

CPU time is sampled at tick or scheduler granularity, so tests burn CPU until the
counter moves (bounded by in_child's time limit) rather than for a fixed time.
"""

import mmap

import pytest

from syscalls import forking
from syscalls.kernel import Kernel
from syscalls.threads import Waiter


def _cpu_us(kernel: Kernel, who: int) -> int:
    ru = kernel.new("struct rusage *")
    kernel.getrusage(who, ru).unwrap()
    return sum(t.tv_sec * 1_000_000 + t.tv_usec for t in (ru.ru_utime, ru.ru_stime))


def _burn(kernel: Kernel, who: int, microseconds: int) -> None:
    start = _cpu_us(kernel, who)
    while _cpu_us(kernel, who) - start < microseconds:
        sum(range(10_000))


def test_getrusage_self_cpu_time_grows_with_work(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        before = _cpu_us(kernel, kernel.RUSAGE_SELF)
        _burn(kernel, kernel.RUSAGE_SELF, 20_000)
        return before, _cpu_us(kernel, kernel.RUSAGE_SELF)

    before, after = in_child(run)
    assert after - before >= 20_000


@pytest.mark.os("linux")
def test_getrusage_children_counts_only_reaped_children(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int, int]:
        fresh = _cpu_us(kernel, kernel.RUSAGE_CHILDREN)
        pid = forking.fork(kernel, lambda: _burn(kernel, kernel.RUSAGE_SELF, 20_000))
        info = kernel.new("siginfo_t *")
        kernel.waitid(kernel.P_PID, pid, info, kernel.WEXITED | kernel.WNOWAIT, None).unwrap()
        unreaped = _cpu_us(kernel, kernel.RUSAGE_CHILDREN)  # exited, not yet waited for
        forking.wait(kernel, pid)
        return fresh, unreaped, _cpu_us(kernel, kernel.RUSAGE_CHILDREN)

    fresh, unreaped, reaped = in_child(run)
    assert fresh == 0  # a new process inherits no children's usage
    assert unreaped == 0
    assert reaped >= 20_000


def test_getrusage_self_reports_a_resident_set(kernel: Kernel) -> None:
    ru = kernel.new("struct rusage *")
    kernel.getrusage(kernel.RUSAGE_SELF, ru).unwrap()
    assert ru.ru_maxrss > 0  # kilobytes on Linux


@pytest.mark.os("linux")
def test_getrusage_maxrss_grows_by_the_kilobytes_touched(kernel: Kernel, in_child) -> None:
    """ru_maxrss is the peak resident set in kilobytes: touching every page of a fresh
    16 MiB mapping raises it by about 16384 (a quarter of it left as slack for pages
    counted late; in pages it would grow by 4096 at most)."""
    size = 16 << 20

    def maxrss() -> int:
        ru = kernel.new("struct rusage *")
        kernel.getrusage(kernel.RUSAGE_SELF, ru).unwrap()
        return ru.ru_maxrss

    def run() -> int:
        before = maxrss()
        with mmap.mmap(-1, size) as m:
            for offset in range(0, size, mmap.PAGESIZE):
                m[offset] = 1
            return maxrss() - before

    assert in_child(run) >= 3 * size // 4 // 1024


@pytest.mark.os("linux")
def test_getrusage_thread_is_at_most_the_process_total(kernel: Kernel) -> None:
    thread = _cpu_us(kernel, kernel.RUSAGE_THREAD)
    assert 0 < thread <= _cpu_us(kernel, kernel.RUSAGE_SELF)


# RUSAGE_THREAD is the calling thread's time alone (kernel/sys.c, task_cputime_adjusted),
# RUSAGE_SELF the whole thread group's, ended threads included. In a forked child the
# caller is the group leader; another thread burns 20 ms and ends: its time shows in
# RUSAGE_SELF beyond the leader's own (half of it is asked, for the rounding to µs).
@pytest.mark.os("linux")
def test_getrusage_thread_leaves_out_another_threads_time(kernel: Kernel, in_child) -> None:
    def burn() -> int:
        _burn(kernel, kernel.RUSAGE_THREAD, 20_000)
        return _cpu_us(kernel, kernel.RUSAGE_THREAD)

    def run() -> tuple[int, int]:
        other = Waiter(burn).join()
        mine = _cpu_us(kernel, kernel.RUSAGE_THREAD)
        return _cpu_us(kernel, kernel.RUSAGE_SELF) - mine, other

    others, other = in_child(run)
    assert other >= 20_000
    assert others >= other // 2


def test_getrusage_unknown_who_is_einval(kernel: Kernel) -> None:
    assert kernel.getrusage(7, kernel.new("struct rusage *")).errno == "EINVAL"
