"""unlink/unlinkat(2): removing names, AT_REMOVEDIR, and what stays open.

Unlinking a directory without AT_REMOVEDIR: Linux answers EISDIR, POSIX and the BSDs EPERM.
"""

import os
from pathlib import Path

import pytest

from syscalls.expect import ByOS
from syscalls.kernel import Kernel

UNLINK_DIR = ByOS(default="EPERM", linux="EISDIR")


# NetBSD ignores flags it does not know (sys/kern/vfs_syscalls.c, do_sys_unlinkat): the
# file is then removed.
UNKNOWN_FLAG = ByOS(default="EINVAL", netbsd="ok")


def test_unlinkat_removes_the_name(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    kernel.unlinkat(kernel.AT_FDCWD, tmp / "f", 0).unwrap()
    assert kernel.unlinkat(kernel.AT_FDCWD, tmp / "f", 0).errno == "ENOENT"


def test_unlinkat_keeps_open_file_readable_with_zero_links(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"still here")
    kernel.unlinkat(kernel.AT_FDCWD, tmp / "f", 0).unwrap()
    st = kernel.new("struct stat *")
    kernel.fstat(fd, st).unwrap()
    assert st.st_nlink == 0
    buf = kernel.buf(16)
    assert kernel.bytes(buf, kernel.pread64(fd, buf, 16, 0).unwrap()) == b"still here"


def test_unlinkat_directory_without_removedir_is_refused(kernel: Kernel, tmp: Path) -> None:
    (tmp / "d").mkdir()
    r = kernel.unlinkat(kernel.AT_FDCWD, tmp / "d", 0)
    assert r.errno == UNLINK_DIR[kernel.platform.os]


def test_unlinkat_removedir_removes_empty_directory(kernel: Kernel, tmp: Path) -> None:
    (tmp / "d").mkdir()
    kernel.unlinkat(kernel.AT_FDCWD, tmp / "d", kernel.AT_REMOVEDIR).unwrap()
    assert not (tmp / "d").exists()


def test_unlinkat_removedir_on_file_is_enotdir(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    assert kernel.unlinkat(kernel.AT_FDCWD, tmp / "f", kernel.AT_REMOVEDIR).errno == "ENOTDIR"


def test_unlinkat_removedir_on_nonempty_directory_is_enotempty(kernel: Kernel, tmp: Path) -> None:
    (tmp / "d").mkdir()
    (tmp / "d" / "f").write_bytes(b"")
    r = kernel.unlinkat(kernel.AT_FDCWD, tmp / "d", kernel.AT_REMOVEDIR)
    assert r.errno == "ENOTEMPTY"


def test_unlinkat_symlink_removes_link_not_target(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    (tmp / "link").symlink_to("f")
    kernel.unlinkat(kernel.AT_FDCWD, tmp / "link", 0).unwrap()
    assert (tmp / "f").exists()
    assert not (tmp / "link").is_symlink()


def test_unlinkat_unknown_flag_is_einval(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    outcome = kernel.unlinkat(kernel.AT_FDCWD, tmp / "f", 1 << 20).outcome
    assert outcome == UNKNOWN_FLAG[kernel.platform.os]
    assert (tmp / "f").exists() == (outcome != "ok")


def test_unlink_legacy_call_removes_the_name(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    kernel.unlink(tmp / "f").unwrap()
    assert not (tmp / "f").exists()


# unlink of "." or "..": EISDIR, before any lookup (fs/namei.c do_unlinkat: the last
# component is not LAST_NORM).
@pytest.mark.os("linux")
def test_unlink_of_dot_or_dotdot_is_eisdir(kernel: Kernel, tmp: Path) -> None:
    (tmp / "d" / "sub").mkdir(parents=True)
    for name in (f"{tmp}/d/.", f"{tmp}/d/sub/.."):  # as strings: pathlib drops a "."
        assert kernel.unlinkat(kernel.AT_FDCWD, name, 0).errno == "EISDIR"
    assert (tmp / "d" / "sub").is_dir()


# A trailing slash on unlink's name: a file is ENOTDIR, a missing name ENOENT, a
# directory EISDIR (fs/namei.c do_unlinkat, "slashes").
@pytest.mark.os("linux")
def test_unlink_with_a_trailing_slash(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    (tmp / "d").mkdir()
    assert kernel.unlinkat(kernel.AT_FDCWD, f"{tmp}/f/", 0).errno == "ENOTDIR"
    assert kernel.unlinkat(kernel.AT_FDCWD, f"{tmp}/absent/", 0).errno == "ENOENT"
    assert kernel.unlinkat(kernel.AT_FDCWD, f"{tmp}/d/", 0).errno == "EISDIR"
    assert (tmp / "f").exists() and (tmp / "d").is_dir()


# Removing a name needs write and search permission on its directory (fs/namei.c
# may_delete); the caller is left without capabilities in a child.
@pytest.mark.os("linux")
def test_unlinkat_in_a_directory_without_write_permission_is_eacces(
    kernel: Kernel, tmp: Path, in_child, drop_privileges
) -> None:
    (tmp / "d").mkdir()
    (tmp / "d" / "f").write_bytes(b"")
    (tmp / "d").chmod(0o555)
    dirfd = os.open(tmp / "d", os.O_RDONLY | os.O_DIRECTORY)

    def run() -> str:
        drop_privileges()
        return kernel.unlinkat(dirfd, b"f", 0).outcome

    try:
        assert in_child(run) == "EACCES"
    finally:
        os.close(dirfd)
        (tmp / "d").chmod(0o755)
    assert (tmp / "d" / "f").exists()


# An append-only or immutable file cannot be removed, nor renamed, root or not
# (fs/namei.c may_delete).
@pytest.mark.os("linux")
@pytest.mark.root
@pytest.mark.parametrize("flag", ["append", "immutable"])
def test_unlink_or_rename_of_a_flagged_file_is_eperm(
    kernel: Kernel, tmp: Path, inode_flags, flag: str
) -> None:
    (tmp / "f").write_bytes(b"data")
    inode_flags(tmp / "f", flag)
    assert kernel.unlinkat(kernel.AT_FDCWD, tmp / "f", 0).errno == "EPERM"
    assert kernel.renameat(kernel.AT_FDCWD, tmp / "f", kernel.AT_FDCWD, tmp / "g").errno == (
        "EPERM"
    )
    assert (tmp / "f").read_bytes() == b"data"


@pytest.mark.os("linux")
def test_unlinkat_updates_the_directorys_mtime_and_the_files_ctime_and_links(
    kernel: Kernel, tmp: Path, stamps
) -> None:
    d = tmp / "d"
    d.mkdir()
    (d / "a").write_bytes(b"")
    os.link(d / "a", tmp / "kept")  # the file lives on under another name
    stamps.backdate(d, tmp / "kept")
    _, _, file_ctime, nlink = stamps.of(tmp / "kept")
    kernel.unlinkat(kernel.AT_FDCWD, d / "a", 0).unwrap()
    _, dir_mtime, _, _ = stamps.of(d)
    _, file_mtime, file_ctime_after, nlink_after = stamps.of(tmp / "kept")
    assert dir_mtime > stamps.PAST * 10**9  # a name went from it
    assert file_ctime_after > file_ctime and nlink_after == nlink - 1
    assert file_mtime == stamps.PAST * 10**9  # its data did not change
