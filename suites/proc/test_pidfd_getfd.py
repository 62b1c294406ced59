"""pidfd_getfd(2): a duplicate, in the caller, of another process's descriptor, named by a
pidfd and the fd number in that process (Linux >= 5.6).

It needs ptrace attach rights over the target (PTRACE_MODE_ATTACH_REALCREDS: a
process of the caller's own uid, or CAP_SYS_PTRACE; Yama's scope may narrow that to
descendants), and the new descriptor is always close-on-exec. The target is a child
that opens a file and waits.
"""

import os
from pathlib import Path

import pytest

from syscalls import forking
from syscalls.kernel import Kernel

pytestmark = [pytest.mark.os("linux"), pytest.mark.min_kernel("5.6")]

AS_USER = pytest.mark.as_user("root may take any process's descriptors (CAP_SYS_PTRACE)")


def test_pidfd_getfd_duplicates_the_childs_open_file(kernel: Kernel, tmp: Path, in_child) -> None:
    (tmp / "f").write_bytes(b"the child's file")

    def run() -> tuple[bool, int, bytes]:
        def opened() -> int:  # only the child has the file open
            return os.open(tmp / "f", os.O_RDONLY)

        with forking.waiting_child(kernel, opened) as (pid, child_fd):
            pidfd = kernel.pidfd_open(pid, 0).unwrap()
            fd = kernel.pidfd_getfd(pidfd, child_fd, 0).unwrap()
            cloexec = kernel.fcntl(fd, kernel.F_GETFD, 0).unwrap() & kernel.FD_CLOEXEC
            same = os.fstat(fd).st_ino == os.stat(tmp / "f").st_ino
            return same, cloexec, os.pread(fd, 64, 0)

    same, cloexec, data = in_child(run)
    assert same
    assert cloexec
    assert data == b"the child's file"


def test_pidfd_getfd_shares_the_file_offset(kernel: Kernel, tmp: Path, in_child) -> None:
    """A duplicate, not a new open: the child's read moved the offset both share."""
    (tmp / "f").write_bytes(b"0123456789")

    def run() -> int:
        def opened() -> int:
            fd = os.open(tmp / "f", os.O_RDONLY)
            os.read(fd, 4)
            return fd

        with forking.waiting_child(kernel, opened) as (pid, child_fd):
            pidfd = kernel.pidfd_open(pid, 0).unwrap()
            fd = kernel.pidfd_getfd(pidfd, child_fd, 0).unwrap()
            return kernel.lseek(fd, 0, kernel.SEEK_CUR).unwrap()

    assert in_child(run) == 4


def test_pidfd_getfd_of_an_fd_the_child_has_not_is_ebadf(kernel: Kernel, in_child) -> None:
    def run() -> str:
        with forking.waiting_child(kernel) as (pid, _):
            pidfd = kernel.pidfd_open(pid, 0).unwrap()
            return kernel.pidfd_getfd(pidfd, 987_654, 0).outcome

    assert in_child(run) == "EBADF"


def test_pidfd_getfd_with_flags_is_einval(kernel: Kernel, in_child) -> None:
    def run() -> str:
        with forking.waiting_child(kernel) as (pid, _):
            pidfd = kernel.pidfd_open(pid, 0).unwrap()
            return kernel.pidfd_getfd(pidfd, 0, 1).outcome

    assert in_child(run) == "EINVAL"


def test_pidfd_getfd_through_a_descriptor_that_is_no_pidfd_is_ebadf(kernel: Kernel, fds) -> None:
    rfd, _wfd = fds.pipe()
    assert kernel.pidfd_getfd(rfd, 0, 0).errno == "EBADF"


def test_pidfd_getfd_of_a_reaped_child_is_esrch(kernel: Kernel, in_child) -> None:
    def run() -> str:
        pid = forking.fork(kernel)
        pidfd = kernel.pidfd_open(pid, 0).unwrap()
        forking.wait(kernel, pid)
        return kernel.pidfd_getfd(pidfd, 0, 0).outcome

    assert in_child(run) == "ESRCH"


def test_pidfd_getfd_of_own_process_duplicates_like_dup(kernel: Kernel, fds) -> None:
    rfd, wfd = fds.pipe()
    pidfd = fds(kernel.pidfd_open(os.getpid(), 0))
    dup = fds(kernel.pidfd_getfd(pidfd, wfd, 0))
    os.write(dup, b"through the copy")
    assert os.read(rfd, 64) == b"through the copy"


@AS_USER
def test_pidfd_getfd_of_another_users_process_is_eperm(kernel: Kernel, fds) -> None:
    pidfd = fds(kernel.pidfd_open(1, 0))  # init: root's
    assert kernel.pidfd_getfd(pidfd, 0, 0).errno == "EPERM"
