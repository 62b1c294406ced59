"""stat family (fstat, fstatat/newfstatat, stat, lstat): fields agree with what was done.

AT_EMPTY_PATH is Linux's (FreeBSD has it since 12 with the same meaning; marked linux).
"""

import os
from pathlib import Path

import pytest

from syscalls.expect import ByOS
from syscalls.fds import make_fifo
from syscalls.kernel import Kernel

# NetBSD ignores flags it does not know (sys/kern/vfs_syscalls.c, do_sys_statat).
UNKNOWN_FLAG = ByOS(default="EINVAL", netbsd="ok")


def _fstatat(kernel: Kernel, path: Path, flags: int = 0):
    st = kernel.new("struct stat *")
    kernel.fstatat(kernel.AT_FDCWD, path, st, flags).unwrap()
    return st


@pytest.mark.smoke
def test_fstat_size_matches_bytes_written(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    kernel.write(fd, b"x" * 1234, 1234).unwrap()
    st = kernel.new("struct stat *")
    kernel.fstat(fd, st).unwrap()
    assert st.st_size == 1234
    assert st.st_mode & kernel.S_IFMT == kernel.S_IFREG


def test_fstat_blocks_count_the_data_written(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    kernel.write(fd, b"x" * 65536, 65536).unwrap()
    kernel.fsync(fd).unwrap()  # a file system allocating at writeback (ZFS) has by now
    st = kernel.new("struct stat *")
    kernel.fstat(fd, st).unwrap()
    assert st.st_blocks > 0


def test_fstatat_owner_of_a_new_file_is_its_creator(
    kernel: Kernel, tmp: Path, new_file_ids
) -> None:
    (tmp / "f").write_bytes(b"")
    st = _fstatat(kernel, tmp / "f")
    assert (st.st_uid, st.st_gid) == new_file_ids(tmp)


def test_fstatat_follows_symlinks_by_default(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"12345")
    (tmp / "link").symlink_to("f")
    st = _fstatat(kernel, tmp / "link")
    assert st.st_mode & kernel.S_IFMT == kernel.S_IFREG
    assert st.st_size == 5


@pytest.mark.smoke
def test_fstatat_symlink_nofollow_describes_the_link(kernel: Kernel, tmp: Path) -> None:
    (tmp / "link").symlink_to("some-target")
    st = _fstatat(kernel, tmp / "link", kernel.AT_SYMLINK_NOFOLLOW)
    assert st.st_mode & kernel.S_IFMT == kernel.S_IFLNK
    assert st.st_size == len("some-target")


@pytest.mark.smoke
def test_fstatat_reports_directory_and_fifo_types(kernel: Kernel, tmp: Path) -> None:
    make_fifo(kernel, tmp / "fifo")
    assert _fstatat(kernel, tmp).st_mode & kernel.S_IFMT == kernel.S_IFDIR
    assert _fstatat(kernel, tmp / "fifo").st_mode & kernel.S_IFMT == kernel.S_IFIFO


def test_fstatat_hard_links_share_inode_and_count(kernel: Kernel, tmp: Path) -> None:
    (tmp / "a").write_bytes(b"")
    (tmp / "b").hardlink_to(tmp / "a")
    a, b = _fstatat(kernel, tmp / "a"), _fstatat(kernel, tmp / "b")
    assert (a.st_ino, a.st_dev) == (b.st_ino, b.st_dev)
    assert a.st_nlink == 2


def test_fstatat_relative_to_dirfd(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "f").write_bytes(b"abc")
    dirfd = fds.open(tmp, kernel.O_RDONLY | kernel.O_DIRECTORY)
    st = kernel.new("struct stat *")
    kernel.fstatat(dirfd, b"f", st, 0).unwrap()
    assert st.st_size == 3


@pytest.mark.smoke
def test_fstatat_missing_file_is_enoent(kernel: Kernel, tmp: Path) -> None:
    st = kernel.new("struct stat *")
    assert kernel.fstatat(kernel.AT_FDCWD, tmp / "absent", st, 0).errno == "ENOENT"


def test_fstatat_through_a_file_is_enotdir(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    st = kernel.new("struct stat *")
    assert kernel.fstatat(kernel.AT_FDCWD, tmp / "f" / "x", st, 0).errno == "ENOTDIR"


def test_fstatat_empty_path_without_flag_is_enoent(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    st = kernel.new("struct stat *")
    assert kernel.fstatat(fd, b"", st, 0).errno == "ENOENT"


@pytest.mark.os("linux")
def test_fstatat_empty_path_flag_stats_the_fd(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"1234567")
    st = kernel.new("struct stat *")
    kernel.fstatat(fd, b"", st, kernel.AT_EMPTY_PATH).unwrap()
    assert st.st_size == 7


def test_fstatat_invalid_flag_is_einval(kernel: Kernel, tmp: Path) -> None:
    st = kernel.new("struct stat *")
    r = kernel.fstatat(kernel.AT_FDCWD, tmp, st, 1 << 30)
    assert r.outcome == UNKNOWN_FLAG[kernel.platform.os]


@pytest.mark.smoke
def test_fstat_on_closed_fd_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    fds.close(fd).unwrap()
    assert kernel.fstat(fd, kernel.new("struct stat *")).errno == "EBADF"


def test_fstat_on_pipe_is_fifo(kernel: Kernel, fds) -> None:
    rfd, _ = fds.pipe()
    st = kernel.new("struct stat *")
    kernel.fstat(rfd, st).unwrap()
    assert st.st_mode & kernel.S_IFMT == kernel.S_IFIFO


@pytest.mark.smoke
def test_stat_and_lstat_differ_only_on_symlinks(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"abc")
    (tmp / "link").symlink_to("f")
    st, lst = kernel.new("struct stat *"), kernel.new("struct stat *")
    kernel.stat(tmp / "link", st).unwrap()
    kernel.lstat(tmp / "link", lst).unwrap()
    assert st.st_mode & kernel.S_IFMT == kernel.S_IFREG
    assert lst.st_mode & kernel.S_IFMT == kernel.S_IFLNK


# The device numbers of a character device come back whole (fs/stat.c cp_new_stat:
# new_encode_dev): /dev/null is 1:3 (Documentation/admin-guide/devices.txt).
@pytest.mark.os("linux")
def test_fstatat_of_dev_null_is_character_device_1_3(kernel: Kernel) -> None:
    st = kernel.new("struct stat *")
    kernel.fstatat(kernel.AT_FDCWD, b"/dev/null", st, 0).unwrap()
    assert st.st_mode & kernel.S_IFMT == kernel.S_IFCHR
    assert (os.major(st.st_rdev), os.minor(st.st_rdev)) == (1, 3)


@pytest.mark.os("linux")
def test_fstatat_takes_at_no_automount(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"abc")
    st = kernel.new("struct stat *")
    kernel.fstatat(kernel.AT_FDCWD, tmp / "f", st, kernel.AT_NO_AUTOMOUNT).unwrap()
    assert st.st_size == 3
