"""Scheduling policies and parameters: sched_get_priority_min/max, sched_getparam,
sched_setparam, sched_setscheduler, sched_getattr, sched_setattr, sched_rr_get_interval.

Every change happens in a child. Real-time policies need CAP_SYS_NICE or an
RLIMIT_RTPRIO that allows the priority (0 by default), so as a user they are EPERM and
as root they are set and read back. sched_attr is versioned by its size: the kernel
takes any size from SCHED_ATTR_SIZE_VER0 (48) up, answering E2BIG with its own size
written back when the caller's is smaller, or larger with non-zero bytes it does not
know (kernel/sched/core.c: sched_copy_attr).
"""

import contextlib
import os
import resource
from collections.abc import Iterator

import pytest

from syscalls import forking, sysctl
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

AS_USER = pytest.mark.as_user("root may use real-time policies (CAP_SYS_NICE)")
RT = ("SCHED_FIFO", "SCHED_RR")
NORMAL = ("SCHED_NORMAL", "SCHED_BATCH", "SCHED_IDLE")
BAD_ADDRESS = 8


def _param(kernel: Kernel, priority: int = 0):
    return kernel.new("struct sched_param *", [priority])


def _getattr(kernel: Kernel, pid: int = 0):
    attr = kernel.new("struct sched_attr *")
    kernel.sched_getattr(pid, attr, kernel.ffi.sizeof(attr[0]), 0).unwrap()
    return attr


def _policy_and_priority(kernel: Kernel) -> tuple[int, int]:
    param = _param(kernel)
    kernel.sched_getparam(0, param).unwrap()
    return kernel.sched_getscheduler(0).unwrap(), int(param.sched_priority)


@pytest.mark.parametrize("policy", RT)
def test_real_time_priorities_range_from_1_to_99(kernel: Kernel, policy: str) -> None:
    p = getattr(kernel, policy)
    assert (
        kernel.sched_get_priority_min(p).unwrap(),
        kernel.sched_get_priority_max(p).unwrap(),
    ) == (1, 99)


@pytest.mark.parametrize("policy", [*NORMAL, "SCHED_DEADLINE"])
def test_other_policies_have_only_priority_0(kernel: Kernel, policy: str) -> None:
    p = getattr(kernel, policy)
    assert (
        kernel.sched_get_priority_min(p).unwrap(),
        kernel.sched_get_priority_max(p).unwrap(),
    ) == (0, 0)


@pytest.mark.parametrize("call", ["sched_get_priority_min", "sched_get_priority_max"])
def test_priority_range_of_an_unknown_policy_is_einval(kernel: Kernel, call: str) -> None:
    assert getattr(kernel, call)(42).errno == "EINVAL"


def test_sched_getparam_of_a_normal_process_is_priority_0(kernel: Kernel) -> None:
    param = _param(kernel, 77)
    kernel.sched_getparam(0, param).unwrap()
    assert param.sched_priority == 0


def test_sched_getparam_of_a_missing_pid_is_esrch(kernel: Kernel) -> None:
    assert kernel.sched_getparam(forking.missing_pid(), _param(kernel)).errno == "ESRCH"


def test_sched_getparam_negative_pid_is_einval(kernel: Kernel) -> None:
    assert kernel.sched_getparam(-1, _param(kernel)).errno == "EINVAL"


def test_sched_getparam_null_param_is_einval(kernel: Kernel) -> None:
    assert kernel.sched_getparam(0, None).errno == "EINVAL"


def test_sched_setparam_priority_0_keeps_a_normal_policy(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, tuple[int, int]]:
        return kernel.sched_setparam(0, _param(kernel, 0)).unwrap(), _policy_and_priority(kernel)

    assert in_child(run) == (0, (kernel.SCHED_NORMAL, 0))


def test_sched_setparam_nonzero_priority_for_a_normal_policy_is_einval(
    kernel: Kernel, in_child
) -> None:
    assert in_child(lambda: kernel.sched_setparam(0, _param(kernel, 1)).outcome) == "EINVAL"


@pytest.mark.parametrize("policy", ["SCHED_BATCH", "SCHED_IDLE"])
def test_sched_setscheduler_to_a_normal_policy_is_read_back(
    kernel: Kernel, in_child, policy: str
) -> None:
    def run() -> tuple[int, int]:
        kernel.sched_setscheduler(0, getattr(kernel, policy), _param(kernel)).unwrap()
        return _policy_and_priority(kernel)

    assert in_child(run) == (getattr(kernel, policy), 0)


@AS_USER
@pytest.mark.parametrize("policy", RT)
def test_sched_setscheduler_real_time_without_rtprio_is_eperm(
    kernel: Kernel, in_child, policy: str
) -> None:
    def run() -> str:
        resource.setrlimit(resource.RLIMIT_RTPRIO, (0, 0))
        return kernel.sched_setscheduler(0, getattr(kernel, policy), _param(kernel, 1)).outcome

    assert in_child(run) == "EPERM"


# Another user's process, asked for what it has already (kernel/sched/core.c
# user_check_sched_setscheduler: check_same_owner, else CAP_SYS_NICE): EPERM, for the
# same policy and nice value as for a new one.
@pytest.mark.as_user("root may reschedule any process (CAP_SYS_NICE)")
@pytest.mark.parametrize("call", ["sched_setscheduler", "sched_setparam"])
def test_rescheduling_another_users_process_is_eperm(
    kernel: Kernel, anothers_process, call: str
) -> None:
    pid = anothers_process()
    policy = kernel.sched_getscheduler(pid).unwrap()  # with SCHED_RESET_ON_FORK, if set
    if policy & ~kernel.SCHED_RESET_ON_FORK not in [getattr(kernel, p) for p in NORMAL]:
        pytest.skip(f"pid {pid} has real-time policy {policy}: a user may not take it anyway")
    param = _param(kernel)
    kernel.sched_getparam(pid, param).unwrap()
    args = (policy, param) if call == "sched_setscheduler" else (param,)
    assert getattr(kernel, call)(pid, *args).errno == "EPERM"


@pytest.fixture
def rtprio_hard_limit() -> Iterator[None]:
    """In a root run, RLIMIT_RTPRIO's hard limit raised to 2 for the test's as_user body,
    which cannot raise it itself; put back after."""
    old = resource.getrlimit(resource.RLIMIT_RTPRIO)
    if os.geteuid() == 0 and old[1] < 2:
        # without CAP_SYS_RESOURCE (a container's root) it stays, and the test skips
        with contextlib.suppress(ValueError):
            resource.setrlimit(resource.RLIMIT_RTPRIO, (old[0], 2))
    yield
    resource.setrlimit(resource.RLIMIT_RTPRIO, old)


@AS_USER
def test_sched_setscheduler_real_time_within_rlimit_rtprio_is_allowed(
    kernel: Kernel, in_child, rtprio_hard_limit: None
) -> None:
    """RLIMIT_RTPRIO lets a user take real-time priorities up to it, and no higher;
    a limit can be lowered but not raised without privilege, so this needs a hard limit
    above 0, which a default user does not have (a root run gives it one first)."""
    if resource.getrlimit(resource.RLIMIT_RTPRIO)[1] < 2:
        pytest.skip("RLIMIT_RTPRIO's hard limit is below 2 for this user")

    def run() -> tuple[str, str]:
        resource.setrlimit(resource.RLIMIT_RTPRIO, (1, 1))
        high = kernel.sched_setscheduler(0, kernel.SCHED_FIFO, _param(kernel, 2)).outcome
        return kernel.sched_setscheduler(0, kernel.SCHED_FIFO, _param(kernel, 1)).outcome, high

    assert in_child(run) == ("ok", "EPERM")


@pytest.mark.root
@pytest.mark.parametrize("policy", RT)
def test_sched_setscheduler_real_time_as_root_is_read_back(
    kernel: Kernel, in_child, policy: str
) -> None:
    def run() -> tuple[int, int]:
        kernel.sched_setscheduler(0, getattr(kernel, policy), _param(kernel, 7)).unwrap()
        got = _policy_and_priority(kernel)
        kernel.sched_setscheduler(0, kernel.SCHED_NORMAL, _param(kernel)).unwrap()
        return got

    assert in_child(run) == (getattr(kernel, policy), 7)


@pytest.mark.root
def test_sched_setparam_changes_a_real_time_priority(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        kernel.sched_setscheduler(0, kernel.SCHED_RR, _param(kernel, 3)).unwrap()
        kernel.sched_setparam(0, _param(kernel, 9)).unwrap()
        got = _policy_and_priority(kernel)
        kernel.sched_setscheduler(0, kernel.SCHED_NORMAL, _param(kernel)).unwrap()
        return got

    assert in_child(run) == (kernel.SCHED_RR, 9)


@pytest.mark.parametrize("priority", [0, 100])
def test_sched_setscheduler_fifo_priority_out_of_range_is_einval(
    kernel: Kernel, in_child, priority: int
) -> None:
    r = in_child(
        lambda: kernel.sched_setscheduler(0, kernel.SCHED_FIFO, _param(kernel, priority)).outcome
    )
    assert r == "EINVAL"


def test_sched_setscheduler_unknown_policy_is_einval(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: kernel.sched_setscheduler(0, 42, _param(kernel)).outcome) == "EINVAL"


def test_sched_setscheduler_of_a_missing_pid_is_esrch(kernel: Kernel) -> None:
    r = kernel.sched_setscheduler(forking.missing_pid(), kernel.SCHED_BATCH, _param(kernel))
    assert r.errno == "ESRCH"


def test_reset_on_fork_is_reported_and_cleared_in_the_child(kernel: Kernel, in_child) -> None:
    """SCHED_RESET_ON_FORK is reported with the policy; a forked child keeps a normal
    policy but not the flag (kernel/sched/core.c: sched_fork)."""

    def run() -> tuple[int, int]:
        policy = kernel.SCHED_BATCH | kernel.SCHED_RESET_ON_FORK
        kernel.sched_setscheduler(0, policy, _param(kernel)).unwrap()
        mine = kernel.sched_getscheduler(0).unwrap()
        pid = forking.fork(kernel, lambda: kernel.sched_getscheduler(0).unwrap())
        return mine, forking.exit_code(kernel, pid)

    mine, child = in_child(run)
    assert mine == kernel.SCHED_BATCH | kernel.SCHED_RESET_ON_FORK
    assert child == kernel.SCHED_BATCH


@pytest.mark.root
def test_reset_on_fork_gives_a_real_time_parents_child_sched_normal(
    kernel: Kernel, in_child
) -> None:
    def run() -> tuple[int, int]:
        policy = kernel.SCHED_FIFO | kernel.SCHED_RESET_ON_FORK
        kernel.sched_setscheduler(0, policy, _param(kernel, 1)).unwrap()
        pid = forking.fork(kernel, lambda: kernel.sched_getscheduler(0).unwrap())
        child = forking.exit_code(kernel, pid)
        kernel.sched_setscheduler(0, kernel.SCHED_NORMAL, _param(kernel)).unwrap()
        return child, kernel.sched_getscheduler(0).unwrap()

    assert in_child(run) == (kernel.SCHED_NORMAL, kernel.SCHED_NORMAL)


def test_policy_without_reset_on_fork_is_inherited(kernel: Kernel, in_child) -> None:
    def run() -> int:
        kernel.sched_setscheduler(0, kernel.SCHED_BATCH, _param(kernel)).unwrap()
        pid = forking.fork(kernel, lambda: kernel.sched_getscheduler(0).unwrap())
        return forking.exit_code(kernel, pid)

    assert in_child(run) == kernel.SCHED_BATCH


@AS_USER
def test_leaving_sched_idle_without_rlimit_nice_is_eperm(kernel: Kernel, in_child) -> None:
    """From SCHED_IDLE back to SCHED_NORMAL needs CAP_SYS_NICE or an RLIMIT_NICE that
    allows the current nice value (0 allows none)."""

    def run() -> str:
        resource.setrlimit(resource.RLIMIT_NICE, (0, 0))
        kernel.sched_setscheduler(0, kernel.SCHED_IDLE, _param(kernel)).unwrap()
        return kernel.sched_setscheduler(0, kernel.SCHED_NORMAL, _param(kernel)).outcome

    assert in_child(run) == "EPERM"


# sched_getattr / sched_setattr


def test_sched_getattr_reports_policy_nice_and_its_size(kernel: Kernel) -> None:
    attr = _getattr(kernel)
    assert attr.size == kernel.ffi.sizeof("struct sched_attr")
    assert attr.sched_policy == kernel.sched_getscheduler(0).unwrap()
    assert attr.sched_nice == os.getpriority(os.PRIO_PROCESS, 0)
    assert attr.sched_priority == 0


def test_sched_getattr_with_a_size_below_version_0_is_einval(kernel: Kernel) -> None:
    attr = kernel.new("struct sched_attr *")
    assert kernel.sched_getattr(0, attr, kernel.SCHED_ATTR_SIZE_VER0 - 1, 0).errno == "EINVAL"


def test_sched_getattr_with_flags_is_einval(kernel: Kernel) -> None:
    attr = kernel.new("struct sched_attr *")
    assert kernel.sched_getattr(0, attr, kernel.ffi.sizeof(attr[0]), 1).errno == "EINVAL"


def test_sched_getattr_of_version_0_size_fills_48_bytes(kernel: Kernel) -> None:
    buf = kernel.buf(b"\xaa" * 64)
    kernel.sched_getattr(0, buf, kernel.SCHED_ATTR_SIZE_VER0, 0).unwrap()
    attr = kernel.ffi.cast("struct sched_attr *", buf)
    assert attr.size == kernel.SCHED_ATTR_SIZE_VER0  # what it copied
    assert kernel.bytes(buf, 64)[48:] == b"\xaa" * 16


def test_sched_getattr_of_a_missing_pid_is_esrch(kernel: Kernel) -> None:
    attr = kernel.new("struct sched_attr *")
    assert kernel.sched_getattr(forking.missing_pid(), attr, 56, 0).errno == "ESRCH"


def test_sched_setattr_nice_is_seen_by_getpriority(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        attr = _getattr(kernel)
        attr.sched_policy = kernel.SCHED_NORMAL
        attr.sched_nice = 7
        kernel.sched_setattr(0, attr, 0).unwrap()
        return os.getpriority(os.PRIO_PROCESS, 0), int(_getattr(kernel).sched_nice)

    assert in_child(run) == (7, 7)


def test_sched_setattr_to_batch_is_read_back(kernel: Kernel, in_child) -> None:
    def run() -> int:
        attr = kernel.new("struct sched_attr *")
        attr.size = kernel.ffi.sizeof(attr[0])
        attr.sched_policy = kernel.SCHED_BATCH
        kernel.sched_setattr(0, attr, 0).unwrap()
        return int(_getattr(kernel).sched_policy)

    assert in_child(run) == kernel.SCHED_BATCH


def test_sched_setattr_size_too_small_is_e2big_with_the_kernels_size(
    kernel: Kernel, in_child
) -> None:
    def run() -> tuple[str, int]:
        attr = kernel.new("struct sched_attr *")
        attr.size = 8
        r = kernel.sched_setattr(0, attr, 0)
        return r.outcome, int(attr.size)

    outcome, size = in_child(run)
    assert outcome == "E2BIG"
    assert size >= kernel.SCHED_ATTR_SIZE_VER1  # the kernel's struct, written back


def test_sched_setattr_larger_size_with_zero_tail_is_accepted(kernel: Kernel, in_child) -> None:
    def run() -> str:
        buf = kernel.buf(256)
        attr = kernel.ffi.cast("struct sched_attr *", buf)
        attr.size = 256
        attr.sched_policy = kernel.SCHED_BATCH
        return kernel.sched_setattr(0, buf, 0).outcome

    assert in_child(run) == "ok"


def test_sched_setattr_larger_size_with_unknown_bytes_is_e2big(kernel: Kernel, in_child) -> None:
    def run() -> str:
        buf = kernel.buf(256)
        attr = kernel.ffi.cast("struct sched_attr *", buf)
        attr.size = 256
        attr.sched_policy = kernel.SCHED_BATCH
        buf[200] = b"\x01"  # beyond any sched_attr the kernel knows
        return kernel.sched_setattr(0, buf, 0).outcome

    assert in_child(run) == "E2BIG"


def test_sched_setattr_unknown_flag_is_einval(kernel: Kernel, in_child) -> None:
    def run() -> str:
        attr = _getattr(kernel)
        attr.sched_flags = 1 << 40
        return kernel.sched_setattr(0, attr, 0).outcome

    assert in_child(run) == "EINVAL"


def test_sched_setattr_with_syscall_flags_is_einval(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: kernel.sched_setattr(0, _getattr(kernel), 1).outcome) == "EINVAL"


@AS_USER
def test_sched_setattr_deadline_as_user_is_eperm(kernel: Kernel, in_child) -> None:
    def run() -> str:
        attr = _getattr(kernel)
        attr.sched_policy = kernel.SCHED_DEADLINE
        attr.sched_runtime, attr.sched_deadline, attr.sched_period = 10**6, 10**7, 10**7
        return kernel.sched_setattr(0, attr, 0).outcome

    assert in_child(run) == "EPERM"


@pytest.mark.root
def test_sched_setattr_deadline_parameters_are_read_back(kernel: Kernel, in_child) -> None:
    """runtime <= deadline <= period, 10% of one CPU; put back to SCHED_NORMAL at once."""

    def run() -> tuple[int, int, int, int]:
        attr = _getattr(kernel)
        attr.sched_policy = kernel.SCHED_DEADLINE
        attr.sched_runtime, attr.sched_deadline, attr.sched_period = 2 * 10**6, 10**7, 2 * 10**7
        kernel.sched_setattr(0, attr, 0).unwrap()
        got = _getattr(kernel)
        seen = (got.sched_policy, got.sched_runtime, got.sched_deadline, got.sched_period)
        attr.sched_policy = kernel.SCHED_NORMAL
        kernel.sched_setattr(0, attr, 0).unwrap()
        return tuple(int(v) for v in seen)

    assert in_child(run) == (kernel.SCHED_DEADLINE, 2 * 10**6, 10**7, 2 * 10**7)


@pytest.mark.root
def test_sched_setattr_deadline_with_runtime_above_deadline_is_einval(
    kernel: Kernel, in_child
) -> None:
    def run() -> str:
        attr = _getattr(kernel)
        attr.sched_policy = kernel.SCHED_DEADLINE
        attr.sched_runtime, attr.sched_deadline, attr.sched_period = 10**7, 10**6, 10**7
        return kernel.sched_setattr(0, attr, 0).outcome

    assert in_child(run) == "EINVAL"


# sched_rr_get_interval


def _interval(kernel: Kernel) -> int:
    ts = kernel.new("struct timespec *")
    kernel.sched_rr_get_interval(0, ts).unwrap()
    return ts.tv_sec * 10**9 + ts.tv_nsec


def test_sched_rr_get_interval_of_a_normal_process_is_below_a_second(kernel: Kernel) -> None:
    assert 0 <= _interval(kernel) < 10**9


@pytest.mark.root
def test_sched_rr_get_interval_of_sched_rr_is_the_rr_timeslice(kernel: Kernel, in_child) -> None:
    """/proc/sys/kernel/sched_rr_timeslice_ms, converted through jiffies (<= one tick
    apart)."""

    def run() -> int:
        kernel.sched_setscheduler(0, kernel.SCHED_RR, _param(kernel, 1)).unwrap()
        got = _interval(kernel)
        kernel.sched_setscheduler(0, kernel.SCHED_NORMAL, _param(kernel)).unwrap()
        return got

    want = sysctl.number("kernel/sched_rr_timeslice_ms") * 10**6
    assert abs(in_child(run) - want) <= 10**7


@pytest.mark.root
def test_sched_rr_get_interval_of_sched_fifo_is_zero(kernel: Kernel, in_child) -> None:
    def run() -> int:
        kernel.sched_setscheduler(0, kernel.SCHED_FIFO, _param(kernel, 1)).unwrap()
        got = _interval(kernel)
        kernel.sched_setscheduler(0, kernel.SCHED_NORMAL, _param(kernel)).unwrap()
        return got

    assert in_child(run) == 0


def test_sched_rr_get_interval_of_a_missing_pid_is_esrch(kernel: Kernel) -> None:
    ts = kernel.new("struct timespec *")
    assert kernel.sched_rr_get_interval(forking.missing_pid(), ts).errno == "ESRCH"


def test_sched_rr_get_interval_negative_pid_is_einval(kernel: Kernel) -> None:
    assert kernel.sched_rr_get_interval(-1, kernel.new("struct timespec *")).errno == "EINVAL"


@pytest.mark.requires("fault_handler")
def test_sched_rr_get_interval_into_a_bad_address_is_efault(kernel: Kernel) -> None:
    assert kernel.sched_rr_get_interval(0, BAD_ADDRESS).errno == "EFAULT"
