"""chown/fchown/fchownat(2): owner changes as root, refusals otherwise, setuid cleared.

Linux clears S_ISUID on a regular file whenever chown succeeds, for root too (chown(2),
since Linux 2.2.13); that test is Linux-only.
"""

import os
from pathlib import Path

import pytest

from syscalls.expect import ByOS
from syscalls.kernel import Kernel

NOBODY = 65534
AS_USER = pytest.mark.as_user("root may give files away (CAP_CHOWN)")


# NetBSD ignores flags it does not know (sys/kern/vfs_syscalls.c, do_sys_chownat).
UNKNOWN_FLAG = ByOS(default="EINVAL", netbsd="ok")


def _ids(kernel: Kernel, path: Path, flags: int = 0) -> tuple[int, int]:
    st = kernel.new("struct stat *")
    kernel.fstatat(kernel.AT_FDCWD, path, st, flags).unwrap()
    return st.st_uid, st.st_gid


def test_fchownat_minus_one_keeps_both_ids(kernel: Kernel, tmp: Path, new_file_ids) -> None:
    (tmp / "f").write_bytes(b"")
    kernel.fchownat(kernel.AT_FDCWD, tmp / "f", -1, -1, 0).unwrap()
    assert _ids(kernel, tmp / "f") == new_file_ids(tmp)


@pytest.mark.root
def test_fchownat_as_root_gives_file_away(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    kernel.fchownat(kernel.AT_FDCWD, tmp / "f", NOBODY, NOBODY, 0).unwrap()
    assert _ids(kernel, tmp / "f") == (NOBODY, NOBODY)


@pytest.mark.root
def test_fchownat_symlink_nofollow_changes_the_link_only(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    (tmp / "link").symlink_to("f")
    flags = kernel.AT_SYMLINK_NOFOLLOW
    kernel.fchownat(kernel.AT_FDCWD, tmp / "link", NOBODY, -1, flags).unwrap()
    assert _ids(kernel, tmp / "link", flags)[0] == NOBODY
    assert _ids(kernel, tmp / "f")[0] == 0


@AS_USER
def test_fchownat_to_another_user_is_eperm(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    assert kernel.fchownat(kernel.AT_FDCWD, tmp / "f", 0, -1, 0).errno == "EPERM"


@pytest.mark.os("linux")
def test_fchown_clears_setuid_on_regular_file(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    kernel.fchmod(fd, 0o4755).unwrap()
    kernel.fchown(fd, os.geteuid(), -1).unwrap()
    st = kernel.new("struct stat *")
    kernel.fstat(fd, st).unwrap()
    assert st.st_mode & 0o7777 == 0o755


# AT_EMPTY_PATH with an empty path changes the file dirfd refers to (Linux 2.6.39,
# fs/open.c do_fchownat), and clears S_ISUID as the chown above does.
@pytest.mark.os("linux")
def test_fchownat_empty_path_changes_the_file_of_the_fd(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    kernel.fchmod(fd, 0o4755).unwrap()
    kernel.fchownat(fd, b"", os.geteuid(), -1, kernel.AT_EMPTY_PATH).unwrap()
    st = kernel.new("struct stat *")
    kernel.fstat(fd, st).unwrap()
    assert st.st_mode & 0o7777 == 0o755


def test_fchownat_unknown_flag_is_einval(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    r = kernel.fchownat(kernel.AT_FDCWD, tmp / "f", -1, -1, 1 << 20)
    assert r.outcome == UNKNOWN_FLAG[kernel.platform.os]


@pytest.mark.os("linux")
def test_fchown_on_an_o_path_fd_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "f").write_bytes(b"")
    fd = fds.open(tmp / "f", kernel.O_PATH)
    assert kernel.fchown(fd, -1, -1).errno == "EBADF"
