"""openat(2): creating, opening and refusing files, by flag.

Linux-only flags (O_TMPFILE, O_PATH) are marked; permission tests need a non-root
user, since root's CAP_DAC_OVERRIDE bypasses mode bits.
"""

import os
from pathlib import Path

import pytest

from syscalls.expect import ByOS
from syscalls.kernel import Kernel

NOT_ROOT = pytest.mark.skipif(
    os.geteuid() == 0, reason="root bypasses mode bits (CAP_DAC_OVERRIDE); run as a user"
)


# O_NOFOLLOW on a symlink: NetBSD answers EFTYPE (sys/kern/vfs_vnops.c, vn_open).
NOFOLLOW_ON_SYMLINK = ByOS(default="ELOOP", netbsd="EFTYPE")
# An absolute path with a dirfd that is not open: NetBSD 7 still checks the dirfd.
ABSOLUTE_WITH_BAD_DIRFD = ByOS(default="ok", netbsd="EBADF")


@pytest.mark.smoke
def test_openat_creates_file_with_requested_mode(kernel: Kernel, tmp: Path, observe) -> None:
    path = tmp / "f"
    fd = kernel.openat(kernel.AT_FDCWD, path, kernel.O_CREAT | kernel.O_WRONLY, 0o640).unwrap()
    kernel.close(fd).unwrap()
    st = kernel.new("struct stat *")
    kernel.fstatat(kernel.AT_FDCWD, path, st, 0).unwrap()
    observe("mode", oct(st.st_mode & 0o7777))
    assert st.st_mode & kernel.S_IFMT == kernel.S_IFREG
    assert st.st_mode & 0o777 == 0o640 & ~_umask(kernel)


@pytest.mark.smoke
def test_openat_missing_file_is_enoent(kernel: Kernel, tmp: Path) -> None:
    r = kernel.openat(kernel.AT_FDCWD, tmp / "absent", kernel.O_RDONLY)
    assert r.errno == "ENOENT"


@pytest.mark.smoke
def test_openat_excl_on_existing_file_is_eexist(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    r = kernel.openat(
        kernel.AT_FDCWD, tmp / "f", kernel.O_CREAT | kernel.O_EXCL | kernel.O_RDWR, 0o600
    )
    assert r.errno == "EEXIST"


def test_openat_creat_on_existing_file_keeps_its_mode(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "f").write_bytes(b"x")
    (tmp / "f").chmod(0o604)
    fds.open(tmp / "f", kernel.O_CREAT | kernel.O_RDWR, 0o600)
    st = kernel.new("struct stat *")
    kernel.fstatat(kernel.AT_FDCWD, tmp / "f", st, 0).unwrap()
    assert st.st_mode & 0o777 == 0o604
    assert st.st_size == 1


@pytest.mark.smoke
def test_openat_nofollow_on_symlink_is_eloop(kernel: Kernel, tmp: Path) -> None:
    (tmp / "target").write_bytes(b"")
    (tmp / "link").symlink_to(tmp / "target")
    r = kernel.openat(kernel.AT_FDCWD, tmp / "link", kernel.O_RDONLY | kernel.O_NOFOLLOW)
    assert r.outcome == NOFOLLOW_ON_SYMLINK[kernel.platform.os]


def test_openat_nofollow_still_follows_symlinks_in_the_prefix(
    kernel: Kernel, tmp: Path, fds
) -> None:
    (tmp / "dir").mkdir()
    (tmp / "dir" / "f").write_bytes(b"")
    (tmp / "dirlink").symlink_to(tmp / "dir")
    fds.open(tmp / "dirlink" / "f", kernel.O_RDONLY | kernel.O_NOFOLLOW)


@pytest.mark.smoke
def test_openat_directory_flag_on_regular_file_is_enotdir(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    r = kernel.openat(kernel.AT_FDCWD, tmp / "f", kernel.O_RDONLY | kernel.O_DIRECTORY)
    assert r.errno == "ENOTDIR"


def test_openat_directory_flag_on_directory_opens_it(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.open(tmp, kernel.O_RDONLY | kernel.O_DIRECTORY)
    st = kernel.new("struct stat *")
    kernel.fstat(fd, st).unwrap()
    assert st.st_mode & kernel.S_IFMT == kernel.S_IFDIR


@pytest.mark.parametrize("access", ["O_WRONLY", "O_RDWR"])
@pytest.mark.smoke
def test_openat_directory_for_writing_is_eisdir(kernel: Kernel, tmp: Path, access: str) -> None:
    r = kernel.openat(kernel.AT_FDCWD, tmp, getattr(kernel, access))
    assert r.errno == "EISDIR"


def test_openat_missing_parent_directory_is_enoent(kernel: Kernel, tmp: Path) -> None:
    r = kernel.openat(kernel.AT_FDCWD, tmp / "nodir" / "f", kernel.O_CREAT | kernel.O_WRONLY, 0o600)
    assert r.errno == "ENOENT"


def test_openat_file_used_as_directory_is_enotdir(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    r = kernel.openat(kernel.AT_FDCWD, tmp / "f" / "g", kernel.O_RDONLY)
    assert r.errno == "ENOTDIR"


@pytest.mark.smoke
def test_openat_resolves_relative_path_against_dirfd(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "f").write_bytes(b"hello")
    dirfd = fds.open(tmp, kernel.O_RDONLY | kernel.O_DIRECTORY)
    fd = fds(kernel.openat(dirfd, b"f", kernel.O_RDONLY))
    buf = kernel.buf(16)
    assert kernel.bytes(buf, kernel.read(fd, buf, 16).unwrap()) == b"hello"


@pytest.mark.smoke
def test_openat_relative_path_with_bad_dirfd_is_ebadf(kernel: Kernel) -> None:
    r = kernel.openat(1_000_000, b"f", kernel.O_RDONLY)
    assert r.errno == "EBADF"


def test_openat_relative_path_with_file_dirfd_is_enotdir(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    r = kernel.openat(fd, b"g", kernel.O_RDONLY)
    assert r.errno == "ENOTDIR"


def test_openat_absolute_path_ignores_dirfd(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "f").write_bytes(b"")
    r = kernel.openat(1_000_000, tmp / "f", kernel.O_RDONLY)
    if r.ok:
        fds(r)
    assert r.outcome == ABSOLUTE_WITH_BAD_DIRFD[kernel.platform.os]


@pytest.mark.smoke
def test_openat_append_writes_land_at_end_after_seek(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "f").write_bytes(b"abc")
    fd = fds.open(tmp / "f", kernel.O_WRONLY | kernel.O_APPEND)
    kernel.lseek(fd, 0, kernel.SEEK_SET).unwrap()
    assert kernel.write(fd, b"XY", 2).unwrap() == 2
    assert kernel.lseek(fd, 0, kernel.SEEK_CUR).unwrap() == 5
    assert (tmp / "f").read_bytes() == b"abcXY"


@pytest.mark.smoke
def test_openat_trunc_empties_existing_file(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "f").write_bytes(b"some data")
    fd = fds.open(tmp / "f", kernel.O_WRONLY | kernel.O_TRUNC)
    st = kernel.new("struct stat *")
    kernel.fstat(fd, st).unwrap()
    assert st.st_size == 0


@pytest.mark.parametrize(("flag", "expected"), [("O_CLOEXEC", 1), (None, 0)])
@pytest.mark.smoke
def test_openat_cloexec_flag_shows_in_fd_flags(
    kernel: Kernel, tmp: Path, fds, flag: str | None, expected: int
) -> None:
    extra = getattr(kernel, flag) if flag else 0
    fd = fds.open(tmp, kernel.O_RDONLY | extra)
    assert kernel.fcntl(fd, kernel.F_GETFD, 0).unwrap() & kernel.FD_CLOEXEC == expected


@NOT_ROOT
def test_openat_without_permission_is_eacces(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    (tmp / "f").chmod(0o200)
    r = kernel.openat(kernel.AT_FDCWD, tmp / "f", kernel.O_RDONLY)
    assert r.errno == "EACCES"


@NOT_ROOT
def test_openat_create_in_unwritable_directory_is_eacces(kernel: Kernel, tmp: Path) -> None:
    (tmp / "ro").mkdir(mode=0o500)
    r = kernel.openat(kernel.AT_FDCWD, tmp / "ro" / "f", kernel.O_CREAT | kernel.O_WRONLY, 0o600)
    assert r.errno == "EACCES"


@pytest.mark.root
def test_openat_as_root_ignores_mode_bits(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "f").write_bytes(b"")
    (tmp / "f").chmod(0)
    fds.open(tmp / "f", kernel.O_RDWR)


def test_openat_name_component_over_name_max_is_enametoolong(kernel: Kernel, tmp: Path) -> None:
    r = kernel.openat(kernel.AT_FDCWD, tmp / ("x" * 256), kernel.O_RDONLY)
    assert r.errno == "ENAMETOOLONG"


def test_openat_path_over_path_max_is_enametoolong(kernel: Kernel, tmp: Path) -> None:
    long_path = str(tmp) + "/" + "/".join(["d" * 200] * 21)  # > 4096 bytes, components ok
    r = kernel.openat(kernel.AT_FDCWD, long_path, kernel.O_RDONLY)
    assert r.errno == "ENAMETOOLONG"


@pytest.mark.os("linux")
def test_openat_path_read_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"data", kernel.O_PATH)
    buf = kernel.buf(4)
    assert kernel.read(fd, buf, 4).errno == "EBADF"


@pytest.mark.os("linux")
def test_openat_path_fd_still_answers_fstat(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"data", kernel.O_PATH)
    st = kernel.new("struct stat *")
    kernel.fstat(fd, st).unwrap()
    assert st.st_size == 4


@pytest.mark.os("linux")
def test_openat_path_nofollow_opens_the_symlink_itself(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "link").symlink_to("target-does-not-exist")
    fd = fds.open(tmp / "link", kernel.O_PATH | kernel.O_NOFOLLOW)
    st = kernel.new("struct stat *")
    kernel.fstat(fd, st).unwrap()
    assert st.st_mode & kernel.S_IFMT == kernel.S_IFLNK


def _tmpfile(kernel: Kernel, tmp: Path, fds, extra: int = 0) -> int:
    r = kernel.openat(kernel.AT_FDCWD, tmp, kernel.O_TMPFILE | kernel.O_RDWR | extra, 0o600)
    if r.errno == "EOPNOTSUPP":
        pytest.skip(f"the file system under {tmp} does not support O_TMPFILE")
    return fds(r)


@pytest.mark.os("linux")
def test_openat_tmpfile_has_no_name_until_linkat(kernel: Kernel, tmp: Path, fds) -> None:
    fd = _tmpfile(kernel, tmp, fds)
    assert list(tmp.iterdir()) == []
    kernel.write(fd, b"kept", 4).unwrap()
    kernel.linkat(
        kernel.AT_FDCWD,
        f"/proc/self/fd/{fd}",
        kernel.AT_FDCWD,
        tmp / "named",
        kernel.AT_SYMLINK_FOLLOW,
    ).unwrap()
    assert (tmp / "named").read_bytes() == b"kept"


@pytest.mark.os("linux")
def test_openat_tmpfile_with_excl_cannot_be_linked(kernel: Kernel, tmp: Path, fds) -> None:
    fd = _tmpfile(kernel, tmp, fds, kernel.O_EXCL)
    r = kernel.linkat(
        kernel.AT_FDCWD,
        f"/proc/self/fd/{fd}",
        kernel.AT_FDCWD,
        tmp / "named",
        kernel.AT_SYMLINK_FOLLOW,
    )
    assert r.errno == "ENOENT"


@pytest.mark.os("linux")
def test_openat_tmpfile_read_only_is_einval(kernel: Kernel, tmp: Path) -> None:
    r = kernel.openat(kernel.AT_FDCWD, tmp, kernel.O_TMPFILE | kernel.O_RDONLY, 0o600)
    assert r.errno == "EINVAL"


def _umask(kernel: Kernel) -> int:
    old = kernel.umask(0o022).unwrap()
    kernel.umask(old)
    return old
