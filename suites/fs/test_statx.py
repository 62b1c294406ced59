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


def test_statx_device_numbers_agree_with_fstat(kernel: Kernel, tmp: Path, fds, observe) -> None:
    fd = fds.file(tmp / "f", b"")
    st = kernel.new("struct stat *")
    kernel.fstat(fd, st).unwrap()
    stx = _statx(kernel, fd, b"", kernel.AT_EMPTY_PATH)
    observe("dev", f"{stx.stx_dev_major}:{stx.stx_dev_minor}")
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
