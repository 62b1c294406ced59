"""ioprio_get(2), ioprio_set(2): the I/O scheduling class and level of a process, a
process group or a user's processes.

A priority is class << 13 | level (linux/ioprio.h): RT (levels 0-7, needs
CAP_SYS_ADMIN, or CAP_SYS_NICE), BE (0-7), IDLE. A process that never set one reads
as class NONE for IOPRIO_WHO_PROCESS; for a group or user the effective priority is
reported: best effort, at the level its nice value gives ((nice + 20) / 5). Changes
happen in a child.
"""

import os

import pytest

from syscalls import forking
from syscalls.kernel import Kernel

pytestmark = [pytest.mark.os("linux"), pytest.mark.min_kernel("2.6.13")]

AS_USER = pytest.mark.as_user("root may take the real-time I/O class")


def _prio(kernel: Kernel, cls: str, level: int) -> int:
    return getattr(kernel, f"IOPRIO_CLASS_{cls}") << kernel.IOPRIO_CLASS_SHIFT | level


def _get(kernel: Kernel, who: int = 0) -> int:
    return kernel.ioprio_get(kernel.IOPRIO_WHO_PROCESS, who).unwrap()


def _set(kernel: Kernel, value: int, who: int = 0) -> str:
    return kernel.ioprio_set(kernel.IOPRIO_WHO_PROCESS, who, value).outcome


def test_ioprio_of_a_process_that_set_none_is_class_none(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: _get(kernel) >> kernel.IOPRIO_CLASS_SHIFT) == kernel.IOPRIO_CLASS_NONE


def test_ioprio_of_own_process_group_is_best_effort_by_nice(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        os.nice(5)
        prio = kernel.ioprio_get(kernel.IOPRIO_WHO_PGRP, 0).unwrap()
        return prio, (os.getpriority(os.PRIO_PROCESS, 0) + 20) // 5

    prio, level = in_child(run)
    assert prio == _prio(kernel, "BE", level)


@pytest.mark.parametrize(("cls", "level"), [("BE", 0), ("BE", 7), ("IDLE", 0)])
def test_ioprio_set_is_read_back(kernel: Kernel, in_child, cls: str, level: int) -> None:
    value = _prio(kernel, cls, level)
    assert in_child(lambda: (_set(kernel, value), _get(kernel))) == ("ok", value)


def test_ioprio_set_by_pid_of_self_is_read_back(kernel: Kernel, in_child) -> None:
    value = _prio(kernel, "BE", 3)
    assert in_child(lambda: (_set(kernel, value, os.getpid()), _get(kernel))) == ("ok", value)


def test_ioprio_is_inherited_by_fork(kernel: Kernel, in_child) -> None:
    value = _prio(kernel, "BE", 6)

    def run() -> int:
        _set(kernel, value)
        pid = forking.fork(kernel, lambda: _get(kernel) & 0x7F)
        return forking.exit_code(kernel, pid)

    assert in_child(run) == value & 0x7F  # level and low class bits fit an exit code


@AS_USER
def test_ioprio_set_real_time_class_as_a_user_is_eperm(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: _set(kernel, _prio(kernel, "RT", 4))) == "EPERM"


# Another user's process (block/blk-ioc.c set_task_ioprio: its real uid must be our
# real or effective one, else CAP_SYS_NICE). Asked for init's own priority (class none,
# or best effort or idle, which a user may take): nothing would change.
@pytest.mark.as_user("root may set any process's I/O priority (CAP_SYS_NICE)")
def test_ioprio_set_of_another_users_process_is_eperm(kernel: Kernel, anothers_process) -> None:
    pid = anothers_process()
    value = _get(kernel, pid)
    if value >> kernel.IOPRIO_CLASS_SHIFT == kernel.IOPRIO_CLASS_RT:
        pytest.skip(f"pid {pid} has the real-time class: a user may not ask for it anyway")
    assert _set(kernel, value, pid) == "EPERM"
    assert _get(kernel, pid) == value


@pytest.mark.root
def test_ioprio_set_real_time_class_as_root_is_read_back(kernel: Kernel, in_child) -> None:
    value = _prio(kernel, "RT", 4)
    assert in_child(lambda: (_set(kernel, value), _get(kernel))) == ("ok", value)


def test_ioprio_set_class_none_with_a_level_is_einval(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: _set(kernel, _prio(kernel, "NONE", 3))) == "EINVAL"


def test_ioprio_set_class_none_level_0_resets_to_unset(kernel: Kernel, in_child) -> None:
    def run() -> tuple[str, int]:
        _set(kernel, _prio(kernel, "BE", 2))
        return _set(kernel, 0), _get(kernel)

    assert in_child(run) == ("ok", 0)


def test_ioprio_set_unknown_class_is_einval(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: _set(kernel, 5 << kernel.IOPRIO_CLASS_SHIFT)) == "EINVAL"


def test_ioprio_get_unknown_which_is_einval(kernel: Kernel) -> None:
    assert kernel.ioprio_get(99, 0).errno == "EINVAL"


def test_ioprio_set_unknown_which_is_einval(kernel: Kernel) -> None:
    assert kernel.ioprio_set(99, 0, _prio(kernel, "BE", 4)).errno == "EINVAL"


def test_ioprio_get_of_a_missing_pid_is_esrch(kernel: Kernel) -> None:
    assert kernel.ioprio_get(kernel.IOPRIO_WHO_PROCESS, forking.missing_pid()).errno == "ESRCH"


def test_ioprio_get_of_own_user_reports_a_valid_priority(kernel: Kernel) -> None:
    prio = kernel.ioprio_get(kernel.IOPRIO_WHO_USER, os.getuid()).unwrap()
    assert prio >> kernel.IOPRIO_CLASS_SHIFT in (
        kernel.IOPRIO_CLASS_RT,
        kernel.IOPRIO_CLASS_BE,
        kernel.IOPRIO_CLASS_IDLE,
    )
