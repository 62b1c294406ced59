"""readv/writev/preadv/preadv2/pwritev2: scatter-gather I/O in order, limits, flags.

UIO_MAXIOV (1024) is the most iovecs a call takes (include/uapi/linux/uio.h); an iov_len
above SSIZE_MAX is EINVAL. preadv2/pwritev2 (Linux 4.6) take offset -1 as "use the file
offset" and RWF_* flags; unknown flags are EOPNOTSUPP.
"""

from pathlib import Path

import pytest

from syscalls.expect import ByOS
from syscalls.fds import iovecs
from syscalls.kernel import Kernel

# No iovecs at all: NetBSD refuses (sys/kern/sys_generic.c, do_filereadv and
# do_filewritev: iovcnt == 0).
ZERO_IOVECS = ByOS(default="ok", netbsd="EINVAL")


def test_writev_gathers_buffers_in_order(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    iov, _ = iovecs(kernel, b"one ", b"two ", b"three")
    assert kernel.writev(fd, iov, 3).unwrap() == 13
    assert (tmp / "f").read_bytes() == b"one two three"


def test_readv_scatters_into_buffers_in_order(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abcdefgh")
    iov, bufs = iovecs(kernel, 3, 5)
    assert kernel.readv(fd, iov, 2).unwrap() == 8
    assert kernel.bytes(bufs[0], 3) == b"abc"
    assert kernel.bytes(bufs[1], 5) == b"defgh"


def test_readv_short_at_eof_fills_only_leading_buffers(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abcd")
    iov, bufs = iovecs(kernel, 3, 5)
    assert kernel.readv(fd, iov, 2).unwrap() == 4
    assert kernel.bytes(bufs[1], 5) == b"d\0\0\0\0"


def test_readv_with_zero_iovecs_returns_zero(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abcd")
    iov, _ = iovecs(kernel, 1)
    r = kernel.readv(fd, iov, 0)
    assert r.outcome == ZERO_IOVECS[kernel.platform.os]
    assert not r.ok or r.value == 0


def test_writev_over_uio_maxiov_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    n = kernel.UIO_MAXIOV + 1
    iov, _ = iovecs(kernel, *([b"x"] * n))
    assert kernel.writev(fd, iov, n).errno == "EINVAL"


def test_writev_of_uio_maxiov_iovecs_writes_them_all(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    n = kernel.UIO_MAXIOV
    iov, _ = iovecs(kernel, *([b"x"] * n))
    assert kernel.writev(fd, iov, n).unwrap() == n
    assert (tmp / "f").read_bytes() == b"x" * n


def test_writev_length_above_ssize_max_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    iov, _ = iovecs(kernel, b"x")
    iov[0].iov_len = 1 << (8 * kernel.ffi.sizeof("size_t") - 1)  # SSIZE_MAX + 1
    assert kernel.writev(fd, iov, 1).errno == "EINVAL"


def test_preadv_reads_at_offset_without_moving_file_offset(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"0123456789")
    iov, bufs = iovecs(kernel, 2, 2)
    assert kernel.preadv(fd, iov, 2, 6, 0).unwrap() == 4
    assert kernel.bytes(bufs[0], 2) + kernel.bytes(bufs[1], 2) == b"6789"
    assert kernel.lseek(fd, 0, kernel.SEEK_CUR).unwrap() == 0


@pytest.mark.os("linux")
@pytest.mark.min_kernel("4.6")
def test_preadv2_offset_minus_one_uses_and_advances_file_offset(
    kernel: Kernel, tmp: Path, fds
) -> None:
    fd = fds.file(tmp / "f", b"0123456789")
    kernel.lseek(fd, 3, kernel.SEEK_SET).unwrap()
    iov, bufs = iovecs(kernel, 4)
    assert kernel.preadv2(fd, iov, 1, -1, -1, 0).unwrap() == 4
    assert kernel.bytes(bufs[0], 4) == b"3456"
    assert kernel.lseek(fd, 0, kernel.SEEK_CUR).unwrap() == 7


@pytest.mark.os("linux")
@pytest.mark.min_kernel("4.6")
def test_pwritev2_offset_minus_one_writes_at_and_advances_file_offset(
    kernel: Kernel, tmp: Path, fds
) -> None:
    fd = fds.file(tmp / "f", b"0123456789")
    kernel.lseek(fd, 3, kernel.SEEK_SET).unwrap()
    iov, _ = iovecs(kernel, b"abc")
    assert kernel.pwritev2(fd, iov, 1, -1, -1, 0).unwrap() == 3
    assert (tmp / "f").read_bytes() == b"012abc6789"
    assert kernel.lseek(fd, 0, kernel.SEEK_CUR).unwrap() == 6


@pytest.mark.os("linux")
@pytest.mark.min_kernel("4.6")
def test_preadv2_unknown_flag_is_eopnotsupp(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc")
    iov, _ = iovecs(kernel, 3)
    assert kernel.preadv2(fd, iov, 1, 0, 0, 1 << 30).errno == "EOPNOTSUPP"


@pytest.mark.os("linux")
@pytest.mark.min_kernel("4.16")
def test_pwritev2_rwf_append_writes_at_end(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc")
    iov, _ = iovecs(kernel, b"Z")
    assert kernel.pwritev2(fd, iov, 1, 0, 0, kernel.RWF_APPEND).unwrap() == 1
    assert (tmp / "f").read_bytes() == b"abcZ"


# --- pwritev (and preadv): the offset as (pos_l, pos_h), the low and high halves on a
# 32-bit kernel ABI, the whole offset in pos_l on a 64-bit one (fs/read_write.c
# pos_from_hilo). NetBSD's amd64 calls take one off_t (after a PAD slot): pos_l, and
# pos_h (0 here) is a slot past its arguments, unread.


def _pos(kernel: Kernel, offset: int) -> tuple[int, int]:
    bits = 8 * kernel.ffi.sizeof("long")
    return offset & ((1 << bits) - 1), offset >> bits


def test_pwritev_writes_at_offset_without_moving_file_offset(
    kernel: Kernel, tmp: Path, fds
) -> None:
    fd = fds.file(tmp / "f", b"0123456789")
    iov, _ = iovecs(kernel, b"ab", b"cd")
    assert kernel.pwritev(fd, iov, 2, *_pos(kernel, 4)).unwrap() == 4
    assert (tmp / "f").read_bytes() == b"0123abcd89"
    assert kernel.lseek(fd, 0, kernel.SEEK_CUR).unwrap() == 0


def test_pwritev_past_the_end_leaves_a_hole_of_zeros(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"ab")
    iov, _ = iovecs(kernel, b"Z")
    kernel.pwritev(fd, iov, 1, *_pos(kernel, 5)).unwrap()
    assert (tmp / "f").read_bytes() == b"ab\0\0\0Z"


@pytest.mark.os("linux")
def test_pwritev_offset_past_4_gib_reaches_the_file(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", flags=kernel.O_RDWR | kernel.O_LARGEFILE)  # 32-bit: else EFBIG
    iov, _ = iovecs(kernel, b"far")
    far = 5 << 30
    assert kernel.pwritev(fd, iov, 1, *_pos(kernel, far)).unwrap() == 3
    assert (tmp / "f").stat().st_size == far + 3
    back, bufs = iovecs(kernel, 3)
    assert kernel.preadv(fd, back, 1, *_pos(kernel, far)).unwrap() == 3
    assert kernel.bytes(bufs[0], 3) == b"far"


def test_pwritev_on_an_append_only_descriptor_appends(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "f").write_bytes(b"abc")
    fd = fds.open(tmp / "f", kernel.O_WRONLY | kernel.O_APPEND)
    iov, _ = iovecs(kernel, b"Z")
    kernel.pwritev(fd, iov, 1, *_pos(kernel, 0)).unwrap()  # pwrite(2) BUGS: O_APPEND wins
    assert (tmp / "f").read_bytes() == b"abcZ"


def test_pwritev_with_zero_iovecs_writes_nothing(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc")
    iov, _ = iovecs(kernel, b"x")
    r = kernel.pwritev(fd, iov, 0, *_pos(kernel, 0))
    assert r.outcome == ZERO_IOVECS[kernel.platform.os]
    assert not r.ok or r.value == 0
    assert (tmp / "f").read_bytes() == b"abc"


def test_pwritev_negative_offset_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    iov, _ = iovecs(kernel, b"x")
    assert kernel.pwritev(fd, iov, 1, *_pos(kernel, -1 & (1 << 64) - 1)).errno == "EINVAL"


def test_pwritev_on_a_pipe_is_espipe(kernel: Kernel, fds) -> None:
    _, wfd = fds.pipe()
    iov, _ = iovecs(kernel, b"x")
    assert kernel.pwritev(wfd, iov, 1, 0, 0).errno == "ESPIPE"


def test_pwritev_on_a_read_only_descriptor_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc", kernel.O_RDONLY)
    iov, _ = iovecs(kernel, b"x")
    assert kernel.pwritev(fd, iov, 1, 0, 0).errno == "EBADF"


def test_pwritev_over_uio_maxiov_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    iov, _ = iovecs(kernel, *([1] * (kernel.UIO_MAXIOV + 1)))
    assert kernel.pwritev(fd, iov, kernel.UIO_MAXIOV + 1, 0, 0).errno == "EINVAL"


def test_preadv_past_the_end_returns_zero(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc")
    iov, _ = iovecs(kernel, 4)
    assert kernel.preadv(fd, iov, 1, *_pos(kernel, 10)).unwrap() == 0


def test_preadv_on_a_pipe_is_espipe(kernel: Kernel, fds) -> None:
    rfd, _ = fds.pipe()
    iov, _ = iovecs(kernel, 4)
    assert kernel.preadv(rfd, iov, 1, 0, 0).errno == "ESPIPE"
