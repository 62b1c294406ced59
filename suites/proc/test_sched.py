"""sched_yield, sched_getaffinity/sched_setaffinity, sched_getscheduler, getpriority and
setpriority: scheduling of the caller, changed only inside in_child.

The raw getpriority syscall returns 20 - nice (1..40) so that no valid answer is
negative; libc converts it back. Lowering one's nice value needs CAP_SYS_NICE (or
RLIMIT_NICE), so that refusal is a non-root test.
"""

import os

import pytest

from syscalls import forking
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

AS_USER = pytest.mark.as_user("root may lower its nice value (CAP_SYS_NICE)")
MASK_BYTES = 128  # room for 1024 CPUs (the kernel wants >= nr_cpu_ids bits, in longs)


def _affinity(kernel: Kernel) -> tuple[int, set[int]]:
    mask = kernel.buf(MASK_BYTES)
    n = kernel.sched_getaffinity(0, MASK_BYTES, mask).unwrap()
    data = kernel.bytes(mask, n)
    return n, {i for i in range(8 * n) if data[i // 8] >> (i % 8) & 1}


def test_sched_yield_succeeds(kernel: Kernel) -> None:
    assert kernel.sched_yield().unwrap() == 0


def test_sched_getaffinity_matches_libc_and_returns_bytes_copied(kernel: Kernel) -> None:
    n, cpus = _affinity(kernel)
    assert n % 8 == 0 and 0 < n <= MASK_BYTES  # whole longs
    assert cpus == os.sched_getaffinity(0)


def test_sched_getaffinity_returns_the_masks_size_not_the_buffers(kernel: Kernel) -> None:
    """It copies min(buffer, the kernel's cpumask size) and returns that: a buffer twice
    as large gets the same answer (glibc zeroes the rest of the caller's mask from it)."""
    n = kernel.sched_getaffinity(0, MASK_BYTES, kernel.buf(MASK_BYTES)).unwrap()
    size = 2 * MASK_BYTES
    assert kernel.sched_getaffinity(0, size, kernel.buf(size)).unwrap() == n


def test_sched_getaffinity_size_not_a_multiple_of_long_is_einval(kernel: Kernel) -> None:
    size = MASK_BYTES + kernel.ffi.sizeof("long") // 2  # half a long more than enough
    assert kernel.sched_getaffinity(0, size, kernel.buf(size)).errno == "EINVAL"


def test_sched_setaffinity_to_one_cpu_runs_there(kernel: Kernel, in_child) -> None:
    def run() -> tuple[set[int], int]:
        cpu = min(os.sched_getaffinity(0))
        mask = kernel.buf(MASK_BYTES)
        mask[cpu // 8] = bytes([1 << (cpu % 8)])
        kernel.sched_setaffinity(0, MASK_BYTES, mask).unwrap()
        where = kernel.new("unsigned int *")
        kernel.getcpu(where, None, None).unwrap()
        return _affinity(kernel)[1], where[0] - cpu

    cpus, delta = in_child(run)
    assert len(cpus) == 1
    assert delta == 0


def test_sched_setaffinity_to_no_cpu_is_einval(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: kernel.sched_setaffinity(0, 8, kernel.buf(8)).outcome) == "EINVAL"


# Another user's process (kernel/sched/core.c sched_setaffinity: check_same_owner, else
# CAP_SYS_NICE in its user namespace). Asked for init's own mask: nothing would change.
@pytest.mark.as_user("root may move any process (CAP_SYS_NICE)")
def test_sched_setaffinity_of_another_users_process_is_eperm(
    kernel: Kernel, anothers_process
) -> None:
    pid = anothers_process()
    mask = kernel.buf(MASK_BYTES)
    n = kernel.sched_getaffinity(pid, MASK_BYTES, mask).unwrap()
    assert kernel.sched_setaffinity(pid, n, mask).errno == "EPERM"


def test_sched_getscheduler_of_ordinary_process_is_sched_other(kernel: Kernel) -> None:
    assert kernel.sched_getscheduler(0).unwrap() == kernel.SCHED_NORMAL


def test_getpriority_raw_value_is_twenty_minus_nice(kernel: Kernel) -> None:
    raw = kernel.getpriority(kernel.PRIO_PROCESS, 0).unwrap()
    assert raw == 20 - os.getpriority(os.PRIO_PROCESS, 0)


def test_setpriority_raising_nice_is_read_back(kernel: Kernel, in_child) -> None:
    def run() -> int:
        nice = os.getpriority(os.PRIO_PROCESS, 0)
        kernel.setpriority(kernel.PRIO_PROCESS, 0, min(nice + 5, 19)).unwrap()
        return 20 - kernel.getpriority(kernel.PRIO_PROCESS, 0).unwrap() - min(nice + 5, 19)

    assert in_child(run) == 0


@AS_USER
def test_setpriority_lowering_nice_as_user_is_eacces(kernel: Kernel, in_child) -> None:
    def run() -> str:
        kernel.setpriority(kernel.PRIO_PROCESS, 0, 10).unwrap()
        return kernel.setpriority(kernel.PRIO_PROCESS, 0, 5).outcome

    assert in_child(run) == "EACCES"


# Another user's process: its uid must be ours (kernel/sys.c set_one_prio_perm), or
# CAP_SYS_NICE, before any nice value is looked at. Asked for init's own nice value:
# granted, nothing would change.
@pytest.mark.as_user("root may renice any process (CAP_SYS_NICE)")
def test_setpriority_of_another_users_process_is_eperm(kernel: Kernel, anothers_process) -> None:
    pid = anothers_process()
    nice = 20 - kernel.getpriority(kernel.PRIO_PROCESS, pid).unwrap()
    assert kernel.setpriority(kernel.PRIO_PROCESS, pid, nice).errno == "EPERM"
    assert 20 - kernel.getpriority(kernel.PRIO_PROCESS, pid).unwrap() == nice


@pytest.mark.root
def test_setpriority_lowering_nice_as_root_succeeds(kernel: Kernel, in_child) -> None:
    def run() -> int:
        kernel.setpriority(kernel.PRIO_PROCESS, 0, 10).unwrap()
        kernel.setpriority(kernel.PRIO_PROCESS, 0, -5).unwrap()
        return 20 - kernel.getpriority(kernel.PRIO_PROCESS, 0).unwrap()

    assert in_child(run) == -5


def test_getpriority_unknown_which_is_einval(kernel: Kernel) -> None:
    assert kernel.getpriority(42, 0).errno == "EINVAL"


def test_setpriority_unknown_which_is_einval(kernel: Kernel) -> None:
    assert kernel.setpriority(42, 0, 0).errno == "EINVAL"


def test_setpriority_above_19_is_clamped_to_19(kernel: Kernel, in_child) -> None:
    def run() -> int:
        kernel.setpriority(kernel.PRIO_PROCESS, 0, 1000).unwrap()
        return 20 - kernel.getpriority(kernel.PRIO_PROCESS, 0).unwrap()

    assert in_child(run) == 19


@pytest.mark.root
def test_setpriority_below_minus_20_is_clamped_to_minus_20(kernel: Kernel, in_child) -> None:
    def run() -> int:
        kernel.setpriority(kernel.PRIO_PROCESS, 0, -1000).unwrap()
        return 20 - kernel.getpriority(kernel.PRIO_PROCESS, 0).unwrap()

    assert in_child(run) == -20


def test_getpriority_of_a_missing_process_is_esrch(kernel: Kernel, in_child) -> None:
    def run() -> tuple[str, str]:
        pid = forking.fork(kernel)
        forking.wait(kernel, pid)
        return (
            kernel.getpriority(kernel.PRIO_PROCESS, pid).outcome,
            kernel.setpriority(kernel.PRIO_PROCESS, pid, 19).outcome,
        )

    assert in_child(run) == ("ESRCH", "ESRCH")


def test_getpriority_of_a_user_without_processes_is_esrch(kernel: Kernel) -> None:
    """No process runs as this uid, so there is no priority to report."""
    assert kernel.getpriority(kernel.PRIO_USER, 0x3FFF_FFF0).errno == "ESRCH"


def test_setpriority_of_a_process_group_changes_every_member(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        r, w = os.pipe()
        pid = forking.fork(kernel, lambda: os.close(w) or (os.read(r, 1) and 0))
        os.close(r)
        try:
            kernel.setpriority(kernel.PRIO_PGRP, 0, 13).unwrap()  # in_child leads its group
            mine = 20 - kernel.getpriority(kernel.PRIO_PROCESS, 0).unwrap()
            theirs = 20 - kernel.getpriority(kernel.PRIO_PROCESS, pid).unwrap()
            return mine, theirs
        finally:
            os.close(w)
            forking.wait(kernel, pid)

    assert in_child(run) == (13, 13)


def test_getpriority_of_a_process_group_reports_its_lowest_nice(kernel: Kernel, in_child) -> None:
    """For a group the raw answer is the highest 20 - nice among its members."""

    def run() -> int:
        kernel.setpriority(kernel.PRIO_PROCESS, 0, 11).unwrap()
        r, w = os.pipe()
        ready_r, ready_w = os.pipe()

        def child() -> int:
            os.close(w)
            kernel.setpriority(kernel.PRIO_PROCESS, 0, 17).unwrap()
            os.write(ready_w, b"r")
            os.read(r, 1)
            return 0

        pid = forking.fork(kernel, child)
        os.close(r)
        try:
            os.read(ready_r, 1)
            return 20 - kernel.getpriority(kernel.PRIO_PGRP, 0).unwrap()
        finally:
            os.close(w)
            forking.wait(kernel, pid)

    assert in_child(run) == 11
