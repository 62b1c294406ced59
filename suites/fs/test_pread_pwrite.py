"""pread64(2) and pwrite64(2): positional I/O that leaves the file offset alone.

Linux's pwrite on an O_APPEND descriptor appends whatever the offset says (a documented
deviation from POSIX, see the pwrite(2) BUGS section); that test is Linux-only.
"""

from pathlib import Path

import pytest

from syscalls.kernel import Kernel


@pytest.mark.smoke
def test_pread_reads_at_offset_without_moving_file_offset(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"0123456789")
    buf = kernel.buf(3)
    assert kernel.pread64(fd, buf, 3, 5).unwrap() == 3
    assert kernel.bytes(buf, 3) == b"567"
    assert kernel.lseek(fd, 0, kernel.SEEK_CUR).unwrap() == 0


@pytest.mark.smoke
def test_pwrite_writes_at_offset_without_moving_file_offset(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"0123456789")
    assert kernel.pwrite64(fd, b"AB", 2, 3).unwrap() == 2
    assert kernel.lseek(fd, 0, kernel.SEEK_CUR).unwrap() == 0
    assert (tmp / "f").read_bytes() == b"012AB56789"


@pytest.mark.smoke
def test_pread_past_eof_returns_zero(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc")
    assert kernel.pread64(fd, kernel.buf(4), 4, 100).unwrap() == 0


@pytest.mark.smoke
def test_pwrite_past_eof_leaves_a_zero_filled_gap(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"ab")
    kernel.pwrite64(fd, b"Z", 1, 6).unwrap()
    assert (tmp / "f").read_bytes() == b"ab\0\0\0\0Z"


@pytest.mark.smoke
def test_pread_negative_offset_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc")
    assert kernel.pread64(fd, kernel.buf(1), 1, -1).errno == "EINVAL"


@pytest.mark.smoke
def test_pread_on_pipe_is_espipe(kernel: Kernel, fds) -> None:
    rfd, _ = fds.pipe()
    assert kernel.pread64(rfd, kernel.buf(1), 1, 0).errno == "ESPIPE"


@pytest.mark.smoke
def test_pwrite_on_read_only_fd_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc", kernel.O_RDONLY)
    assert kernel.pwrite64(fd, b"x", 1, 0).errno == "EBADF"


@pytest.mark.smoke
def test_pwrite_on_append_fd_appends_regardless_of_offset(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc", kernel.O_WRONLY | kernel.O_APPEND)
    kernel.pwrite64(fd, b"X", 1, 0).unwrap()
    assert (tmp / "f").read_bytes() == b"abcX"


@pytest.mark.smoke
def test_pwrite_negative_offset_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc")
    assert kernel.pwrite64(fd, b"x", 1, -1).errno == "EINVAL"
    assert (tmp / "f").read_bytes() == b"abc"


def test_pwrite_on_pipe_is_espipe(kernel: Kernel, fds) -> None:
    rfd, wfd = fds.pipe(kernel.O_NONBLOCK)
    assert kernel.pwrite64(wfd, b"x", 1, 0).errno == "ESPIPE"
    assert kernel.read(rfd, kernel.buf(1), 1).errno == "EAGAIN"  # nothing went in


# An offset whose end (offset + count) passes the largest loff_t is EINVAL before the
# file is looked at (fs/read_write.c rw_verify_area), for a read as for a write.
@pytest.mark.os("linux")
def test_pread_and_pwrite_whose_end_passes_the_largest_offset_is_einval(
    kernel: Kernel, tmp: Path, fds
) -> None:
    fd = fds.file(tmp / "f", b"abc")
    top = (1 << 63) - 1
    assert kernel.pread64(fd, kernel.buf(4), 4, top - 1).errno == "EINVAL"
    assert kernel.pwrite64(fd, b"xyzw", 4, top - 1).errno == "EINVAL"
    assert (tmp / "f").read_bytes() == b"abc"
    assert kernel.pread64(fd, kernel.buf(4), 4, top - 4).unwrap() == 0  # ends at it: EOF
