"""fsync, fdatasync, sync_file_range: accepted on files, refused where they mean nothing.

fsync on a pipe is EINVAL on Linux (no fsync method). sync_file_range is Linux-only.
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
def test_sync_file_range_on_pipe_is_espipe(kernel: Kernel, fds) -> None:
    _, wfd = fds.pipe()
    assert kernel.sync_file_range(wfd, 0, 0, kernel.SYNC_FILE_RANGE_WRITE).errno == "ESPIPE"
