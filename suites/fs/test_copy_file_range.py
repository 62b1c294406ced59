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
