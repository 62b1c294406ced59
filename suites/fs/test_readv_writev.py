"""readv/writev/preadv/preadv2/pwritev2: scatter-gather I/O in order, limits, flags.

UIO_MAXIOV (1024) is the most iovecs a call takes (include/uapi/linux/uio.h); an iov_len
above SSIZE_MAX is EINVAL. preadv2/pwritev2 (Linux 4.6) take offset -1 as "use the file
offset" and RWF_* flags; unknown flags are EOPNOTSUPP.
"""

import os
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


# The vector calls check the descriptor's mode themselves (fs/read_write.c vfs_readv,
# vfs_writev), apart from read(2)/write(2)'s checks.
def test_readv_on_a_write_only_descriptor_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc", kernel.O_WRONLY)
    iov, _ = iovecs(kernel, 3)
    assert kernel.readv(fd, iov, 1).errno == "EBADF"


def test_writev_on_a_read_only_descriptor_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc", kernel.O_RDONLY)
    iov, _ = iovecs(kernel, b"x")
    assert kernel.writev(fd, iov, 1).errno == "EBADF"
    assert (tmp / "f").read_bytes() == b"abc"


@pytest.mark.os("linux")
def test_readv_and_writev_on_a_file_without_io_methods_is_einval(kernel: Kernel, fds) -> None:
    ep = fds(kernel.epoll_create1(0))  # no read or write method: FMODE_CAN_READ/WRITE unset
    iov, _ = iovecs(kernel, b"12345678")
    assert kernel.readv(ep, iov, 1).errno == "EINVAL"
    assert kernel.writev(ep, iov, 1).errno == "EINVAL"


def test_readv_skips_zero_length_iovecs(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abcdef")
    iov, bufs = iovecs(kernel, 2, 0, 4)
    assert kernel.readv(fd, iov, 3).unwrap() == 6
    assert kernel.bytes(bufs[0], 2) + kernel.bytes(bufs[2], 4) == b"abcdef"


# The iovecs' lengths are summed and the total cut to MAX_RW_COUNT (INT_MAX rounded down
# to a page), the last iovec shortened (lib/iov_iter.c iovec_from_user/__import_iovec).
# /dev/null takes any count without reading the buffers.
@pytest.mark.os("linux")
def test_writev_total_above_max_rw_count_is_cut_to_max_rw_count(kernel: Kernel, fds) -> None:
    if kernel.ffi.sizeof("long") != 8:
        pytest.skip("2 GiB iovecs are beyond a 32-bit user space")
    fd = fds.open("/dev/null", kernel.O_WRONLY)
    iov, _ = iovecs(kernel, 16, 16)
    iov[0].iov_len = iov[1].iov_len = 1 << 30  # 2 GiB in all
    max_rw = ((1 << 31) - 1) & ~(os.sysconf("SC_PAGE_SIZE") - 1)
    assert kernel.writev(fd, iov, 2).unwrap() == max_rw


@pytest.mark.os("linux")
@pytest.mark.min_kernel("4.6")
def test_preadv2_offset_below_minus_one_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc")
    iov, _ = iovecs(kernel, 3)
    assert kernel.preadv2(fd, iov, 1, -2, -1, 0).errno == "EINVAL"


@pytest.mark.os("linux")
@pytest.mark.min_kernel("4.6")
def test_pwritev2_offset_minus_one_on_a_pipe_writes_like_writev(kernel: Kernel, fds) -> None:
    rfd, wfd = fds.pipe()
    iov, _ = iovecs(kernel, b"ab", b"c")
    assert kernel.pwritev2(wfd, iov, 2, -1, -1, 0).unwrap() == 3  # offset -1: no ESPIPE
    assert kernel.pwritev2(wfd, iov, 2, 0, 0, 0).errno == "ESPIPE"
    buf = kernel.buf(8)
    assert kernel.bytes(buf, kernel.read(rfd, buf, 8).unwrap()) == b"abc"


@pytest.mark.os("linux")
@pytest.mark.min_kernel("4.6")
def test_pwritev2_unknown_flag_is_eopnotsupp(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc")
    iov, _ = iovecs(kernel, b"x")
    assert kernel.pwritev2(fd, iov, 1, 0, 0, 1 << 30).errno == "EOPNOTSUPP"
    assert (tmp / "f").read_bytes() == b"abc"


# RWF_NOWAIT: an eventfd (FMODE_NOWAIT since it exists) whose count is 0 answers EAGAIN
# instead of waiting, on a blocking descriptor too (fs/read_write.c kiocb_set_rw_flags;
# fs/eventfd.c eventfd_read: IOCB_NOWAIT). A kernel that dropped the flag would block:
# the child's time limit ends it.
@pytest.mark.os("linux")
@pytest.mark.min_kernel("5.10")
def test_preadv2_rwf_nowait_on_an_empty_eventfd_is_eagain(kernel: Kernel, fds, in_child) -> None:
    efd = fds(kernel.eventfd2(0, 0))

    def probe() -> str:
        iov, _ = iovecs(kernel, 8)
        return kernel.preadv2(efd, iov, 1, -1, -1, kernel.RWF_NOWAIT).outcome

    assert in_child(probe, timeout=5) == "EAGAIN"


# The RWF_* flags a kernel knows are taken by a buffered write on a regular file
# (fs/read_write.c kiocb_set_rw_flags: RWF_SUPPORTED); RWF_HIPRI only matters to polled
# direct I/O.
@pytest.mark.os("linux")
@pytest.mark.min_kernel("4.7")
@pytest.mark.parametrize("flag", ["RWF_HIPRI", "RWF_DSYNC", "RWF_SYNC"])
def test_pwritev2_known_flags_are_taken(kernel: Kernel, tmp: Path, fds, flag: str) -> None:
    fd = fds.file(tmp / "f", b"abc")
    iov, _ = iovecs(kernel, b"XY")
    assert kernel.pwritev2(fd, iov, 1, 1, 0, getattr(kernel, flag)).unwrap() == 2
    assert (tmp / "f").read_bytes() == b"aXY"
