"""link/linkat(2): hard links share an inode; directories and existing names refused.

linkat on a symlink without AT_SYMLINK_FOLLOW links the symlink itself (POSIX leaves the
default open; Linux and the BSDs agree on it).
"""

import os
from pathlib import Path

import pytest

from syscalls import sysctl
from syscalls.expect import ByOS
from syscalls.kernel import Kernel, Result

# NetBSD ignores flags it does not know (sys/kern/vfs_syscalls.c, do_sys_linkat).
UNKNOWN_FLAG = ByOS(default="EINVAL", netbsd="ok")


def _linkat(kernel: Kernel, old: Path, new: Path, flags: int = 0) -> Result:
    return kernel.linkat(kernel.AT_FDCWD, old, kernel.AT_FDCWD, new, flags)


def test_linkat_new_name_shares_inode_and_bumps_nlink(kernel: Kernel, tmp: Path) -> None:
    (tmp / "a").write_bytes(b"A")
    _linkat(kernel, tmp / "a", tmp / "b").unwrap()
    assert (tmp / "b").stat().st_ino == (tmp / "a").stat().st_ino
    assert (tmp / "a").stat().st_nlink == 2


def test_linkat_onto_existing_name_is_eexist(kernel: Kernel, tmp: Path) -> None:
    (tmp / "a").write_bytes(b"")
    (tmp / "b").write_bytes(b"")
    assert _linkat(kernel, tmp / "a", tmp / "b").errno == "EEXIST"


def test_linkat_of_directory_is_eperm(kernel: Kernel, tmp: Path) -> None:
    (tmp / "d").mkdir()
    assert _linkat(kernel, tmp / "d", tmp / "d2").errno == "EPERM"


def test_linkat_on_symlink_links_the_link_itself(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    (tmp / "link").symlink_to("f")
    _linkat(kernel, tmp / "link", tmp / "hard").unwrap()
    assert str((tmp / "hard").readlink()) == "f"


def test_linkat_symlink_follow_links_the_target(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    (tmp / "link").symlink_to("f")
    _linkat(kernel, tmp / "link", tmp / "hard", kernel.AT_SYMLINK_FOLLOW).unwrap()
    assert not (tmp / "hard").is_symlink()
    assert (tmp / "hard").stat().st_ino == (tmp / "f").stat().st_ino


def test_linkat_unknown_flag_is_einval(kernel: Kernel, tmp: Path) -> None:
    (tmp / "a").write_bytes(b"")
    assert (
        _linkat(kernel, tmp / "a", tmp / "b", 1 << 20).outcome == UNKNOWN_FLAG[kernel.platform.os]
    )


def test_link_legacy_call_creates_hard_link(kernel: Kernel, tmp: Path) -> None:
    (tmp / "a").write_bytes(b"")
    kernel.link(tmp / "a", tmp / "b").unwrap()
    assert (tmp / "a").stat().st_nlink == 2


# A file whose last name is gone may not be given one again: only O_TMPFILE's files
# (I_LINKABLE) may (fs/namei.c, vfs_link). /proc/self/fd/N with AT_SYMLINK_FOLLOW is how
# open(2) names an O_TMPFILE file; for an unlinked one it is ENOENT.
@pytest.mark.os("linux")
def test_linkat_of_an_unlinked_open_file_is_enoent(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"data")
    (tmp / "f").unlink()
    proc = f"/proc/self/fd/{fd}"
    r = kernel.linkat(
        kernel.AT_FDCWD, proc, kernel.AT_FDCWD, tmp / "back", kernel.AT_SYMLINK_FOLLOW
    )
    assert r.errno == "ENOENT"
    assert not (tmp / "back").exists()


# A trailing slash on the new name asks for a directory: ENOENT; on the old name of a
# file: ENOTDIR (fs/namei.c filename_create; the lookup of the old name).
@pytest.mark.os("linux")
def test_linkat_with_a_trailing_slash(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    r = kernel.linkat(kernel.AT_FDCWD, tmp / "f", kernel.AT_FDCWD, f"{tmp}/g/", 0)
    assert r.errno == "ENOENT"
    r = kernel.linkat(kernel.AT_FDCWD, f"{tmp}/f/", kernel.AT_FDCWD, tmp / "g", 0)
    assert r.errno == "ENOTDIR"
    assert not (tmp / "g").exists()


@pytest.mark.os("linux")
def test_linkat_across_mounts_is_exdev(kernel: Kernel, tmp: Path, disk_tmp: Path) -> None:
    if os.stat(tmp).st_dev == os.stat(disk_tmp).st_dev:
        pytest.skip(f"{tmp} and {disk_tmp} are on one mount: nothing to cross")
    (tmp / "f").write_bytes(b"")
    assert _linkat(kernel, tmp / "f", disk_tmp / "g").errno == "EXDEV"
    assert not (disk_tmp / "g").exists()


# AT_EMPTY_PATH links the descriptor's own file, for a caller with CAP_DAC_READ_SEARCH;
# without it: ENOENT (fs/namei.c do_linkat).
@pytest.mark.os("linux")
@pytest.mark.root
def test_linkat_empty_path_links_the_file_of_the_fd(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"data")
    kernel.linkat(fd, b"", kernel.AT_FDCWD, tmp / "g", kernel.AT_EMPTY_PATH).unwrap()
    assert (tmp / "g").read_bytes() == b"data"
    assert os.stat(tmp / "f").st_nlink == 2


@pytest.mark.os("linux")
def test_linkat_empty_path_without_privilege_is_enoent(
    kernel: Kernel, tmp: Path, in_child, drop_privileges
) -> None:
    (tmp / "d").mkdir()
    (tmp / "d").chmod(0o777)
    (tmp / "d" / "f").write_bytes(b"data")
    (tmp / "d" / "f").chmod(0o666)
    fd = os.open(tmp / "d" / "f", os.O_RDONLY)
    dirfd = os.open(tmp / "d", os.O_RDONLY | os.O_DIRECTORY)

    def run() -> str:
        drop_privileges()
        return kernel.linkat(fd, b"", dirfd, b"g", kernel.AT_EMPTY_PATH).outcome

    try:
        assert in_child(run) == "ENOENT"
    finally:
        os.close(fd)
        os.close(dirfd)
    assert not (tmp / "d" / "g").exists()


# No new name for an append-only or immutable file (fs/namei.c vfs_link).
@pytest.mark.os("linux")
@pytest.mark.root
@pytest.mark.parametrize("flag", ["append", "immutable"])
def test_linkat_of_a_flagged_file_is_eperm(
    kernel: Kernel, tmp: Path, inode_flags, flag: str
) -> None:
    (tmp / "f").write_bytes(b"data")
    inode_flags(tmp / "f", flag)
    assert _linkat(kernel, tmp / "f", tmp / "g").errno == "EPERM"
    assert not (tmp / "g").exists()


# fs.protected_hardlinks = 1 (fs/namei.c may_linkat): a user may link only a file of
# their own, or a regular one they may read and write that is neither set-user-ID nor
# set-group-ID and executable; anything else of another user's is EPERM (CAP_FOWNER
# links anything). Root makes the file, a child become nobody links it.
@pytest.mark.os("linux")
@pytest.mark.root
@pytest.mark.parametrize(("mode", "answer"), [(0o600, "EPERM"), (0o4666, "EPERM"), (0o666, "ok")])
def test_linkat_of_another_users_file_under_protected_hardlinks(
    kernel: Kernel, tmp: Path, in_child, drop_privileges, mode: int, answer: str
) -> None:
    if sysctl.number("fs/protected_hardlinks") != 1:
        pytest.skip("fs.protected_hardlinks is not 1 here: any file may be linked")
    (tmp / "d").mkdir()
    (tmp / "d").chmod(0o777)
    (tmp / "d" / "f").write_bytes(b"root's")
    (tmp / "d" / "f").chmod(mode)
    dirfd = os.open(tmp / "d", os.O_RDONLY | os.O_DIRECTORY)

    def run() -> str:
        drop_privileges()
        return kernel.linkat(dirfd, b"f", dirfd, b"g", 0).outcome

    try:
        assert in_child(run) == answer
    finally:
        os.close(dirfd)
    assert (tmp / "d" / "g").exists() == (answer == "ok")


@pytest.mark.os("linux")
def test_linkat_updates_the_files_ctime_and_the_directorys_mtime(
    kernel: Kernel, tmp: Path, stamps
) -> None:
    (tmp / "d").mkdir()
    (tmp / "a").write_bytes(b"")
    stamps.backdate(tmp / "a", tmp / "d")
    _, _, ctime, _ = stamps.of(tmp / "a")
    kernel.linkat(kernel.AT_FDCWD, tmp / "a", kernel.AT_FDCWD, tmp / "d" / "b", 0).unwrap()
    _, mtime, ctime_after, _ = stamps.of(tmp / "a")
    assert ctime_after > ctime and mtime == stamps.PAST * 10**9  # the inode, not its data
    assert stamps.of(tmp / "d")[1] > stamps.PAST * 10**9  # the directory got a name
