"""sync(2) and syncfs(2): write back every file system, or the one holding a descriptor.
Both succeed whatever there is to write; syncfs refuses only a bad descriptor. What they
write back is not observable from user space without a crash, so the tests check that
data written before them reads back and that their answers are right.
"""

from pathlib import Path

import pytest

from syscalls.kernel import Kernel


def test_sync_returns_zero(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    kernel.write(fd, b"dirty", 5).unwrap()
    assert kernel.sync().unwrap() == 0
    assert (tmp / "f").read_bytes() == b"dirty"


@pytest.mark.os("linux")
def test_syncfs_of_a_file_on_the_test_file_system_returns_zero(
    kernel: Kernel, tmp: Path, fds
) -> None:
    fd = fds.file(tmp / "f")
    kernel.write(fd, b"dirty", 5).unwrap()
    assert kernel.syncfs(fd).unwrap() == 0


@pytest.mark.os("linux")
def test_syncfs_accepts_a_read_only_descriptor_of_a_directory(
    kernel: Kernel, tmp: Path, fds
) -> None:
    fd = fds.open(tmp, kernel.O_RDONLY | kernel.O_DIRECTORY)
    assert kernel.syncfs(fd).unwrap() == 0


@pytest.mark.os("linux")
def test_syncfs_of_a_pipe_returns_zero(kernel: Kernel, fds) -> None:
    rfd, _ = fds.pipe()
    assert kernel.syncfs(rfd).unwrap() == 0  # pipefs has nothing to write back


@pytest.mark.os("linux")
def test_syncfs_of_an_o_path_descriptor_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.open(tmp, kernel.O_PATH)
    assert kernel.syncfs(fd).errno == "EBADF"


@pytest.mark.os("linux")
def test_syncfs_of_a_closed_descriptor_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    fds.close(fd)
    assert kernel.syncfs(fd).errno == "EBADF"


@pytest.mark.os("linux")
def test_syncfs_of_a_negative_descriptor_is_ebadf(kernel: Kernel) -> None:
    assert kernel.syncfs(-1).errno == "EBADF"
