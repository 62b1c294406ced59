"""read(2) and write(2) on regular files: counts, offsets, EOF and errors."""

from pathlib import Path

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.smoke

BAD_ADDRESS = 8  # inside the never-mapped first page: copy to/from user faults


def test_write_returns_count_and_read_returns_the_same_bytes(
    kernel: Kernel, tmp: Path, fds
) -> None:
    fd = fds.file(tmp / "f")
    assert kernel.write(fd, b"hello world", 11).unwrap() == 11
    kernel.lseek(fd, 0, kernel.SEEK_SET).unwrap()
    buf = kernel.buf(32)
    n = kernel.read(fd, buf, 32).unwrap()
    assert kernel.bytes(buf, n) == b"hello world"


def test_read_advances_the_file_offset(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"0123456789")
    buf = kernel.buf(4)
    kernel.read(fd, buf, 4).unwrap()
    assert kernel.lseek(fd, 0, kernel.SEEK_CUR).unwrap() == 4
    kernel.read(fd, buf, 4).unwrap()
    assert kernel.bytes(buf, 4) == b"4567"


def test_read_near_eof_is_short(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abcdef")
    kernel.lseek(fd, 4, kernel.SEEK_SET).unwrap()
    buf = kernel.buf(100)
    assert kernel.read(fd, buf, 100).unwrap() == 2
    assert kernel.bytes(buf, 2) == b"ef"


def test_read_at_eof_returns_zero(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc")
    kernel.lseek(fd, 0, kernel.SEEK_END).unwrap()
    assert kernel.read(fd, kernel.buf(8), 8).unwrap() == 0


def test_zero_length_read_returns_zero(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc")
    assert kernel.read(fd, kernel.buf(1), 0).unwrap() == 0
    assert kernel.lseek(fd, 0, kernel.SEEK_CUR).unwrap() == 0


def test_zero_length_write_returns_zero_and_leaves_file(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc")
    assert kernel.write(fd, b"x", 0).unwrap() == 0
    assert (tmp / "f").read_bytes() == b"abc"


def test_read_on_closed_fd_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc")
    fds.close(fd).unwrap()
    assert kernel.read(fd, kernel.buf(4), 4).errno == "EBADF"


def test_read_on_write_only_fd_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc", kernel.O_WRONLY)
    assert kernel.read(fd, kernel.buf(4), 4).errno == "EBADF"


def test_write_on_read_only_fd_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc", kernel.O_RDONLY)
    assert kernel.write(fd, b"x", 1).errno == "EBADF"


@pytest.mark.requires("fault_handler")
def test_read_into_bad_address_is_efault(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc")
    assert kernel.read(fd, BAD_ADDRESS, 3).errno == "EFAULT"


@pytest.mark.requires("fault_handler")
def test_write_from_bad_address_is_efault(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    assert kernel.write(fd, BAD_ADDRESS, 3).errno == "EFAULT"
    assert (tmp / "f").read_bytes() == b""


def test_read_on_directory_is_eisdir(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.open(tmp, kernel.O_RDONLY | kernel.O_DIRECTORY)
    assert kernel.read(fd, kernel.buf(64), 64).errno == "EISDIR"
