"""fcntl record locks: POSIX (process-owned) locks seen from a forked child, OFD locks.

A conflicting F_SETLK is EACCES or EAGAIN by POSIX; Linux answers EAGAIN. POSIX locks
belong to the process: closing any fd of the file drops them. OFD locks (Linux 3.15)
belong to the open file description: two opens in one process conflict.
"""

import os
from pathlib import Path

import pytest

from syscalls.expect import ByOS
from syscalls.kernel import Kernel, Result

CONFLICT = ByOS(default="EAGAIN")


def _lock(kernel: Kernel, fd: int, cmd: int, ltype: int, start: int = 0, length: int = 0):
    fl = kernel.new("struct flock *")
    fl.l_type, fl.l_whence, fl.l_start, fl.l_len = ltype, kernel.SEEK_SET, start, length
    return kernel.fcntl(fd, cmd, fl), fl


def _setlk(kernel: Kernel, fd: int, ltype: int, start: int = 0, length: int = 0) -> Result:
    return _lock(kernel, fd, kernel.F_SETLK, ltype, start, length)[0]


def _in_other_process(kernel: Kernel, in_child, path: Path, ltype: int, start=0, length=0):
    """From a forked child with its own fd: (F_GETLK answer as (type, pid), F_SETLK outcome)."""

    def probe() -> tuple[tuple[int, int], str]:
        fd = kernel.openat(kernel.AT_FDCWD, path, kernel.O_RDWR).unwrap()
        r, fl = _lock(kernel, fd, kernel.F_GETLK, ltype, start, length)
        r.unwrap()
        return (fl.l_type, fl.l_pid), _setlk(kernel, fd, ltype, start, length).outcome

    return in_child(probe)


def test_setlk_write_lock_is_seen_and_refused_by_another_process(
    kernel: Kernel, tmp: Path, fds, in_child
) -> None:
    fd = fds.file(tmp / "f", b"x" * 100)
    _setlk(kernel, fd, kernel.F_WRLCK).unwrap()
    (ltype, pid), outcome = _in_other_process(kernel, in_child, tmp / "f", kernel.F_WRLCK)
    assert (ltype, pid) == (kernel.F_WRLCK, os.getpid())
    assert outcome == CONFLICT[kernel.platform.os]


def test_getlk_reports_the_range_of_the_conflicting_lock(
    kernel: Kernel, tmp: Path, fds, in_child
) -> None:
    fd = fds.file(tmp / "f", b"x" * 100)
    _setlk(kernel, fd, kernel.F_WRLCK, 10, 20).unwrap()

    def probe() -> tuple[int, int, int, int]:
        other = kernel.openat(kernel.AT_FDCWD, tmp / "f", kernel.O_RDWR).unwrap()
        r, fl = _lock(kernel, other, kernel.F_GETLK, kernel.F_RDLCK)  # the whole file
        r.unwrap()
        return fl.l_type, fl.l_whence, fl.l_start, fl.l_len

    assert in_child(probe) == (kernel.F_WRLCK, kernel.SEEK_SET, 10, 20)


def test_getlk_on_own_lock_reports_unlocked(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"x" * 100)
    _setlk(kernel, fd, kernel.F_WRLCK).unwrap()
    r, fl = _lock(kernel, fd, kernel.F_GETLK, kernel.F_WRLCK)
    r.unwrap()
    assert fl.l_type == kernel.F_UNLCK


def test_setlk_read_locks_are_shared_between_processes(
    kernel: Kernel, tmp: Path, fds, in_child
) -> None:
    fd = fds.file(tmp / "f", b"x" * 100)
    _setlk(kernel, fd, kernel.F_RDLCK).unwrap()
    (ltype, _), outcome = _in_other_process(kernel, in_child, tmp / "f", kernel.F_RDLCK)
    assert (ltype, outcome) == (kernel.F_UNLCK, "ok")


def test_setlk_disjoint_ranges_do_not_conflict(kernel: Kernel, tmp: Path, fds, in_child) -> None:
    fd = fds.file(tmp / "f", b"x" * 100)
    _setlk(kernel, fd, kernel.F_WRLCK, 0, 10).unwrap()
    _, outcome = _in_other_process(kernel, in_child, tmp / "f", kernel.F_WRLCK, 10, 10)
    assert outcome == "ok"


def test_closing_any_fd_of_the_file_drops_posix_locks(
    kernel: Kernel, tmp: Path, fds, in_child
) -> None:
    fd = fds.file(tmp / "f", b"x" * 100)
    _setlk(kernel, fd, kernel.F_WRLCK).unwrap()
    other = fds.open(tmp / "f", kernel.O_RDONLY)
    fds.close(other).unwrap()
    _, outcome = _in_other_process(kernel, in_child, tmp / "f", kernel.F_WRLCK)
    assert outcome == "ok"


def test_setlk_write_lock_on_read_only_fd_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"x", kernel.O_RDONLY)
    assert _setlk(kernel, fd, kernel.F_WRLCK).errno == "EBADF"


def test_setlk_unknown_lock_type_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"x")
    assert _setlk(kernel, fd, 77).errno == "EINVAL"


@pytest.mark.os("linux")
@pytest.mark.min_kernel("3.15")
def test_ofd_locks_conflict_between_two_opens_in_one_process(
    kernel: Kernel, tmp: Path, fds
) -> None:
    a = fds.file(tmp / "f", b"x" * 10)
    b = fds.open(tmp / "f", kernel.O_RDWR)
    _lock(kernel, a, kernel.F_OFD_SETLK, kernel.F_WRLCK)[0].unwrap()
    assert _lock(kernel, b, kernel.F_OFD_SETLK, kernel.F_WRLCK)[0].errno == "EAGAIN"
    r, fl = _lock(kernel, b, kernel.F_OFD_GETLK, kernel.F_WRLCK)
    r.unwrap()
    assert (fl.l_type, fl.l_pid) == (kernel.F_WRLCK, -1)


@pytest.mark.os("linux")
@pytest.mark.min_kernel("3.15")
def test_ofd_lock_is_shared_by_a_dup_of_the_fd(kernel: Kernel, tmp: Path, fds) -> None:
    a = fds.file(tmp / "f", b"x" * 10)
    dup = fds(kernel.dup(a))
    _lock(kernel, a, kernel.F_OFD_SETLK, kernel.F_WRLCK)[0].unwrap()
    _lock(kernel, dup, kernel.F_OFD_SETLK, kernel.F_WRLCK)[0].unwrap()


@pytest.mark.os("linux")
@pytest.mark.min_kernel("3.15")
@pytest.mark.parametrize("cmd", ["F_OFD_SETLK", "F_OFD_GETLK"])
def test_ofd_lock_command_with_nonzero_pid_is_einval(kernel: Kernel, tmp: Path, fds, cmd) -> None:
    fd = fds.file(tmp / "f", b"x")
    fl = kernel.new("struct flock *")
    fl.l_type, fl.l_whence, fl.l_pid = kernel.F_WRLCK, kernel.SEEK_SET, 1
    assert kernel.fcntl(fd, getattr(kernel, cmd), fl).errno == "EINVAL"


def test_setlk_ignores_the_l_pid_it_is_given(kernel: Kernel, tmp: Path, fds) -> None:
    """Unlike an OFD lock's, a process-owned lock's l_pid is only an answer of F_GETLK:
    F_SETLK takes the caller as the owner whatever the field holds."""
    fd = fds.file(tmp / "f", b"x")
    fl = kernel.new("struct flock *")
    fl.l_type, fl.l_whence, fl.l_pid = kernel.F_WRLCK, kernel.SEEK_SET, 1
    kernel.fcntl(fd, kernel.F_SETLK, fl).unwrap()
    fl.l_type = kernel.F_UNLCK
    kernel.fcntl(fd, kernel.F_SETLK, fl).unwrap()


def _lock_at(kernel: Kernel, fd: int, cmd: int, ltype: int, whence: int, start: int, length: int):
    fl = kernel.new("struct flock *")
    fl.l_type, fl.l_whence, fl.l_start, fl.l_len = ltype, whence, start, length
    return kernel.fcntl(fd, cmd, fl), fl


def _conflict_seen_from_child(kernel: Kernel, in_child, path: Path) -> tuple[int, int, int]:
    """A forked child's F_GETLK over the whole file: (type, start, len) of the conflict."""

    def probe() -> tuple[int, int, int]:
        other = kernel.openat(kernel.AT_FDCWD, path, kernel.O_RDWR).unwrap()
        r, fl = _lock(kernel, other, kernel.F_GETLK, kernel.F_WRLCK)
        r.unwrap()
        return fl.l_type, fl.l_start, fl.l_len

    return in_child(probe)


@pytest.mark.os("linux")
def test_setlk_unknown_whence_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"x" * 10)
    assert _lock_at(kernel, fd, kernel.F_SETLK, kernel.F_WRLCK, 7, 0, 0)[0].errno == "EINVAL"


@pytest.mark.os("linux")
def test_setlk_start_before_the_file_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"x" * 10)
    r = _lock_at(kernel, fd, kernel.F_SETLK, kernel.F_WRLCK, kernel.SEEK_SET, -1, 1)[0]
    assert r.errno == "EINVAL"


@pytest.mark.os("linux")
def test_setlk_range_past_the_largest_offset_is_eoverflow(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"x" * 10)
    start = 2**63 - 1
    r = _lock_at(kernel, fd, kernel.F_SETLK, kernel.F_WRLCK, kernel.SEEK_SET, start, 2)[0]
    assert r.errno == "EOVERFLOW"


def test_setlk_negative_length_locks_the_bytes_before_start(
    kernel: Kernel, tmp: Path, fds, in_child
) -> None:
    fd = fds.file(tmp / "f", b"x" * 100)
    _lock_at(kernel, fd, kernel.F_SETLK, kernel.F_WRLCK, kernel.SEEK_SET, 10, -5)[0].unwrap()
    assert _conflict_seen_from_child(kernel, in_child, tmp / "f") == (kernel.F_WRLCK, 5, 5)


def test_setlk_seek_end_start_is_relative_to_the_size(
    kernel: Kernel, tmp: Path, fds, in_child
) -> None:
    fd = fds.file(tmp / "f", b"x" * 100)
    _lock_at(kernel, fd, kernel.F_SETLK, kernel.F_WRLCK, kernel.SEEK_END, -10, 4)[0].unwrap()
    assert _conflict_seen_from_child(kernel, in_child, tmp / "f") == (kernel.F_WRLCK, 90, 4)


def test_setlk_seek_cur_start_is_relative_to_the_offset(
    kernel: Kernel, tmp: Path, fds, in_child
) -> None:
    fd = fds.file(tmp / "f", b"x" * 100)
    kernel.lseek(fd, 30, kernel.SEEK_SET).unwrap()
    _lock_at(kernel, fd, kernel.F_SETLK, kernel.F_WRLCK, kernel.SEEK_CUR, 5, 2)[0].unwrap()
    assert _conflict_seen_from_child(kernel, in_child, tmp / "f") == (kernel.F_WRLCK, 35, 2)


def test_setlk_read_lock_on_write_only_fd_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"x", kernel.O_WRONLY)
    assert _setlk(kernel, fd, kernel.F_RDLCK).errno == "EBADF"


@pytest.mark.os("linux")
def test_getlk_with_type_unlck_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"x")
    assert _lock(kernel, fd, kernel.F_GETLK, kernel.F_UNLCK)[0].errno == "EINVAL"
