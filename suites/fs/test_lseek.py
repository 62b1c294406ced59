"""lseek(2): whence arithmetic, holes (SEEK_DATA/SEEK_HOLE) and the errors.

A file system without hole tracking may report the whole file as data (the generic
fallback: the only hole is at EOF); the hole tests accept that range and record what
the kernel answered.

Offsets past 4 GiB (a sparse file, one byte written there) show that 64-bit offsets
reach the kernel and come back whole: on i386 lseek is _llseek, whose offset takes two
registers and whose result is a loff_t the kernel fills. The file is opened with
O_LARGEFILE where the OS has it (a 32-bit process needs it to write past 2 GiB: EFBIG).
"""

from pathlib import Path

import pytest

from syscalls.kernel import Kernel

MIB = 1 << 20
GIB = 1 << 30
FAR = 5 * GIB + 3  # past 4 GiB: no 32-bit half holds it


@pytest.mark.smoke
def test_lseek_set_returns_the_new_offset(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"0123456789")
    assert kernel.lseek(fd, 7, kernel.SEEK_SET).unwrap() == 7
    buf = kernel.buf(1)
    kernel.read(fd, buf, 1).unwrap()
    assert kernel.bytes(buf, 1) == b"7"


@pytest.mark.smoke
def test_lseek_cur_adds_to_the_current_offset(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"0123456789")
    kernel.lseek(fd, 2, kernel.SEEK_SET).unwrap()
    assert kernel.lseek(fd, 3, kernel.SEEK_CUR).unwrap() == 5
    assert kernel.lseek(fd, -4, kernel.SEEK_CUR).unwrap() == 1


@pytest.mark.smoke
def test_lseek_end_is_relative_to_size(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"0123456789")
    assert kernel.lseek(fd, -3, kernel.SEEK_END).unwrap() == 7


def test_lseek_past_eof_then_write_reads_back_zeros(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"ab")
    assert kernel.lseek(fd, 5, kernel.SEEK_END).unwrap() == 7
    kernel.write(fd, b"c", 1).unwrap()
    assert (tmp / "f").read_bytes() == b"ab\0\0\0\0\0c"


def test_lseek_to_negative_offset_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"ab")
    assert kernel.lseek(fd, -3, kernel.SEEK_END).errno == "EINVAL"
    assert kernel.lseek(fd, 0, kernel.SEEK_CUR).unwrap() == 0


@pytest.mark.smoke
def test_lseek_unknown_whence_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"ab")
    assert kernel.lseek(fd, 0, 77).errno == "EINVAL"


@pytest.mark.smoke
def test_lseek_on_pipe_is_espipe(kernel: Kernel, fds) -> None:
    rfd, _ = fds.pipe()
    assert kernel.lseek(rfd, 0, kernel.SEEK_CUR).errno == "ESPIPE"


def test_lseek_on_closed_fd_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    fds.close(fd).unwrap()
    assert kernel.lseek(fd, 0, kernel.SEEK_SET).errno == "EBADF"


def _sparse(kernel: Kernel, tmp: Path, fds) -> int:
    """4 KiB of data, a hole, then 4 KiB of data at 1 MiB."""
    fd = fds.file(tmp / "sparse")
    kernel.pwrite64(fd, b"a" * 4096, 4096, 0).unwrap()
    kernel.pwrite64(fd, b"b" * 4096, 4096, MIB).unwrap()
    return fd


def test_lseek_seek_hole_finds_a_hole_after_leading_data(
    kernel: Kernel, tmp: Path, fds, observe
) -> None:
    fd = _sparse(kernel, tmp, fds)
    hole = kernel.lseek(fd, 0, kernel.SEEK_HOLE).unwrap()
    observe("first_hole", hole)
    assert hole in (4096, MIB + 4096)  # exact hole, or the generic "only hole is EOF"


def test_lseek_seek_data_skips_a_hole(kernel: Kernel, tmp: Path, fds, observe) -> None:
    fd = _sparse(kernel, tmp, fds)
    data = kernel.lseek(fd, 8192, kernel.SEEK_DATA).unwrap()
    observe("data_after_hole", data)
    assert data in (MIB, 8192)  # the data at 1 MiB, or the generic "all data" answer


def test_lseek_seek_hole_on_dense_file_is_its_size(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"x" * 100)
    assert kernel.lseek(fd, 10, kernel.SEEK_HOLE).unwrap() == 100


def test_lseek_seek_data_at_eof_is_enxio(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"x" * 100)
    assert kernel.lseek(fd, 100, kernel.SEEK_DATA).errno == "ENXIO"
    assert kernel.lseek(fd, 200, kernel.SEEK_HOLE).errno == "ENXIO"


def _large(kernel: Kernel, tmp: Path, fds) -> int:
    """An empty file, opened for offsets past 2 GiB (O_LARGEFILE where the OS has it)."""
    return fds.file(tmp / "large", flags=kernel.O_RDWR | getattr(kernel, "O_LARGEFILE", 0))


def test_lseek_past_4_gib_returns_the_whole_offset(kernel: Kernel, tmp: Path, fds) -> None:
    fd = _large(kernel, tmp, fds)
    assert kernel.lseek(fd, FAR, kernel.SEEK_SET).unwrap() == FAR
    assert kernel.lseek(fd, 0, kernel.SEEK_CUR).unwrap() == FAR


@pytest.mark.requires("large_files")
def test_write_past_4_gib_sets_the_size_and_reads_back(kernel: Kernel, tmp: Path, fds) -> None:
    fd = _large(kernel, tmp, fds)
    kernel.lseek(fd, FAR, kernel.SEEK_SET).unwrap()
    assert kernel.write(fd, b"z", 1).unwrap() == 1
    assert kernel.lseek(fd, 0, kernel.SEEK_CUR).unwrap() == FAR + 1
    st = kernel.new("struct stat *")
    kernel.fstat(fd, st).unwrap()
    assert st.st_size == FAR + 1
    buf = kernel.buf(2)
    assert kernel.pread64(fd, buf, 2, FAR).unwrap() == 1 and kernel.bytes(buf, 1) == b"z"


@pytest.mark.requires("large_files")
def test_lseek_cur_and_end_carry_offsets_beyond_32_bits(kernel: Kernel, tmp: Path, fds) -> None:
    fd = _large(kernel, tmp, fds)
    kernel.ftruncate(fd, FAR).unwrap()
    assert kernel.lseek(fd, -(4 * GIB), kernel.SEEK_END).unwrap() == FAR - 4 * GIB
    assert kernel.lseek(fd, 4 * GIB + 1, kernel.SEEK_CUR).unwrap() == FAR + 1
    assert kernel.lseek(fd, -(FAR + 2), kernel.SEEK_CUR).errno == "EINVAL"
    assert kernel.lseek(fd, 0, kernel.SEEK_CUR).unwrap() == FAR + 1


def test_lseek_seek_data_inside_data_is_that_offset(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"x" * 100)
    assert kernel.lseek(fd, 10, kernel.SEEK_DATA).unwrap() == 10
    assert kernel.lseek(fd, 99, kernel.SEEK_DATA).unwrap() == 99  # the last byte is data
    assert kernel.lseek(fd, 0, kernel.SEEK_CUR).unwrap() == 99


def test_lseek_seek_hole_moves_the_file_offset_to_it(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"x" * 100)
    assert kernel.lseek(fd, 99, kernel.SEEK_HOLE).unwrap() == 100
    assert kernel.lseek(fd, 0, kernel.SEEK_CUR).unwrap() == 100


# A negative offset is past no data and before no hole: ENXIO, not EINVAL (mm/shmem.c
# shmem_file_llseek; fs/read_write.c generic_file_llseek_size compares it unsigned;
# fs/iomap/seek.c likewise), and the file offset stays.
@pytest.mark.os("linux")
def test_lseek_seek_data_or_hole_from_a_negative_offset_is_enxio(
    kernel: Kernel, tmp: Path, fds
) -> None:
    fd = fds.file(tmp / "f", b"x" * 100)
    kernel.lseek(fd, 5, kernel.SEEK_SET).unwrap()
    assert kernel.lseek(fd, -1, kernel.SEEK_DATA).errno == "ENXIO"
    assert kernel.lseek(fd, -1, kernel.SEEK_HOLE).errno == "ENXIO"
    assert kernel.lseek(fd, 0, kernel.SEEK_CUR).unwrap() == 5


def test_lseek_on_an_empty_file_finds_no_data(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    assert kernel.lseek(fd, 0, kernel.SEEK_DATA).errno == "ENXIO"
    assert kernel.lseek(fd, 0, kernel.SEEK_HOLE).errno == "ENXIO"
    assert kernel.lseek(fd, 0, kernel.SEEK_END).unwrap() == 0
