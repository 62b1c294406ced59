"""fallocate(2) (Linux): preallocation, KEEP_SIZE, hole punching, and refusals.

A file system without fallocate answers EOPNOTSUPP; the tests skip saying so. Punching a
hole requires FALLOC_FL_KEEP_SIZE (EOPNOTSUPP otherwise, fallocate(2)).
"""

from pathlib import Path

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")


@pytest.fixture
def fd(kernel: Kernel, tmp: Path, fds) -> int:
    fd = fds.file(tmp / "f")
    r = kernel.fallocate(fd, 0, 0, 4096)
    if r.errno == "EOPNOTSUPP":
        pytest.skip(f"the file system under {tmp} does not support fallocate")
    r.unwrap()
    kernel.ftruncate(fd, 0).unwrap()
    return fd


def _stat(kernel: Kernel, fd: int):
    st = kernel.new("struct stat *")
    kernel.fstat(fd, st).unwrap()
    return st


def test_fallocate_extends_size_with_zeros(kernel: Kernel, tmp: Path, fd: int) -> None:
    kernel.fallocate(fd, 0, 0, 8192).unwrap()
    assert _stat(kernel, fd).st_size == 8192
    assert (tmp / "f").read_bytes() == b"\0" * 8192


def test_fallocate_keep_size_allocates_without_growing(kernel: Kernel, fd: int) -> None:
    kernel.fallocate(fd, kernel.FALLOC_FL_KEEP_SIZE, 0, 65536).unwrap()
    st = _stat(kernel, fd)
    assert st.st_size == 0
    assert st.st_blocks * 512 >= 65536


def test_fallocate_punch_hole_zeroes_range_keeping_size(kernel: Kernel, tmp: Path, fd: int) -> None:
    kernel.write(fd, b"x" * 12288, 12288).unwrap()
    mode = kernel.FALLOC_FL_PUNCH_HOLE | kernel.FALLOC_FL_KEEP_SIZE
    kernel.fallocate(fd, mode, 4096, 4096).unwrap()
    assert (tmp / "f").read_bytes() == b"x" * 4096 + b"\0" * 4096 + b"x" * 4096


def test_fallocate_punch_hole_without_keep_size_is_eopnotsupp(kernel: Kernel, fd: int) -> None:
    assert kernel.fallocate(fd, kernel.FALLOC_FL_PUNCH_HOLE, 0, 4096).errno == "EOPNOTSUPP"


def test_fallocate_zero_length_is_einval(kernel: Kernel, fd: int) -> None:
    assert kernel.fallocate(fd, 0, 0, 0).errno == "EINVAL"


def test_fallocate_on_read_only_fd_is_ebadf(kernel: Kernel, tmp: Path, fds, fd: int) -> None:
    ro = fds.open(tmp / "f", kernel.O_RDONLY)
    assert kernel.fallocate(ro, 0, 0, 4096).errno == "EBADF"


def test_fallocate_on_pipe_is_espipe(kernel: Kernel, fds) -> None:
    _, wfd = fds.pipe()
    assert kernel.fallocate(wfd, 0, 0, 4096).errno == "ESPIPE"


# The generic checks (fs/open.c vfs_fallocate), before the file system sees the call.
def test_fallocate_negative_offset_or_length_is_einval(kernel: Kernel, fd: int) -> None:
    assert kernel.fallocate(fd, 0, -1, 4096).errno == "EINVAL"
    assert kernel.fallocate(fd, 0, 0, -1).errno == "EINVAL"
    assert _stat(kernel, fd).st_size == 0


def test_fallocate_unknown_mode_bit_is_eopnotsupp(kernel: Kernel, fd: int) -> None:
    assert kernel.fallocate(fd, 1 << 20, 0, 4096).errno == "EOPNOTSUPP"
    assert _stat(kernel, fd).st_size == 0


def test_fallocate_punch_hole_with_zero_range_is_eopnotsupp(kernel: Kernel, fd: int) -> None:
    mode = kernel.FALLOC_FL_PUNCH_HOLE | kernel.FALLOC_FL_ZERO_RANGE | kernel.FALLOC_FL_KEEP_SIZE
    assert kernel.fallocate(fd, mode, 0, 4096).errno == "EOPNOTSUPP"


def test_fallocate_range_past_the_largest_offset_is_efbig(kernel: Kernel, fd: int) -> None:
    top = (1 << 63) - 1
    assert kernel.fallocate(fd, 0, top - 100, 4096).errno == "EFBIG"  # offset + len wraps
    assert _stat(kernel, fd).st_size == 0


def test_fallocate_on_a_character_device_is_enodev(kernel: Kernel, fds) -> None:
    null = fds.open("/dev/null", kernel.O_WRONLY)
    assert kernel.fallocate(null, 0, 0, 4096).errno == "ENODEV"


# On an append-only file only plain allocation (with or without KEEP_SIZE) is allowed;
# punching a hole is EPERM (fs/open.c vfs_fallocate).
@pytest.mark.root
def test_fallocate_punch_hole_in_an_append_only_file_is_eperm(
    kernel: Kernel, tmp: Path, fds, fd: int, inode_flags
) -> None:
    kernel.write(fd, b"x" * 8192, 8192).unwrap()
    inode_flags(tmp / "f", "append")
    afd = fds.open(tmp / "f", kernel.O_WRONLY | kernel.O_APPEND)
    mode = kernel.FALLOC_FL_PUNCH_HOLE | kernel.FALLOC_FL_KEEP_SIZE
    assert kernel.fallocate(afd, mode, 0, 4096).errno == "EPERM"
    kernel.fallocate(afd, kernel.FALLOC_FL_KEEP_SIZE, 0, 16384).unwrap()
    assert (tmp / "f").read_bytes() == b"x" * 8192
