"""times(2): the CPU time of the process and of its waited-for children, in clock ticks
(USER_HZ), and a tick count that only grows.

The children's times are added when the child is reaped (wait), not before. Work is
measured by running until the counters move, bounded in time, never by a fixed figure.
"""

import os
import time

import pytest

from syscalls import forking
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

BAD_ADDRESS = 8


def _times(kernel: Kernel) -> tuple[int, tuple[int, int, int, int]]:
    tms = kernel.new("struct tms *")
    ticks = kernel.times(tms).unwrap()
    return ticks, (tms.tms_utime, tms.tms_stime, tms.tms_cutime, tms.tms_cstime)


def _burn(kernel: Kernel, ticks: int = 2, limit: float = 5.0) -> int:
    """Spin until this process's user+system time grew by `ticks`; the ticks seen."""
    start = sum(_times(kernel)[1][:2])
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        for _ in range(10_000):
            pass
        used = sum(_times(kernel)[1][:2]) - start
        if used >= ticks:
            return used
    return sum(_times(kernel)[1][:2]) - start


def test_times_return_value_never_goes_back(kernel: Kernel) -> None:
    first = kernel.times(None).unwrap() & 0xFFFFFFFF  # a clock_t that may wrap
    second = kernel.times(None).unwrap() & 0xFFFFFFFF
    assert (second - first) & 0xFFFFFFFF < 1 << 31


def test_times_matches_os_times(kernel: Kernel) -> None:
    hz = os.sysconf("SC_CLK_TCK")
    _, (utime, stime, _cu, _cs) = _times(kernel)
    t = os.times()
    assert abs(utime / hz - t.user) <= 0.5 and abs(stime / hz - t.system) <= 0.5


def test_times_user_time_grows_with_work(kernel: Kernel) -> None:
    assert _burn(kernel, 1) >= 1


def test_children_times_are_added_at_wait_not_before(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int, int]:
        def child() -> int:
            return 0 if _burn(kernel, 3) >= 3 else 1

        pid = forking.fork(kernel, child)
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # exited, left unreaped
        before = sum(_times(kernel)[1][2:])
        code = forking.exit_code(kernel, pid)
        after = sum(_times(kernel)[1][2:])
        return code, before, after

    code, before, after = in_child(run)
    assert code == 0
    assert before == 0
    assert after >= 3


@pytest.mark.requires("fault_handler")
def test_times_into_a_bad_address_is_efault(kernel: Kernel) -> None:
    assert kernel.times(BAD_ADDRESS).errno == "EFAULT"
