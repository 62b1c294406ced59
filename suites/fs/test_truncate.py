"""truncate/ftruncate(2): growing reads back zeros, shrinking discards, and the refusals.

ftruncate on a descriptor not open for writing: POSIX allows EBADF or EINVAL; Linux and
the BSDs answer EINVAL.
"""

import os
from pathlib import Path

import pytest

from syscalls.expect import ByOS
from syscalls.fds import make_fifo
from syscalls.kernel import Kernel

FTRUNCATE_READ_ONLY = ByOS(default="EINVAL")


def test_ftruncate_grow_reads_back_zeros(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc")
    kernel.ftruncate(fd, 8).unwrap()
    assert (tmp / "f").read_bytes() == b"abc\0\0\0\0\0"


def test_ftruncate_shrink_discards_the_tail(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abcdef")
    kernel.ftruncate(fd, 2).unwrap()
    kernel.ftruncate(fd, 4).unwrap()  # grow again: the discarded bytes must not return
    assert (tmp / "f").read_bytes() == b"ab\0\0"


def test_ftruncate_leaves_the_file_offset(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abcdef")
    kernel.lseek(fd, 5, kernel.SEEK_SET).unwrap()
    kernel.ftruncate(fd, 1).unwrap()
    assert kernel.lseek(fd, 0, kernel.SEEK_CUR).unwrap() == 5


def test_truncate_by_path_sets_size(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"abcdef")
    kernel.truncate(tmp / "f", 3).unwrap()
    assert (tmp / "f").read_bytes() == b"abc"


def test_ftruncate_read_only_fd_is_refused(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc", kernel.O_RDONLY)
    assert kernel.ftruncate(fd, 0).errno == FTRUNCATE_READ_ONLY[kernel.platform.os]


def test_ftruncate_negative_length_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc")
    assert kernel.ftruncate(fd, -1).errno == "EINVAL"


def test_truncate_directory_is_eisdir(kernel: Kernel, tmp: Path) -> None:
    assert kernel.truncate(tmp, 0).errno == "EISDIR"


def test_ftruncate_on_pipe_is_einval(kernel: Kernel, fds) -> None:
    _, wfd = fds.pipe()
    assert kernel.ftruncate(wfd, 0).errno == "EINVAL"


@pytest.mark.smoke
def test_truncate_negative_length_is_einval(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"abc")
    assert kernel.truncate(tmp / "f", -1).errno == "EINVAL"
    assert (tmp / "f").read_bytes() == b"abc"


# Not a directory and not a regular file: EINVAL (fs/open.c vfs_truncate).
@pytest.mark.os("linux")
def test_truncate_fifo_is_einval(kernel: Kernel, tmp: Path) -> None:
    make_fifo(kernel, tmp / "fifo")
    assert kernel.truncate(tmp / "fifo", 0).errno == "EINVAL"


def test_truncate_follows_a_symlink(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"abcdef")
    (tmp / "link").symlink_to("f")
    kernel.truncate(tmp / "link", 2).unwrap()
    assert (tmp / "f").read_bytes() == b"ab"
    assert (tmp / "link").is_symlink()


@pytest.mark.os("linux")
def test_ftruncate_on_o_path_fd_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "f").write_bytes(b"abc")
    fd = fds.open(tmp / "f", kernel.O_PATH)
    assert kernel.ftruncate(fd, 0).errno == "EBADF"
    assert (tmp / "f").read_bytes() == b"abc"


# truncate by path needs write permission on the file (fs/open.c vfs_truncate:
# inode_permission MAY_WRITE); ftruncate needs only a descriptor open for writing.
# The caller is left without capabilities in a child (root would override the mode).
@pytest.mark.os("linux")
def test_truncate_without_write_permission_is_eacces(
    kernel: Kernel, tmp: Path, in_child, drop_privileges
) -> None:
    (tmp / "d").mkdir()
    (tmp / "d").chmod(0o755)
    (tmp / "d" / "f").write_bytes(b"abc")
    (tmp / "d" / "f").chmod(0o444)
    dirfd = os.open(tmp / "d", os.O_RDONLY | os.O_DIRECTORY)

    def run() -> str:
        drop_privileges()
        kernel.fchdir(dirfd).unwrap()
        return kernel.truncate(b"f", 0).outcome

    try:
        assert in_child(run) == "EACCES"
    finally:
        os.close(dirfd)
    assert (tmp / "d" / "f").read_bytes() == b"abc"


# An append-only file cannot be cut, by path or by descriptor (fs/open.c vfs_truncate,
# do_sys_ftruncate: IS_APPEND).
@pytest.mark.os("linux")
@pytest.mark.root
def test_truncate_of_an_append_only_file_is_eperm(
    kernel: Kernel, tmp: Path, fds, inode_flags
) -> None:
    (tmp / "f").write_bytes(b"data")
    inode_flags(tmp / "f", "append")
    assert kernel.truncate(tmp / "f", 1).errno == "EPERM"
    fd = fds.open(tmp / "f", kernel.O_WRONLY | kernel.O_APPEND)
    assert kernel.ftruncate(fd, 1).errno == "EPERM"
    assert (tmp / "f").read_bytes() == b"data"


@pytest.mark.os("linux")
def test_ftruncate_updates_mtime_and_ctime(kernel: Kernel, tmp: Path, fds, stamps) -> None:
    fd = fds.file(tmp / "f", b"0123456789", kernel.O_WRONLY)
    stamps.backdate(tmp / "f")
    _, _, ctime, _ = stamps.of(tmp / "f")
    kernel.ftruncate(fd, 4).unwrap()
    _, mtime, ctime_after, _ = stamps.of(tmp / "f")
    assert mtime > stamps.PAST * 10**9
    assert ctime_after > ctime
