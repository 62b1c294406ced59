"""close_range(2): closing or marking close-on-exec a range of descriptors
(Linux >= 5.9; CLOSE_RANGE_CLOEXEC since 5.11)."""

import os

import pytest

from syscalls.kernel import Kernel

pytestmark = [pytest.mark.os("linux"), pytest.mark.min_kernel("5.9")]


def _open_run(kernel: Kernel, fds, n: int) -> list[int]:
    """n consecutive descriptors, above everything else open (F_DUPFD from a high base)."""
    r, _ = fds.pipe()
    base = max(fds.held) + 100
    return [fds(kernel.fcntl(r, kernel.F_DUPFD, base + i)) for i in range(n)]


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def test_close_range_closes_every_fd_in_range(kernel: Kernel, fds) -> None:
    run = _open_run(kernel, fds, 3)
    kernel.close_range(run[0], run[2], 0).unwrap()
    assert [_is_open(fd) for fd in run] == [False, False, False]


def test_close_range_leaves_fds_outside_the_range(kernel: Kernel, fds) -> None:
    run = _open_run(kernel, fds, 3)
    kernel.close_range(run[1], run[1], 0).unwrap()
    assert [_is_open(fd) for fd in run] == [True, False, True]


def test_close_range_up_to_max_closes_the_tail(kernel: Kernel, fds, in_child) -> None:
    run = _open_run(kernel, fds, 2)

    def close_tail() -> list[bool]:
        kernel.close_range(run[0], 0xFFFFFFFF, 0).unwrap()
        return [_is_open(fd) for fd in run]

    assert in_child(close_tail) == [False, False]


@pytest.mark.min_kernel("5.11")
def test_close_range_cloexec_marks_without_closing(kernel: Kernel, fds) -> None:
    run = _open_run(kernel, fds, 2)
    kernel.close_range(run[0], run[1], kernel.CLOSE_RANGE_CLOEXEC).unwrap()
    for fd in run:
        assert kernel.fcntl(fd, kernel.F_GETFD, 0).unwrap() & kernel.FD_CLOEXEC


def test_close_range_first_above_last_is_einval(kernel: Kernel) -> None:
    assert kernel.close_range(10, 5, 0).errno == "EINVAL"


def test_close_range_unknown_flag_is_einval(kernel: Kernel) -> None:
    assert kernel.close_range(1000, 1001, 1 << 10).errno == "EINVAL"


def test_close_range_of_unused_fds_succeeds(kernel: Kernel) -> None:
    kernel.close_range(900_000, 900_010, 0).unwrap()


@pytest.mark.min_kernel("5.11")
def test_close_range_cloexec_leaves_fds_outside_the_range(kernel: Kernel, fds) -> None:
    run = _open_run(kernel, fds, 3)
    kernel.close_range(run[1], run[1], kernel.CLOSE_RANGE_CLOEXEC).unwrap()
    marked = [bool(kernel.fcntl(fd, kernel.F_GETFD, 0).unwrap() & kernel.FD_CLOEXEC) for fd in run]
    assert marked == [False, True, False]
