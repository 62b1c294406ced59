"""Fds: descriptors a test opened are closed at teardown, whatever the test did."""

import os
from pathlib import Path

import pytest

from syscalls.abi import Platform
from syscalls.fds import Fds, iovecs, make_fifo
from syscalls.kernel import Kernel


@pytest.fixture(scope="module")
def k() -> Kernel:
    return Kernel(Platform.load())


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def test_close_all_closes_what_the_test_left_open(k: Kernel, tmp_path: Path) -> None:
    fds = Fds(k)
    f = fds.file(tmp_path / "f", b"data")
    r, w = fds.pipe()
    a, b = fds.socketpair()
    opened = [f, r, w, a, b]
    assert all(_is_open(fd) for fd in opened)
    fds.close_all()
    assert not any(_is_open(fd) for fd in opened)
    assert fds.held == []


def test_close_goes_through_the_kernel_and_forgets_the_fd(k: Kernel, tmp_path: Path) -> None:
    fds = Fds(k)
    fd = fds.open(tmp_path, k.O_RDONLY | k.O_DIRECTORY)
    assert fds.close(fd).ok
    assert fds.held == []
    assert not _is_open(fd)


def test_a_failed_open_is_not_registered(k: Kernel, tmp_path: Path) -> None:
    fds = Fds(k)
    with pytest.raises(AssertionError, match="ENOENT"):
        fds.open(tmp_path / "absent", k.O_RDONLY)
    assert fds.held == []


def test_make_fifo_uses_mknodat_where_there_is_no_mkfifo_call(k: Kernel, tmp_path: Path) -> None:
    seen: list = []
    k.observers.append(seen.append)
    try:
        make_fifo(k, tmp_path / "fifo")
    finally:
        k.observers.remove(seen.append)
    assert (tmp_path / "fifo").is_fifo()
    assert seen == []  # setup, not the test's subject: unrecorded


def test_iovecs_point_at_buffers_of_the_given_contents_and_sizes(k: Kernel) -> None:
    iov, bufs = iovecs(k, b"abc", 5)
    assert [iov[i].iov_len for i in range(2)] == [3, 5]
    assert k.bytes(iov[0].iov_base, 3) == b"abc" and k.bytes(iov[1].iov_base, 5) == bytes(5)
    assert iov[1].iov_base == k.ffi.cast("void *", bufs[1])
