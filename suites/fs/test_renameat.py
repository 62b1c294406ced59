"""rename/renameat/renameat2: moving names, replacement rules and the renameat2 flags.

renameat2 (Linux 3.15) takes RENAME_NOREPLACE and RENAME_EXCHANGE; file systems that do
not implement a flag answer EINVAL, which is the kernel's answer and fails the test.
A directory onto a non-empty directory: POSIX allows EEXIST or ENOTEMPTY; Linux ENOTEMPTY.
"""

import os
import stat
from pathlib import Path

import pytest

from syscalls.expect import ByOS
from syscalls.kernel import Kernel, Result

DIR_ONTO_NONEMPTY = ByOS(default="ENOTEMPTY")
# Renaming one hard link onto another of the same file: POSIX keeps both; NetBSD's
# rename removes the source (sys/kern/vfs_syscalls.c, do_sys_renameat without `retain`,
# which only __posix_rename sets).
SAME_FILE_KEEPS_SOURCE = ByOS(default=True, netbsd=False)


def _rename(kernel: Kernel, old: Path, new: Path) -> Result:
    return kernel.renameat(kernel.AT_FDCWD, old, kernel.AT_FDCWD, new)


def test_renameat_moves_the_name(kernel: Kernel, tmp: Path) -> None:
    (tmp / "a").write_bytes(b"A")
    _rename(kernel, tmp / "a", tmp / "b").unwrap()
    assert not (tmp / "a").exists()
    assert (tmp / "b").read_bytes() == b"A"


def test_renameat_replaces_existing_file(kernel: Kernel, tmp: Path) -> None:
    (tmp / "a").write_bytes(b"A")
    (tmp / "b").write_bytes(b"B")
    ino = (tmp / "a").stat().st_ino
    _rename(kernel, tmp / "a", tmp / "b").unwrap()
    assert (tmp / "b").stat().st_ino == ino


def test_renameat_between_directories_via_dirfds(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "x").mkdir()
    (tmp / "y").mkdir()
    (tmp / "x" / "f").write_bytes(b"")
    xfd = fds.open(tmp / "x", kernel.O_RDONLY | kernel.O_DIRECTORY)
    yfd = fds.open(tmp / "y", kernel.O_RDONLY | kernel.O_DIRECTORY)
    kernel.renameat(xfd, b"f", yfd, b"g").unwrap()
    assert (tmp / "y" / "g").exists()


def test_renameat_hard_links_of_same_file_is_a_no_op(kernel: Kernel, tmp: Path) -> None:
    (tmp / "a").write_bytes(b"")
    (tmp / "b").hardlink_to(tmp / "a")
    _rename(kernel, tmp / "a", tmp / "b").unwrap()
    assert (tmp / "a").exists() == SAME_FILE_KEEPS_SOURCE[kernel.platform.os]
    assert (tmp / "b").exists()


def test_renameat_directory_onto_nonempty_directory_is_refused(kernel: Kernel, tmp: Path) -> None:
    (tmp / "a").mkdir()
    (tmp / "b").mkdir()
    (tmp / "b" / "f").write_bytes(b"")
    r = _rename(kernel, tmp / "a", tmp / "b")
    assert r.errno == DIR_ONTO_NONEMPTY[kernel.platform.os]


def test_renameat_directory_onto_empty_directory_replaces_it(kernel: Kernel, tmp: Path) -> None:
    (tmp / "a").mkdir()
    (tmp / "a" / "marker").write_bytes(b"")
    (tmp / "b").mkdir()
    _rename(kernel, tmp / "a", tmp / "b").unwrap()
    assert (tmp / "b" / "marker").exists()


def test_renameat_directory_onto_file_is_enotdir(kernel: Kernel, tmp: Path) -> None:
    (tmp / "d").mkdir()
    (tmp / "f").write_bytes(b"")
    assert _rename(kernel, tmp / "d", tmp / "f").errno == "ENOTDIR"


def test_renameat_file_onto_directory_is_eisdir(kernel: Kernel, tmp: Path) -> None:
    (tmp / "d").mkdir()
    (tmp / "f").write_bytes(b"")
    assert _rename(kernel, tmp / "f", tmp / "d").errno == "EISDIR"


def test_renameat_directory_into_its_own_subdirectory_is_einval(kernel: Kernel, tmp: Path) -> None:
    (tmp / "d" / "sub").mkdir(parents=True)
    assert _rename(kernel, tmp / "d", tmp / "d" / "sub" / "x").errno == "EINVAL"


def test_renameat_missing_source_is_enoent(kernel: Kernel, tmp: Path) -> None:
    assert _rename(kernel, tmp / "absent", tmp / "b").errno == "ENOENT"


def test_rename_legacy_call_moves_the_name(kernel: Kernel, tmp: Path) -> None:
    (tmp / "a").write_bytes(b"")
    kernel.rename(tmp / "a", tmp / "b").unwrap()
    assert (tmp / "b").exists()


def _rename2(kernel: Kernel, old: Path, new: Path, flags: int) -> Result:
    return kernel.renameat2(kernel.AT_FDCWD, old, kernel.AT_FDCWD, new, flags)


@pytest.mark.os("linux")
@pytest.mark.min_kernel("3.15")
def test_renameat2_noreplace_onto_existing_is_eexist(kernel: Kernel, tmp: Path) -> None:
    (tmp / "a").write_bytes(b"A")
    (tmp / "b").write_bytes(b"B")
    r = _rename2(kernel, tmp / "a", tmp / "b", kernel.RENAME_NOREPLACE)
    assert r.errno == "EEXIST"
    assert (tmp / "b").read_bytes() == b"B"


@pytest.mark.os("linux")
@pytest.mark.min_kernel("3.15")
def test_renameat2_noreplace_to_free_name_moves(kernel: Kernel, tmp: Path) -> None:
    (tmp / "a").write_bytes(b"A")
    _rename2(kernel, tmp / "a", tmp / "b", kernel.RENAME_NOREPLACE).unwrap()
    assert (tmp / "b").read_bytes() == b"A"


@pytest.mark.os("linux")
@pytest.mark.min_kernel("3.15")
def test_renameat2_exchange_swaps_two_names(kernel: Kernel, tmp: Path) -> None:
    (tmp / "a").write_bytes(b"A")
    (tmp / "b").mkdir()
    _rename2(kernel, tmp / "a", tmp / "b", kernel.RENAME_EXCHANGE).unwrap()
    assert (tmp / "a").is_dir()
    assert (tmp / "b").read_bytes() == b"A"


@pytest.mark.os("linux")
@pytest.mark.min_kernel("3.15")
def test_renameat2_exchange_with_missing_target_is_enoent(kernel: Kernel, tmp: Path) -> None:
    (tmp / "a").write_bytes(b"A")
    r = _rename2(kernel, tmp / "a", tmp / "absent", kernel.RENAME_EXCHANGE)
    assert r.errno == "ENOENT"


@pytest.mark.os("linux")
@pytest.mark.parametrize(
    "other",
    [
        pytest.param("RENAME_NOREPLACE", marks=pytest.mark.min_kernel("3.15")),
        pytest.param("RENAME_WHITEOUT", marks=pytest.mark.min_kernel("3.18")),
    ],
)
def test_renameat2_exchange_with_another_flag_is_einval(
    kernel: Kernel, tmp: Path, other: str
) -> None:
    (tmp / "a").write_bytes(b"A")
    (tmp / "b").write_bytes(b"B")
    flags = getattr(kernel, other) | kernel.RENAME_EXCHANGE
    assert _rename2(kernel, tmp / "a", tmp / "b", flags).errno == "EINVAL"
    assert (tmp / "a").read_bytes() == b"A"


@pytest.mark.os("netbsd")
def test_posix_rename_of_one_link_onto_another_of_the_same_file_keeps_both(
    kernel: Kernel, tmp: Path
) -> None:
    # NetBSD's __posix_rename is rename with `retain` set (sys/kern/vfs_syscalls.c,
    # sys___posix_rename): POSIX's "both names stay", where its rename drops the source.
    (tmp / "a").write_bytes(b"A")
    (tmp / "b").hardlink_to(tmp / "a")
    kernel.caller("__posix_rename")(tmp / "a", tmp / "b").unwrap()
    assert (tmp / "a").exists() and (tmp / "b").exists()
    assert (tmp / "a").stat().st_nlink == 2


@pytest.mark.os("netbsd")
def test_posix_rename_moves_a_name_as_rename_does(kernel: Kernel, tmp: Path) -> None:
    (tmp / "a").write_bytes(b"A")
    (tmp / "b").write_bytes(b"B")
    kernel.caller("__posix_rename")(tmp / "a", tmp / "b").unwrap()
    assert not (tmp / "a").exists()
    assert (tmp / "b").read_bytes() == b"A"


@pytest.mark.os("linux")
@pytest.mark.min_kernel("3.15")
def test_renameat2_unknown_flag_is_einval(kernel: Kernel, tmp: Path) -> None:
    (tmp / "a").write_bytes(b"A")
    assert _rename2(kernel, tmp / "a", tmp / "b", 1 << 7).errno == "EINVAL"
    assert (tmp / "a").exists() and not (tmp / "b").exists()


# A source that is "." or ".." is EBUSY; so is such a target, or EEXIST with
# RENAME_NOREPLACE (fs/namei.c do_renameat2: old_type/new_type != LAST_NORM).
@pytest.mark.os("linux")
def test_rename_of_dot_or_dotdot_is_ebusy(kernel: Kernel, tmp: Path) -> None:
    (tmp / "d").mkdir()
    (tmp / "d" / "sub").mkdir()
    for old in (f"{tmp}/d/.", f"{tmp}/d/sub/.."):  # as strings: pathlib drops a "."
        assert kernel.renameat(kernel.AT_FDCWD, old, kernel.AT_FDCWD, tmp / "e").errno == "EBUSY"
    assert not (tmp / "e").exists()


@pytest.mark.os("linux")
@pytest.mark.min_kernel("3.15")
def test_rename_onto_dotdot_is_ebusy_or_eexist_with_noreplace(kernel: Kernel, tmp: Path) -> None:
    (tmp / "d").mkdir()
    (tmp / "f").write_bytes(b"F")
    dotdot = f"{tmp}/d/.."
    assert kernel.renameat(kernel.AT_FDCWD, tmp / "f", kernel.AT_FDCWD, dotdot).errno == "EBUSY"
    noreplace = kernel.RENAME_NOREPLACE
    r = kernel.renameat2(kernel.AT_FDCWD, tmp / "f", kernel.AT_FDCWD, dotdot, noreplace)
    assert r.errno == "EEXIST"
    assert (tmp / "f").read_bytes() == b"F"


# A trailing slash on either name of a non-directory is ENOTDIR (fs/namei.c
# do_renameat2); directories take them.
@pytest.mark.os("linux")
def test_rename_of_a_file_with_a_trailing_slash_is_enotdir(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"F")
    assert kernel.renameat(kernel.AT_FDCWD, f"{tmp}/f/", kernel.AT_FDCWD, tmp / "g").errno == (
        "ENOTDIR"
    )
    assert kernel.renameat(kernel.AT_FDCWD, tmp / "f", kernel.AT_FDCWD, f"{tmp}/g/").errno == (
        "ENOTDIR"
    )
    assert (tmp / "f").read_bytes() == b"F" and not (tmp / "g").exists()


def test_rename_of_a_directory_with_trailing_slashes_moves_it(kernel: Kernel, tmp: Path) -> None:
    (tmp / "d").mkdir()
    kernel.renameat(kernel.AT_FDCWD, f"{tmp}/d/", kernel.AT_FDCWD, f"{tmp}/e/").unwrap()
    assert (tmp / "e").is_dir() and not (tmp / "d").exists()


@pytest.mark.os("linux")
@pytest.mark.min_kernel("3.15")
def test_renameat2_exchange_with_a_file_named_with_a_trailing_slash_is_enotdir(
    kernel: Kernel, tmp: Path
) -> None:
    (tmp / "d").mkdir()
    (tmp / "f").write_bytes(b"F")
    r = kernel.renameat2(
        kernel.AT_FDCWD, tmp / "d", kernel.AT_FDCWD, f"{tmp}/f/", kernel.RENAME_EXCHANGE
    )
    assert r.errno == "ENOTDIR"
    assert (tmp / "d").is_dir() and (tmp / "f").read_bytes() == b"F"


# Swapping a directory with its own ancestor would cut the tree loose: EINVAL (fs/namei.c
# do_renameat2: the target is lock_rename's trap). Without RENAME_EXCHANGE: ENOTEMPTY.
@pytest.mark.os("linux")
@pytest.mark.min_kernel("3.15")
def test_renameat2_exchange_with_an_ancestor_is_einval(kernel: Kernel, tmp: Path) -> None:
    (tmp / "a" / "b").mkdir(parents=True)
    r = _rename2(kernel, tmp / "a" / "b", tmp / "a", kernel.RENAME_EXCHANGE)
    assert r.errno == "EINVAL"
    assert _rename(kernel, tmp / "a" / "b", tmp / "a").errno == "ENOTEMPTY"
    assert (tmp / "a" / "b").is_dir()


def _other_mount(kernel: Kernel, tmp: Path, disk_tmp: Path) -> None:
    if os.stat(tmp).st_dev == os.stat(disk_tmp).st_dev:
        pytest.skip(f"{tmp} and {disk_tmp} are on one mount: nothing to cross")


@pytest.mark.os("linux")
def test_rename_across_mounts_is_exdev(kernel: Kernel, tmp: Path, disk_tmp: Path) -> None:
    _other_mount(kernel, tmp, disk_tmp)
    (tmp / "f").write_bytes(b"F")
    assert _rename(kernel, tmp / "f", disk_tmp / "f").errno == "EXDEV"
    assert (tmp / "f").read_bytes() == b"F" and not (disk_tmp / "f").exists()


# RENAME_WHITEOUT leaves a whiteout, a character device 0:0, at the old name (fs/namei.c
# vfs_rename; the file system's rename makes it). Users may ask for it since Linux 5.8
# (CAP_MKNOD before).
@pytest.mark.os("linux")
@pytest.mark.min_kernel("5.8")
def test_renameat2_whiteout_leaves_a_0_0_character_device(kernel: Kernel, tmp: Path) -> None:
    (tmp / "a").write_bytes(b"A")
    r = _rename2(kernel, tmp / "a", tmp / "b", kernel.RENAME_WHITEOUT)
    if r.errno == "EINVAL":
        pytest.skip(f"the file system under {tmp} has no whiteouts (EINVAL)")
    r.unwrap()
    st = os.lstat(tmp / "a")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert (tmp / "b").read_bytes() == b"A"


# In a sticky directory only the owner of a name (or of the directory) may remove or
# rename it (fs/namei.c may_delete: check_sticky): EPERM for another user, even one who
# may write the directory.
@pytest.mark.os("linux")
@pytest.mark.root
def test_rename_in_a_sticky_directory_of_another_users_file_is_eperm(
    kernel: Kernel, tmp: Path, in_child, drop_privileges
) -> None:
    (tmp / "d").mkdir()
    (tmp / "d").chmod(0o1777)
    (tmp / "d" / "f").write_bytes(b"F")
    (tmp / "d" / "f").chmod(0o666)
    dirfd = os.open(tmp / "d", os.O_RDONLY | os.O_DIRECTORY)

    def run() -> tuple[str, str]:
        drop_privileges()
        moved = kernel.renameat(dirfd, b"f", dirfd, b"g").outcome
        removed = kernel.unlinkat(dirfd, b"f", 0).outcome
        return moved, removed

    try:
        assert in_child(run) == ("EPERM", "EPERM")
    finally:
        os.close(dirfd)
    assert (tmp / "d" / "f").read_bytes() == b"F"


@pytest.mark.os("linux")
def test_rename_between_directories_updates_both_and_the_files_ctime(
    kernel: Kernel, tmp: Path, stamps
) -> None:
    src, dst = tmp / "src", tmp / "dst"
    src.mkdir()
    dst.mkdir()
    (src / "f").write_bytes(b"")
    stamps.backdate(src, dst, src / "f")
    _, _, ctime, _ = stamps.of(src / "f")
    kernel.renameat(kernel.AT_FDCWD, src / "f", kernel.AT_FDCWD, dst / "f").unwrap()
    assert stamps.of(src)[1] > stamps.PAST * 10**9  # one name fewer
    assert stamps.of(dst)[1] > stamps.PAST * 10**9  # one name more
    _, mtime, ctime_after, _ = stamps.of(dst / "f")
    assert ctime_after > ctime and mtime == stamps.PAST * 10**9
