"""flock(2): whole-file locks owned by the open file description.

Two opens in one process are two owners, so they conflict; a dup'ed fd is the same
owner. EWOULDBLOCK is EAGAIN's other name (errno compares by number).
"""

from pathlib import Path

import pytest

from syscalls.kernel import Kernel


def test_flock_exclusive_conflicts_with_another_open(kernel: Kernel, tmp: Path, fds) -> None:
    a = fds.file(tmp / "f")
    b = fds.open(tmp / "f", kernel.O_RDONLY)
    kernel.flock(a, kernel.LOCK_EX).unwrap()
    assert kernel.flock(b, kernel.LOCK_EX | kernel.LOCK_NB).errno == "EWOULDBLOCK"
    assert kernel.flock(b, kernel.LOCK_SH | kernel.LOCK_NB).errno == "EWOULDBLOCK"


def test_flock_shared_locks_coexist(kernel: Kernel, tmp: Path, fds) -> None:
    a = fds.file(tmp / "f")
    b = fds.open(tmp / "f", kernel.O_RDONLY)
    kernel.flock(a, kernel.LOCK_SH).unwrap()
    kernel.flock(b, kernel.LOCK_SH | kernel.LOCK_NB).unwrap()


def test_flock_dup_shares_the_lock(kernel: Kernel, tmp: Path, fds) -> None:
    a = fds.file(tmp / "f")
    dup = fds(kernel.dup(a))
    kernel.flock(a, kernel.LOCK_EX).unwrap()
    kernel.flock(dup, kernel.LOCK_EX | kernel.LOCK_NB).unwrap()


def test_flock_unlock_lets_another_open_lock(kernel: Kernel, tmp: Path, fds) -> None:
    a = fds.file(tmp / "f")
    b = fds.open(tmp / "f", kernel.O_RDONLY)
    kernel.flock(a, kernel.LOCK_EX).unwrap()
    kernel.flock(a, kernel.LOCK_UN).unwrap()
    kernel.flock(b, kernel.LOCK_EX | kernel.LOCK_NB).unwrap()


def test_flock_is_released_when_the_last_fd_closes(kernel: Kernel, tmp: Path, fds) -> None:
    a = fds.file(tmp / "f")
    b = fds.open(tmp / "f", kernel.O_RDONLY)
    kernel.flock(a, kernel.LOCK_EX).unwrap()
    fds.close(a).unwrap()
    kernel.flock(b, kernel.LOCK_EX | kernel.LOCK_NB).unwrap()


def test_flock_unknown_operation_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    assert kernel.flock(fds.file(tmp / "f"), 0).errno == "EINVAL"


def test_flock_on_closed_fd_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    fds.close(fd).unwrap()
    assert kernel.flock(fd, kernel.LOCK_EX).errno == "EBADF"


def test_flock_exclusive_converted_to_shared_lets_others_share(
    kernel: Kernel, tmp: Path, fds
) -> None:
    a = fds.file(tmp / "f", b"x")
    b = fds.open(tmp / "f", kernel.O_RDONLY)
    kernel.flock(a, kernel.LOCK_EX).unwrap()
    kernel.flock(a, kernel.LOCK_SH).unwrap()
    kernel.flock(b, kernel.LOCK_SH | kernel.LOCK_NB).unwrap()
    assert kernel.flock(b, kernel.LOCK_EX | kernel.LOCK_NB).errno == "EWOULDBLOCK"


@pytest.mark.os("linux")
@pytest.mark.min_kernel("3.6")
def test_flock_on_an_o_path_fd_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "f").write_bytes(b"x")
    fd = fds.open(tmp / "f", kernel.O_PATH)
    assert kernel.flock(fd, kernel.LOCK_SH).errno == "EBADF"
