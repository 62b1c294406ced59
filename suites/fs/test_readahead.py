"""readahead(2): start reading a file's pages into the page cache. Only regular files and
block devices can (EINVAL otherwise, mm/readahead.c ksys_readahead); the descriptor must
be open for reading (EBADF). The 64-bit offset takes two registers on i386
(syscalls/abi_i386.py).
"""

from pathlib import Path

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")


def test_readahead_on_a_regular_file_returns_zero(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"x" * 10000, kernel.O_RDONLY)
    assert kernel.readahead(fd, 0, 10000).unwrap() == 0


def test_readahead_leaves_the_file_offset_alone(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"0123456789", kernel.O_RDONLY)
    kernel.readahead(fd, 4, 4).unwrap()
    assert kernel.lseek(fd, 0, kernel.SEEK_CUR).unwrap() == 0


def test_readahead_past_the_end_of_the_file_returns_zero(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc", kernel.O_RDONLY)
    assert kernel.readahead(fd, 5 << 30, 4096).unwrap() == 0  # a 64-bit offset


def test_readahead_on_a_pipe_is_einval(kernel: Kernel, fds) -> None:
    rfd, _ = fds.pipe()
    assert kernel.readahead(rfd, 0, 4096).errno == "EINVAL"


def test_readahead_on_a_socket_is_einval(kernel: Kernel, fds) -> None:
    a, _ = fds.socketpair()
    assert kernel.readahead(a, 0, 4096).errno == "EINVAL"


def test_readahead_on_a_directory_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.open(tmp, kernel.O_RDONLY | kernel.O_DIRECTORY)
    assert kernel.readahead(fd, 0, 4096).errno == "EINVAL"


def test_readahead_on_a_write_only_descriptor_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc", kernel.O_WRONLY)
    assert kernel.readahead(fd, 0, 4096).errno == "EBADF"


def test_readahead_on_a_closed_descriptor_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc", kernel.O_RDONLY)
    fds.close(fd)
    assert kernel.readahead(fd, 0, 4096).errno == "EBADF"
