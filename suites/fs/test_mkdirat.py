"""mkdir/mkdirat/rmdir: creating and removing directories, and the refusals."""

import os
from pathlib import Path

import pytest

from syscalls.kernel import Kernel


def _umask(kernel: Kernel) -> int:
    old = kernel.umask(0o022).unwrap()
    kernel.umask(old)
    return old


def test_mkdirat_creates_directory_with_mode_minus_umask(kernel: Kernel, tmp: Path) -> None:
    kernel.mkdirat(kernel.AT_FDCWD, tmp / "d", 0o777).unwrap()
    st = kernel.new("struct stat *")
    kernel.fstatat(kernel.AT_FDCWD, tmp / "d", st, 0).unwrap()
    assert st.st_mode & kernel.S_IFMT == kernel.S_IFDIR
    assert st.st_mode & 0o777 == 0o777 & ~_umask(kernel)


def test_mkdirat_relative_to_dirfd(kernel: Kernel, tmp: Path, fds) -> None:
    dirfd = fds.open(tmp, kernel.O_RDONLY | kernel.O_DIRECTORY)
    kernel.mkdirat(dirfd, b"sub", 0o700).unwrap()
    assert (tmp / "sub").is_dir()


def test_mkdirat_existing_name_is_eexist(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    assert kernel.mkdirat(kernel.AT_FDCWD, tmp / "f", 0o700).errno == "EEXIST"


def test_mkdirat_on_dangling_symlink_is_eexist(kernel: Kernel, tmp: Path) -> None:
    (tmp / "link").symlink_to("nowhere")
    assert kernel.mkdirat(kernel.AT_FDCWD, tmp / "link", 0o700).errno == "EEXIST"
    assert not (tmp / "nowhere").exists()


def test_mkdirat_missing_parent_is_enoent(kernel: Kernel, tmp: Path) -> None:
    assert kernel.mkdirat(kernel.AT_FDCWD, tmp / "a" / "b", 0o700).errno == "ENOENT"


@pytest.mark.as_user("root bypasses mode bits (CAP_DAC_OVERRIDE)")
def test_mkdirat_in_unwritable_directory_is_eacces(kernel: Kernel, tmp: Path) -> None:
    (tmp / "ro").mkdir(mode=0o500)
    assert kernel.mkdirat(kernel.AT_FDCWD, tmp / "ro" / "d", 0o700).errno == "EACCES"


def test_mkdir_legacy_call_creates_directory(kernel: Kernel, tmp: Path) -> None:
    kernel.mkdir(tmp / "d", 0o700).unwrap()
    assert (tmp / "d").is_dir()


def test_rmdir_removes_empty_directory(kernel: Kernel, tmp: Path) -> None:
    (tmp / "d").mkdir()
    kernel.rmdir(tmp / "d").unwrap()
    assert not (tmp / "d").exists()


def test_rmdir_nonempty_directory_is_enotempty(kernel: Kernel, tmp: Path) -> None:
    (tmp / "d").mkdir()
    (tmp / "d" / "f").write_bytes(b"")
    assert kernel.rmdir(tmp / "d").errno == "ENOTEMPTY"


def test_rmdir_on_file_is_enotdir(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    assert kernel.rmdir(tmp / "f").errno == "ENOTDIR"


def test_rmdir_dot_is_einval(kernel: Kernel, tmp: Path) -> None:
    (tmp / "d").mkdir()
    assert kernel.rmdir(f"{tmp}/d/.").errno == "EINVAL"  # pathlib would drop the "."


# A directory keeps the permission bits and the sticky bit of the mode asked for; the
# set-user-ID and set-group-ID bits are not taken from it (fs/namei.c vfs_mkdir:
# S_IRWXUGO | S_ISVTX). The umask is 0 in the child.
@pytest.mark.os("linux")
def test_mkdirat_keeps_sticky_and_drops_setid_bits_of_the_mode(
    kernel: Kernel, tmp: Path, in_child
) -> None:
    def run() -> int:
        kernel.umask(0)
        kernel.mkdirat(kernel.AT_FDCWD, tmp / "d", 0o7777).unwrap()
        return os.stat(tmp / "d").st_mode & 0o7777

    assert in_child(run) == 0o1777


def test_mkdirat_with_a_trailing_slash_creates_the_directory(kernel: Kernel, tmp: Path) -> None:
    kernel.mkdirat(kernel.AT_FDCWD, f"{tmp}/d/", 0o755).unwrap()
    assert (tmp / "d").is_dir()


# "." and ".." always exist: EEXIST (fs/namei.c filename_create: not LAST_NORM).
@pytest.mark.os("linux")
def test_mkdirat_of_dot_or_dotdot_is_eexist(kernel: Kernel, tmp: Path, fds) -> None:
    dirfd = fds.open(tmp, kernel.O_RDONLY | kernel.O_DIRECTORY)
    assert kernel.mkdirat(dirfd, b".", 0o755).errno == "EEXIST"
    assert kernel.mkdirat(dirfd, b"..", 0o755).errno == "EEXIST"


@pytest.mark.os("linux")
def test_mkdirat_on_an_existing_file_with_a_trailing_slash_is_eexist(
    kernel: Kernel, tmp: Path
) -> None:
    (tmp / "f").write_bytes(b"")
    assert kernel.mkdirat(kernel.AT_FDCWD, f"{tmp}/f/", 0o755).errno == "EEXIST"


@pytest.mark.os("linux")
def test_rmdir_dotdot_is_enotempty(kernel: Kernel, tmp: Path) -> None:
    (tmp / "d" / "sub").mkdir(parents=True)
    assert kernel.rmdir(f"{tmp}/d/sub/..").errno == "ENOTEMPTY"
    assert (tmp / "d" / "sub").is_dir()


@pytest.mark.os("linux")
def test_mkdirat_updates_the_parents_times_and_link_count(kernel: Kernel, tmp: Path, stamps):
    parent = tmp / "p"
    parent.mkdir()
    stamps.backdate(parent)
    _, _, ctime, nlink = stamps.of(parent)
    kernel.mkdirat(kernel.AT_FDCWD, parent / "child", 0o755).unwrap()
    _, mtime, ctime_after, nlink_after = stamps.of(parent)
    assert mtime > stamps.PAST * 10**9 and ctime_after > ctime  # a new name in it
    assert nlink_after == nlink + 1  # the child's ".." links to it
