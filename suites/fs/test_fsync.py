"""fsync, fdatasync, sync_file_range: accepted on files, refused where they mean nothing.

fsync on a pipe is EINVAL on Linux (no fsync method; NetBSD's fd_getvnode answers the
same). sync_file_range is Linux-only; fsync_range is NetBSD's: exactly one of FDATASYNC
and FFILESYNC, a writable descriptor, a range that does not wrap, length 0 for the whole
file (sys/kern/vfs_syscalls.c, sys_fsync_range); those tests run on the rump kernel and
are marked for NetBSD alone.
"""

from pathlib import Path

import pytest

from syscalls.kernel import Kernel


def test_fsync_after_write_succeeds(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    kernel.write(fd, b"data", 4).unwrap()
    kernel.fsync(fd).unwrap()


def test_fdatasync_after_write_succeeds(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    kernel.write(fd, b"data", 4).unwrap()
    kernel.fdatasync(fd).unwrap()


def test_fsync_on_directory_succeeds(kernel: Kernel, tmp: Path, fds) -> None:
    kernel.fsync(fds.open(tmp, kernel.O_RDONLY | kernel.O_DIRECTORY)).unwrap()


def test_fsync_on_closed_fd_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    fds.close(fd).unwrap()
    assert kernel.fsync(fd).errno == "EBADF"


def test_fsync_on_pipe_is_einval(kernel: Kernel, fds) -> None:
    _, wfd = fds.pipe()
    assert kernel.fsync(wfd).errno == "EINVAL"


@pytest.mark.os("linux")
def test_sync_file_range_write_and_wait_succeeds(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    kernel.write(fd, b"x" * 8192, 8192).unwrap()
    flags = (
        kernel.SYNC_FILE_RANGE_WAIT_BEFORE
        | kernel.SYNC_FILE_RANGE_WRITE
        | kernel.SYNC_FILE_RANGE_WAIT_AFTER
    )
    kernel.sync_file_range(fd, 0, 0, flags).unwrap()


@pytest.mark.os("linux")
def test_sync_file_range_unknown_flag_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    assert kernel.sync_file_range(fd, 0, 0, 1 << 8).errno == "EINVAL"


@pytest.mark.os("linux")
def test_sync_file_range_negative_offset_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    r = kernel.sync_file_range(fd, -1, 0, kernel.SYNC_FILE_RANGE_WRITE)
    assert r.errno == "EINVAL"


@pytest.mark.os("linux")
def test_sync_file_range_ending_past_loff_max_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    """offset 1 and nbytes LLONG_MAX: the end, offset + nbytes, is past the largest offset."""
    fd = fds.file(tmp / "f")
    r = kernel.sync_file_range(fd, 1, (1 << 63) - 1, kernel.SYNC_FILE_RANGE_WRITE)
    assert r.errno == "EINVAL"


@pytest.mark.os("linux")
def test_sync_file_range_negative_length_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    """offset 10 and nbytes -5: the end, 5, is not negative but lies before the offset."""
    fd = fds.file(tmp / "f")
    r = kernel.sync_file_range(fd, 10, -5, kernel.SYNC_FILE_RANGE_WRITE)
    assert r.errno == "EINVAL"


@pytest.mark.os("linux")
def test_sync_file_range_on_pipe_is_espipe(kernel: Kernel, fds) -> None:
    _, wfd = fds.pipe()
    assert kernel.sync_file_range(wfd, 0, 0, kernel.SYNC_FILE_RANGE_WRITE).errno == "ESPIPE"


def _fsync_range(kernel: Kernel, fd: int, flags: int, start: int = 0, length: int = 0):
    return kernel.fsync_range(fd, flags, start, length)


@pytest.mark.os("netbsd")
@pytest.mark.parametrize("flags", ["FDATASYNC", "FFILESYNC", "FFILESYNC|FDISKSYNC"])
def test_fsync_range_of_the_whole_file_succeeds(
    kernel: Kernel, tmp: Path, fds, bits, flags: str
) -> None:
    fd = fds.file(tmp / "f")
    kernel.write(fd, b"data", 4).unwrap()
    _fsync_range(kernel, fd, bits(flags)).unwrap()
    assert (tmp / "f").read_bytes() == b"data"


@pytest.mark.os("netbsd")
def test_fsync_range_of_a_range_succeeds(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"x" * 8192)
    _fsync_range(kernel, fd, kernel.FDATASYNC, 4096, 4096).unwrap()


@pytest.mark.os("netbsd")
@pytest.mark.parametrize("flags", ["", "FDATASYNC|FFILESYNC", "FDISKSYNC"])
def test_fsync_range_needs_exactly_one_of_datasync_and_filesync(
    kernel: Kernel, tmp: Path, fds, bits, flags: str
) -> None:
    fd = fds.file(tmp / "f")
    assert _fsync_range(kernel, fd, bits(flags)).errno == "EINVAL"


@pytest.mark.os("netbsd")
def test_fsync_range_that_wraps_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    assert _fsync_range(kernel, fd, kernel.FDATASYNC, 1 << 62, 1 << 62).errno == "EINVAL"


@pytest.mark.os("netbsd")
def test_fsync_range_on_a_read_only_descriptor_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"x", kernel.O_RDONLY)
    assert _fsync_range(kernel, fd, kernel.FDATASYNC).errno == "EBADF"


@pytest.mark.os("netbsd")
def test_fsync_range_on_a_pipe_is_einval(kernel: Kernel, fds) -> None:
    _, w = fds.pipe()
    assert _fsync_range(kernel, w, kernel.FDATASYNC).errno == "EINVAL"
