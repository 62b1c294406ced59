"""copy_file_range(2) (Linux 4.5): in-kernel copies between regular files.

flags must be 0; overlapping ranges of one file are EINVAL; an O_APPEND output is EBADF.
"""

from pathlib import Path

import pytest

from syscalls.kernel import Kernel

pytestmark = [pytest.mark.os("linux"), pytest.mark.min_kernel("4.5")]


def test_copy_file_range_copies_and_advances_offsets(kernel: Kernel, tmp: Path, fds) -> None:
    src = fds.file(tmp / "src", b"0123456789")
    dst = fds.file(tmp / "dst")
    kernel.lseek(src, 2, kernel.SEEK_SET).unwrap()
    assert kernel.copy_file_range(src, None, dst, None, 5, 0).unwrap() == 5
    assert kernel.lseek(src, 0, kernel.SEEK_CUR).unwrap() == 7
    assert kernel.lseek(dst, 0, kernel.SEEK_CUR).unwrap() == 5
    assert (tmp / "dst").read_bytes() == b"23456"


def test_copy_file_range_with_offsets_leaves_file_offsets(kernel: Kernel, tmp: Path, fds) -> None:
    src = fds.file(tmp / "src", b"0123456789")
    dst = fds.file(tmp / "dst", b"abcdef")
    off_in, off_out = kernel.new("int64_t *", 8), kernel.new("int64_t *", 1)
    assert kernel.copy_file_range(src, off_in, dst, off_out, 2, 0).unwrap() == 2
    assert (off_in[0], off_out[0]) == (10, 3)
    assert kernel.lseek(src, 0, kernel.SEEK_CUR).unwrap() == 0
    assert (tmp / "dst").read_bytes() == b"a89def"


def test_copy_file_range_at_eof_returns_zero(kernel: Kernel, tmp: Path, fds) -> None:
    src = fds.file(tmp / "src", b"abc")
    dst = fds.file(tmp / "dst")
    off_in = kernel.new("int64_t *", 3)
    assert kernel.copy_file_range(src, off_in, dst, None, 10, 0).unwrap() == 0


def test_copy_file_range_nonzero_flags_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    src = fds.file(tmp / "src", b"abc")
    dst = fds.file(tmp / "dst")
    assert kernel.copy_file_range(src, None, dst, None, 3, 1).errno == "EINVAL"


def test_copy_file_range_overlapping_same_file_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"0123456789")
    off_in, off_out = kernel.new("int64_t *", 0), kernel.new("int64_t *", 2)
    assert kernel.copy_file_range(fd, off_in, fd, off_out, 5, 0).errno == "EINVAL"


def test_copy_file_range_to_append_output_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    src = fds.file(tmp / "src", b"abc")
    dst = fds.file(tmp / "dst", b"", kernel.O_WRONLY | kernel.O_APPEND)
    assert kernel.copy_file_range(src, None, dst, None, 3, 0).errno == "EBADF"


def test_copy_file_range_length_past_eof_is_cut_to_its_size(kernel: Kernel, tmp: Path, fds) -> None:
    src = fds.file(tmp / "src", b"0123456789")
    dst = fds.file(tmp / "dst")
    off_in = kernel.new("int64_t *", 6)
    assert kernel.copy_file_range(src, off_in, dst, None, 100, 0).unwrap() == 4
    assert off_in[0] == 10
    assert (tmp / "dst").read_bytes() == b"6789"


def test_copy_file_range_zero_length_copies_nothing(kernel: Kernel, tmp: Path, fds) -> None:
    src = fds.file(tmp / "src", b"abc")
    dst = fds.file(tmp / "dst")
    assert kernel.copy_file_range(src, None, dst, None, 0, 0).unwrap() == 0
    assert kernel.lseek(src, 0, kernel.SEEK_CUR).unwrap() == 0
    assert (tmp / "dst").read_bytes() == b""


# Ranges of one file that touch but do not overlap are allowed: the overlap rule
# (fs/read_write.c generic_copy_file_checks) compares with strict inequalities.
def test_copy_file_range_adjacent_ranges_of_one_file_copy(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abcde12345")
    off_in, off_out = kernel.new("int64_t *", 0), kernel.new("int64_t *", 5)
    assert kernel.copy_file_range(fd, off_in, fd, off_out, 5, 0).unwrap() == 5
    assert (off_in[0], off_out[0]) == (5, 10)
    assert (tmp / "f").read_bytes() == b"abcdeabcde"
    off_in[0], off_out[0] = 5, 0  # the other way round: the output ends where input starts
    assert kernel.copy_file_range(fd, off_in, fd, off_out, 5, 0).unwrap() == 5


def test_copy_file_range_from_write_only_input_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    src = fds.file(tmp / "src", b"abc", kernel.O_WRONLY)
    dst = fds.file(tmp / "dst")
    assert kernel.copy_file_range(src, None, dst, None, 3, 0).errno == "EBADF"


def test_copy_file_range_to_read_only_output_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    src = fds.file(tmp / "src", b"abc")
    dst = fds.file(tmp / "dst", b"", kernel.O_RDONLY)
    assert kernel.copy_file_range(src, None, dst, None, 3, 0).errno == "EBADF"
    assert kernel.lseek(src, 0, kernel.SEEK_CUR).unwrap() == 0


def test_copy_file_range_with_a_directory_is_eisdir(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "d").mkdir()
    d = fds.open(tmp / "d", kernel.O_RDONLY | kernel.O_DIRECTORY)
    f = fds.file(tmp / "f", b"abc")
    assert kernel.copy_file_range(d, None, f, None, 3, 0).errno == "EISDIR"
    assert kernel.copy_file_range(f, None, d, None, 3, 0).errno == "EISDIR"  # before EBADF


def test_copy_file_range_from_a_pipe_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    rfd, wfd = fds.pipe()
    kernel.write(wfd, b"abc", 3).unwrap()
    dst = fds.file(tmp / "dst")
    assert kernel.copy_file_range(rfd, None, dst, None, 3, 0).errno == "EINVAL"


def test_copy_file_range_negative_offset_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    src = fds.file(tmp / "src", b"abc")
    dst = fds.file(tmp / "dst")
    off_in = kernel.new("int64_t *", -5)  # -5 + 1 wraps nothing: the sign is refused
    assert kernel.copy_file_range(src, off_in, dst, None, 1, 0).errno == "EINVAL"
    assert off_in[0] == -5
    off_out = kernel.new("int64_t *", -5)
    assert kernel.copy_file_range(src, None, dst, off_out, 1, 0).errno == "EINVAL"
    assert kernel.lseek(src, 0, kernel.SEEK_CUR).unwrap() == 0


# offset + length wrapping past 2^64 (the sum is taken unsigned) is EOVERFLOW, before the
# length is cut to the input's size (fs/read_write.c generic_copy_file_checks).
def test_copy_file_range_range_wrapping_the_offset_is_eoverflow(
    kernel: Kernel, tmp: Path, fds
) -> None:
    if kernel.ffi.sizeof("size_t") != 8:
        pytest.skip("a 32-bit length cannot wrap a 64-bit offset")
    src = fds.file(tmp / "src", b"abc")
    dst = fds.file(tmp / "dst")
    everything = (1 << 8 * kernel.ffi.sizeof("size_t")) - 1  # SIZE_MAX
    off_in = kernel.new("int64_t *", 1)
    assert kernel.copy_file_range(src, off_in, dst, None, everything, 0).errno == "EOVERFLOW"
    assert off_in[0] == 1
    off_out = kernel.new("int64_t *", 1)
    r = kernel.copy_file_range(src, None, dst, off_out, everything, 0)
    assert r.errno == "EOVERFLOW"
    assert (tmp / "dst").read_bytes() == b""
