"""kcmp(2): whether two processes share a kernel resource (Linux with
CONFIG_CHECKPOINT_RESTORE; ENOSYS elsewhere, which is a skip). Equal is 0; otherwise
1 or 2 orders the two by an obfuscated pointer, 3 means incomparable."""

import os

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")


def test_kcmp_dup_fds_share_the_file(kernel: Kernel, fds) -> None:
    r, _ = fds.pipe()
    dup = fds(kernel.fcntl(r, kernel.F_DUPFD_CLOEXEC, 0))
    pid = os.getpid()
    assert kcmp(kernel, pid, pid, kernel.KCMP_FILE, r, dup) == 0


def test_kcmp_different_files_compare_unequal(kernel: Kernel, fds) -> None:
    r, w = fds.pipe()
    pid = os.getpid()
    assert kcmp(kernel, pid, pid, kernel.KCMP_FILE, r, w) in (1, 2)


def test_kcmp_order_is_antisymmetric(kernel: Kernel, fds) -> None:
    r, w = fds.pipe()
    pid = os.getpid()
    one = kcmp(kernel, pid, pid, kernel.KCMP_FILE, r, w)
    assert kcmp(kernel, pid, pid, kernel.KCMP_FILE, w, r) == 3 - one


def test_kcmp_process_shares_its_own_vm(kernel: Kernel) -> None:
    pid = os.getpid()
    assert kcmp(kernel, pid, pid, kernel.KCMP_VM, 0, 0) == 0


def test_kcmp_forked_child_has_its_own_vm_and_files(kernel: Kernel, in_child) -> None:
    parent = os.getpid()

    def run() -> tuple[int, int]:
        me = os.getpid()
        return (
            kcmp(kernel, parent, me, kernel.KCMP_VM, 0, 0),
            kcmp(kernel, parent, me, kernel.KCMP_FILES, 0, 0),
        )

    vm, files = in_child(run)
    assert vm in (1, 2)
    assert files in (1, 2)


def test_kcmp_closed_fd_is_ebadf(kernel: Kernel, fds) -> None:
    r, w = fds.pipe()
    fds.close(w)
    pid = os.getpid()
    assert kernel.kcmp(pid, pid, kernel.KCMP_FILE, r, w).errno == "EBADF"


def test_kcmp_unknown_type_is_einval(kernel: Kernel) -> None:
    pid = os.getpid()
    assert kernel.kcmp(pid, pid, kernel.KCMP_TYPES, 0, 0).errno == "EINVAL"


def kcmp(kernel: Kernel, pid1: int, pid2: int, kind: int, a: int, b: int) -> int:
    return kernel.kcmp(pid1, pid2, kind, a, b).unwrap()


# kcmp asks of both processes what ptrace would (kernel/kcmp.c: ptrace_may_access,
# PTRACE_MODE_READ_REALCREDS): init, another user's, may not be compared with.
@pytest.mark.as_user("root may inspect any process (CAP_SYS_PTRACE)")
@pytest.mark.parametrize("kind", ["KCMP_VM", "KCMP_FILES"])
def test_kcmp_with_another_users_process_is_eperm(
    kernel: Kernel, anothers_process, kind: str
) -> None:
    pid = anothers_process()
    assert kernel.kcmp(pid, os.getpid(), getattr(kernel, kind), 0, 0).errno == "EPERM"
    assert kernel.kcmp(os.getpid(), pid, getattr(kernel, kind), 0, 0).errno == "EPERM"
