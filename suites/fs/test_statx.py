"""statx(2) (Linux 4.11): the mask says which fields are filled, agreeing with fstat.

STATX__RESERVED (0x80000000) in the request mask is EINVAL (include/uapi/linux/stat.h).
"""

import os
from pathlib import Path

import pytest

from syscalls.kernel import Kernel

pytestmark = [pytest.mark.os("linux"), pytest.mark.min_kernel("4.11")]


def _statx(kernel: Kernel, dirfd: int, path: Path | bytes, flags: int = 0, mask: int = 0):
    stx = kernel.new("struct statx *")
    kernel.statx(dirfd, path, flags, mask or kernel.STATX_BASIC_STATS, stx).unwrap()
    return stx


def test_statx_fills_the_requested_basic_fields(kernel: Kernel, tmp: Path, observe) -> None:
    (tmp / "f").write_bytes(b"abc")
    stx = _statx(kernel, kernel.AT_FDCWD, tmp / "f")
    observe("mask", hex(stx.stx_mask))
    wanted = (
        kernel.STATX_TYPE
        | kernel.STATX_MODE
        | kernel.STATX_NLINK
        | kernel.STATX_UID
        | kernel.STATX_GID
        | kernel.STATX_INO
        | kernel.STATX_SIZE
    )
    assert stx.stx_mask & wanted == wanted


def test_statx_agrees_with_fstat(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"x" * 321)
    st = kernel.new("struct stat *")
    kernel.fstat(fd, st).unwrap()
    stx = _statx(kernel, kernel.AT_FDCWD, tmp / "f")
    assert (stx.stx_ino, stx.stx_size, stx.stx_mode, stx.stx_nlink) == (
        st.st_ino,
        st.st_size,
        st.st_mode,
        st.st_nlink,
    )
    assert (stx.stx_uid, stx.stx_gid) == (os.geteuid(), os.getegid())
    assert (stx.stx_mtime.tv_sec, stx.stx_mtime.tv_nsec) == (st.st_mtime, st.st_mtime_nsec)


def test_statx_device_numbers_agree_with_fstat(kernel: Kernel, tmp: Path, fds) -> None:
    # (the numbers themselves are the machine's, like pids: no observation of them)
    fd = fds.file(tmp / "f", b"")
    st = kernel.new("struct stat *")
    kernel.fstat(fd, st).unwrap()
    stx = _statx(kernel, fd, b"", kernel.AT_EMPTY_PATH)
    assert (stx.stx_dev_major, stx.stx_dev_minor) == (os.major(st.st_dev), os.minor(st.st_dev))


def test_statx_symlink_nofollow_describes_the_link(kernel: Kernel, tmp: Path) -> None:
    (tmp / "link").symlink_to("target")
    stx = _statx(kernel, kernel.AT_FDCWD, tmp / "link", kernel.AT_SYMLINK_NOFOLLOW)
    assert stx.stx_mode & kernel.S_IFMT == kernel.S_IFLNK
    assert stx.stx_size == len("target")


def test_statx_empty_path_describes_the_fd(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"12345")
    stx = _statx(kernel, fd, b"", kernel.AT_EMPTY_PATH)
    assert stx.stx_size == 5


def test_statx_btime_when_reported_is_not_after_mtime(kernel: Kernel, tmp: Path, observe) -> None:
    (tmp / "f").write_bytes(b"")
    stx = _statx(kernel, kernel.AT_FDCWD, tmp / "f", 0, kernel.STATX_ALL)
    has_btime = bool(stx.stx_mask & kernel.STATX_BTIME)
    observe("btime", has_btime)
    if not has_btime:
        pytest.skip("this file system does not report a birth time")
    btime = (stx.stx_btime.tv_sec, stx.stx_btime.tv_nsec)
    assert btime <= (stx.stx_mtime.tv_sec, stx.stx_mtime.tv_nsec)


def test_statx_reserved_mask_bit_is_einval(kernel: Kernel, tmp: Path) -> None:
    stx = kernel.new("struct statx *")
    r = kernel.statx(kernel.AT_FDCWD, tmp, 0, kernel.STATX__RESERVED, stx)
    assert r.errno == "EINVAL"


def test_statx_conflicting_sync_flags_are_einval(kernel: Kernel, tmp: Path) -> None:
    stx = kernel.new("struct statx *")
    flags = kernel.AT_STATX_FORCE_SYNC | kernel.AT_STATX_DONT_SYNC
    r = kernel.statx(kernel.AT_FDCWD, tmp, flags, kernel.STATX_BASIC_STATS, stx)
    assert r.errno == "EINVAL"


def test_statx_missing_path_is_enoent(kernel: Kernel, tmp: Path) -> None:
    stx = kernel.new("struct statx *")
    r = kernel.statx(kernel.AT_FDCWD, tmp / "absent", 0, kernel.STATX_BASIC_STATS, stx)
    assert r.errno == "ENOENT"


def test_statx_unknown_at_flag_is_einval(kernel: Kernel, tmp: Path) -> None:
    stx = kernel.new("struct statx *")
    flags = kernel.AT_SYMLINK_FOLLOW  # an AT_ flag of linkat's, not one statx takes
    r = kernel.statx(kernel.AT_FDCWD, tmp, flags, kernel.STATX_BASIC_STATS, stx)
    assert r.errno == "EINVAL"


@pytest.mark.parametrize("sync", ["AT_STATX_FORCE_SYNC", "AT_STATX_DONT_SYNC"])
def test_statx_one_sync_flag_alone_is_taken(kernel: Kernel, tmp: Path, sync: str) -> None:
    (tmp / "f").write_bytes(b"abc")
    assert _statx(kernel, kernel.AT_FDCWD, tmp / "f", getattr(kernel, sync)).stx_size == 3


# The basic fields come back whatever was asked for, an empty mask too (fs/stat.c
# vfs_getattr_nosec: result_mask starts as STATX_BASIC_STATS).
def test_statx_with_an_empty_mask_still_fills_the_basic_fields(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"abcde")
    stx = kernel.new("struct statx *")
    kernel.statx(kernel.AT_FDCWD, tmp / "f", 0, 0, stx).unwrap()
    assert stx.stx_mask & (kernel.STATX_TYPE | kernel.STATX_SIZE | kernel.STATX_INO) == (
        kernel.STATX_TYPE | kernel.STATX_SIZE | kernel.STATX_INO
    )
    assert stx.stx_size == 5 and stx.stx_mode & kernel.S_IFMT == kernel.S_IFREG


# Every field fstat also has, field by field: device numbers split into major and minor,
# blocks, block size, times, the link count (fs/stat.c cp_statx).
def test_statx_agrees_with_fstat_in_every_shared_field(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"y" * 5000)
    os.link(tmp / "f", tmp / "g")
    st = kernel.new("struct stat *")
    kernel.fstat(fd, st).unwrap()
    stx = _statx(kernel, fd, b"", kernel.AT_EMPTY_PATH)
    assert (stx.stx_dev_major, stx.stx_dev_minor) == (os.major(st.st_dev), os.minor(st.st_dev))
    assert (stx.stx_blocks, stx.stx_blksize, stx.stx_nlink) == (st.st_blocks, st.st_blksize, 2)
    for name in ("atime", "mtime", "ctime"):
        got = getattr(stx, f"stx_{name}")
        assert (got.tv_sec, got.tv_nsec) == (
            getattr(st, f"st_{name}"),
            getattr(st, f"st_{name}_nsec"),
        )


def test_statx_of_a_device_splits_its_rdev(kernel: Kernel) -> None:
    stx = _statx(kernel, kernel.AT_FDCWD, b"/dev/null")
    rdev = os.stat("/dev/null").st_rdev
    assert (stx.stx_rdev_major, stx.stx_rdev_minor) == (os.major(rdev), os.minor(rdev))
    assert stx.stx_mode & kernel.S_IFMT == kernel.S_IFCHR


# STATX_ATTR_MOUNT_ROOT (Linux 5.8): set on the root of a mount, and always in
# attributes_mask (fs/stat.c vfs_statx).
@pytest.mark.min_kernel("5.8")
def test_statx_attr_mount_root_marks_only_a_mount_root(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    root = _statx(kernel, kernel.AT_FDCWD, b"/")
    f = _statx(kernel, kernel.AT_FDCWD, tmp / "f")
    bit = kernel.STATX_ATTR_MOUNT_ROOT
    assert root.stx_attributes_mask & bit and f.stx_attributes_mask & bit
    assert root.stx_attributes & bit and not f.stx_attributes & bit


# STATX_MNT_ID (Linux 5.8): the mount's id, as /proc/self/fdinfo shows it.
@pytest.mark.min_kernel("5.8")
def test_statx_mnt_id_is_the_mount_id_of_the_file(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    stx = _statx(kernel, fd, b"", kernel.AT_EMPTY_PATH, kernel.STATX_MNT_ID)
    assert stx.stx_mask & kernel.STATX_MNT_ID
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/self/fdinfo/{fd}").read_text().splitlines()
    )
    assert stx.stx_mnt_id == int(fields["mnt_id"])
