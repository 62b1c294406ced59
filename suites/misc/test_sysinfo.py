"""sysinfo(2): uptime, memory totals in units of mem_unit, process count (Linux only)."""

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")


def _sysinfo(kernel: Kernel):
    info = kernel.new("struct sysinfo *")
    kernel.sysinfo(info).unwrap()
    return info


def test_sysinfo_uptime_is_positive_and_matches_boottime(kernel: Kernel) -> None:
    info = _sysinfo(kernel)
    ts = kernel.new("struct timespec *")
    kernel.clock_gettime(kernel.CLOCK_BOOTTIME, ts).unwrap()
    assert info.uptime > 0
    assert abs(info.uptime - ts.tv_sec) <= 2


def test_sysinfo_memory_totals_are_consistent(kernel: Kernel, observe) -> None:
    info = _sysinfo(kernel)
    observe("mem_unit", info.mem_unit)
    assert info.mem_unit >= 1
    assert info.totalram > 0
    assert info.freeram <= info.totalram
    assert info.freeswap <= info.totalswap


def test_sysinfo_counts_at_least_this_process(kernel: Kernel) -> None:
    assert _sysinfo(kernel).procs >= 1


@pytest.mark.requires("fault_handler")
def test_sysinfo_unmapped_buffer_is_efault(kernel: Kernel) -> None:
    assert kernel.sysinfo(8).errno == "EFAULT"


def test_sysinfo_totalram_in_mem_units_is_memtotal(kernel: Kernel) -> None:
    """The kernel scales the page counts to mem_unit (bytes on 64-bit, a power of two
    that fits on 32-bit: kernel/sys.c, do_sysinfo); scaled back, totalram is
    /proc/meminfo's MemTotal."""
    info = _sysinfo(kernel)
    with open("/proc/meminfo") as f:
        kb = next(int(line.split()[1]) for line in f if line.startswith("MemTotal:"))
    assert info.mem_unit & (info.mem_unit - 1) == 0
    assert info.totalram * info.mem_unit == kb * 1024
