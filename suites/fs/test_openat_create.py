"""openat(2) creating files: the mode a new file gets (umask, set-group-ID directories),
and unnamed O_TMPFILE files.

The mode is `mode & ~umask`, bits beyond 07777 ignored (fs/open.c build_open_flags).
In a set-group-ID directory a new file takes the directory's group, and keeps a
requested S_ISGID only when the creator is in that group or has CAP_FSETID; the bit is
dropped only where group-execute is asked for too (fs/inode.c mode_strip_sgid). Tests
that set the umask or give up root do it in a child; those that need another group than
the caller's run as root, which makes one (chown) and then gives up its privileges.
On the BSDs a new file takes its directory's group in any directory (new_file_ids).
"""

import os
from pathlib import Path

import pytest

from syscalls.kernel import Kernel, Result

NOBODY = 65534
AS_USER = pytest.mark.as_user("root bypasses mode bits (CAP_DAC_OVERRIDE)")
AS_MEMBER = pytest.mark.as_user("root keeps set-group-ID bits anyway (CAP_FSETID)")


def _stat(kernel: Kernel, fd: int) -> tuple[int, int]:
    """(permission bits incl. set-id and sticky, group) of an open file."""
    st = kernel.new("struct stat *")
    kernel.fstat(fd, st).unwrap()
    return st.st_mode & 0o7777, st.st_gid


def _umask(kernel: Kernel) -> int:
    old = kernel.umask(0o022).unwrap()
    kernel.umask(old)
    return old


def _link_tmpfile(kernel: Kernel, fd: int, dirfd: int, name: bytes) -> None:
    """Give an O_TMPFILE file a name, as open(2) shows: linkat through /proc/self/fd."""
    proc = f"/proc/self/fd/{fd}"
    kernel.linkat(kernel.AT_FDCWD, proc, dirfd, name, kernel.AT_SYMLINK_FOLLOW).unwrap()


def _tmpfile(kernel: Kernel, directory: Path | int, mode: int = 0o600) -> Result:
    """openat(O_TMPFILE|O_RDWR) in a directory (a path, or an open dirfd); skips where the
    file system has no O_TMPFILE."""
    dirfd, path = (directory, b".") if isinstance(directory, int) else (kernel.AT_FDCWD, directory)
    r = kernel.openat(dirfd, path, kernel.O_TMPFILE | kernel.O_RDWR, mode)
    if r.errno == "EOPNOTSUPP":
        pytest.skip(f"the file system under {directory} does not support O_TMPFILE")
    return r


# (umask, mode asked for, mode given): gVisor's open_create.cc HonorsUmask is 0222.
UMASKED = [
    (0o022, 0o666, 0o644),
    (0o077, 0o777, 0o700),
    (0o222, 0o666, 0o444),
    (0o000, 0o777, 0o777),
    (0o777, 0o666, 0o000),
    (0o027, 0o4755, 0o4750),  # set-user-ID survives: umask holds permission bits only
]


@pytest.mark.os("linux")
@pytest.mark.parametrize(("umask", "mode", "expected"), UMASKED, ids=lambda v: f"{v:04o}")
def test_openat_creat_mode_is_masked_by_umask(
    kernel: Kernel, tmp: Path, in_child, umask: int, mode: int, expected: int
) -> None:
    def run() -> int:
        kernel.umask(umask)
        fd = kernel.openat(kernel.AT_FDCWD, tmp / "f", kernel.O_CREAT | kernel.O_WRONLY, mode)
        return _stat(kernel, fd.unwrap())[0]

    assert in_child(run) == expected


@pytest.mark.os("linux")
@pytest.mark.parametrize(("umask", "mode", "expected"), UMASKED, ids=lambda v: f"{v:04o}")
def test_openat_tmpfile_mode_is_masked_by_umask(
    kernel: Kernel, tmp: Path, in_child, umask: int, mode: int, expected: int
) -> None:
    # vfs_tmpfile missed the umask until Linux 5.19 (commit ac6800e279a2, LTP openat04).
    def run() -> int:
        kernel.umask(umask)
        return _stat(kernel, _tmpfile(kernel, tmp, mode).unwrap())[0]

    assert in_child(run) == expected


def test_openat_creat_ignores_mode_bits_beyond_07777(kernel: Kernel, tmp: Path, fds) -> None:
    mode = 0o644 | (0xFFFFFFFF & ~0o7777)  # LTP openat04: type bits and the rest set
    fd = fds.open(tmp / "f", kernel.O_CREAT | kernel.O_RDWR, mode)
    st = kernel.new("struct stat *")
    kernel.fstat(fd, st).unwrap()
    assert st.st_mode & kernel.S_IFMT == kernel.S_IFREG
    assert st.st_mode & 0o7777 == 0o644 & ~_umask(kernel)


def test_openat_without_creat_ignores_the_mode(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "f").write_bytes(b"")
    (tmp / "f").chmod(0o640)
    fd = fds.open(tmp / "f", kernel.O_RDONLY, 0xFFFFFFFF & ~0o7777)
    assert _stat(kernel, fd)[0] == 0o640


# The descriptor that creates a file has the access it asked for, whatever the new
# file's mode says; a later open is checked against that mode (gVisor open_create.cc).
@pytest.mark.parametrize(
    ("access", "mode", "op"), [("O_RDONLY", 0o222, "read"), ("O_WRONLY", 0o444, "write")]
)
def test_openat_creating_descriptor_has_access_the_new_mode_denies(
    kernel: Kernel, tmp: Path, fds, access: str, mode: int, op: str
) -> None:
    fd = fds.open(tmp / "f", kernel.O_CREAT | kernel.O_EXCL | getattr(kernel, access), mode)
    assert getattr(kernel, op)(fd, kernel.buf(1), 1).unwrap() == (1 if op == "write" else 0)


@AS_USER
@pytest.mark.parametrize(("access", "mode"), [("O_RDONLY", 0o222), ("O_WRONLY", 0o444)])
def test_openat_reopening_a_file_created_without_that_access_is_eacces(
    kernel: Kernel, tmp: Path, fds, access: str, mode: int
) -> None:
    fds.open(tmp / "f", kernel.O_CREAT | kernel.O_EXCL | getattr(kernel, access), mode)
    assert kernel.openat(kernel.AT_FDCWD, tmp / "f", getattr(kernel, access)).errno == "EACCES"


# --- set-group-ID directories (LTP open10, openat04) ---


def _setgid_dir(kernel: Kernel, path: Path, group: int, mode: int = 0o2777) -> Path:
    path.mkdir()
    kernel.fchownat(kernel.AT_FDCWD, path, -1, group, 0).unwrap()
    path.chmod(mode)
    return path


@pytest.mark.root
@pytest.mark.parametrize("dir_mode", [0o2777, 0o0777], ids=["setgid", "plain"])
def test_openat_file_group_comes_from_a_setgid_directory(
    kernel: Kernel, tmp: Path, fds, new_file_ids, dir_mode: int
) -> None:
    d = _setgid_dir(kernel, tmp / "d", NOBODY, dir_mode)
    fd = fds.open(d / "f", kernel.O_CREAT | kernel.O_WRONLY, 0o644)
    # The directory's group, or in a plain one what a new file takes there: root's own
    # (0) on Linux, still the directory's on the BSDs.
    assert _stat(kernel, fd)[1] == (NOBODY if dir_mode & 0o2000 else new_file_ids(d)[1])


# (mode asked for, mode given) to a creator outside the directory's group, umask 0.
NON_MEMBER = [
    (0o0755, 0o0755),
    (0o2755, 0o0755),  # set-group-ID with group-execute: dropped
    (0o2710, 0o0710),
    (0o2644, 0o2644),  # without group-execute it marks mandatory locking: kept
]


@pytest.mark.os("linux")
@pytest.mark.root
@pytest.mark.parametrize(("mode", "expected"), NON_MEMBER, ids=lambda v: f"{v:04o}")
def test_openat_in_setgid_directory_of_another_group(
    kernel: Kernel, tmp: Path, in_child, drop_privileges, mode: int, expected: int
) -> None:
    d = _setgid_dir(kernel, tmp / "d", 0)  # root's group, which nobody is not in
    dirfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)

    def run() -> tuple[int, int]:
        drop_privileges()
        kernel.umask(0)
        fd = kernel.openat(dirfd, b"f", kernel.O_CREAT | kernel.O_WRONLY, mode).unwrap()
        return _stat(kernel, fd)

    try:
        assert in_child(run) == (expected, 0)
    finally:
        os.close(dirfd)


@pytest.mark.os("linux")
@pytest.mark.root
def test_openat_tmpfile_in_setgid_directory_of_another_group(
    kernel: Kernel, tmp: Path, in_child, drop_privileges
) -> None:
    # LTP openat04: umask S_IXGRP, mode S_ISGID|0777: the set-group-ID bit is judged on
    # the mode asked for (it has group-execute), before the umask takes that away.
    d = _setgid_dir(kernel, tmp / "d", 0)
    dirfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)

    def run() -> tuple[int, int]:
        drop_privileges()
        kernel.umask(0o010)
        fd = _tmpfile(kernel, dirfd, 0o2777).unwrap()
        _link_tmpfile(kernel, fd, dirfd, b"named")
        return _stat(kernel, fd)

    try:
        assert in_child(run) == (0o767, 0)
    finally:
        os.close(dirfd)


@pytest.mark.root
def test_openat_root_keeps_setgid_in_directory_of_another_group(
    kernel: Kernel, tmp: Path, fds
) -> None:
    d = _setgid_dir(kernel, tmp / "d", NOBODY)
    fd = fds.open(d / "f", kernel.O_CREAT | kernel.O_WRONLY, 0o2755)  # CAP_FSETID
    assert _stat(kernel, fd) == (0o2755 & ~_umask(kernel), NOBODY)


@AS_MEMBER
def test_openat_member_keeps_setgid_in_setgid_directory(kernel: Kernel, tmp: Path, fds) -> None:
    d = _setgid_dir(kernel, tmp / "d", os.getegid())  # the caller's own group
    fd = fds.open(d / "f", kernel.O_CREAT | kernel.O_WRONLY, 0o2755)
    assert _stat(kernel, fd) == (0o2755 & ~_umask(kernel), os.getegid())


# --- O_TMPFILE: unnamed files (LTP open14) ---


@pytest.mark.os("linux")
def test_openat_tmpfiles_are_distinct_unlinked_and_unlisted(kernel: Kernel, tmp: Path, fds) -> None:
    held = [fds(_tmpfile(kernel, tmp)) for _ in range(8)]
    inodes = set()
    for fd in held:
        st = kernel.new("struct stat *")
        kernel.fstat(fd, st).unwrap()
        assert st.st_nlink == 0
        inodes.add(st.st_ino)
    assert len(inodes) == len(held)
    assert list(tmp.iterdir()) == []


@pytest.mark.os("linux")
def test_openat_linking_one_tmpfile_names_only_that_one(kernel: Kernel, tmp: Path, fds) -> None:
    held = [fds(_tmpfile(kernel, tmp)) for _ in range(4)]
    dirfd = fds.open(tmp, kernel.O_RDONLY | kernel.O_DIRECTORY)
    kernel.write(held[2], b"kept", 4).unwrap()
    _link_tmpfile(kernel, held[2], dirfd, b"named")
    for fd in held:
        fds.close(fd).unwrap()
    assert [p.name for p in tmp.iterdir()] == ["named"]
    assert (tmp / "named").read_bytes() == b"kept"


@pytest.mark.os("linux")
def test_openat_tmpfile_outlives_its_removed_directory(kernel: Kernel, tmp: Path, fds) -> None:
    held = []
    for i in range(4):
        (tmp / f"d{i}").mkdir()
        held.append(fds(_tmpfile(kernel, tmp / f"d{i}")))
    for i in range(4):
        kernel.unlinkat(kernel.AT_FDCWD, tmp / f"d{i}", kernel.AT_REMOVEDIR).unwrap()  # empty
    for i, fd in enumerate(held):
        data = bytes([i]) * 1024
        assert kernel.pwrite64(fd, data, len(data), 0).unwrap() == len(data)
        buf = kernel.buf(len(data))
        assert kernel.pread64(fd, buf, len(data), 0).unwrap() == len(data)
        assert kernel.bytes(buf, len(data)) == data


@pytest.mark.os("linux")
@pytest.mark.parametrize("mode", [0o000, 0o001, 0o440, 0o644, 0o755], ids=lambda v: f"{v:04o}")
def test_openat_linked_tmpfile_has_the_mode_asked_for(
    kernel: Kernel, tmp: Path, fds, mode: int
) -> None:
    fd = fds(_tmpfile(kernel, tmp, mode))
    dirfd = fds.open(tmp, kernel.O_RDONLY | kernel.O_DIRECTORY)
    _link_tmpfile(kernel, fd, dirfd, b"named")
    st = kernel.new("struct stat *")
    kernel.fstatat(kernel.AT_FDCWD, tmp / "named", st, 0).unwrap()
    assert st.st_mode & 0o7777 == mode & ~_umask(kernel)


# O_TMPFILE is __O_TMPFILE|O_DIRECTORY; with O_CREAT, without O_DIRECTORY or without
# write access it is refused (fs/open.c build_open_flags).
@pytest.mark.os("linux")
@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ("O_TMPFILE|O_RDWR|O_CREAT", "EINVAL"),
        ("O_TMPFILE&~O_DIRECTORY|O_RDWR", "EINVAL"),
        ("O_TMPFILE|O_RDONLY", "EINVAL"),
        ("O_TMPFILE|O_WRONLY", "ok"),
    ],
)
def test_openat_tmpfile_flag_combinations(
    kernel: Kernel, tmp: Path, fds, bits, flags: str, expected: str
) -> None:
    r = kernel.openat(kernel.AT_FDCWD, tmp, bits(flags), 0o600)
    if r.ok:
        fds(r)
    assert r.outcome == expected


@pytest.mark.os("linux")
@pytest.mark.parametrize(("name", "expected"), [("file", "ENOTDIR"), ("missing", "ENOENT")])
def test_openat_tmpfile_needs_an_existing_directory(
    kernel: Kernel, tmp: Path, name: str, expected: str
) -> None:
    (tmp / "file").write_bytes(b"")
    r = kernel.openat(kernel.AT_FDCWD, tmp / name, kernel.O_TMPFILE | kernel.O_RDWR, 0o600)
    assert r.outcome == expected


# fs.protected_regular and fs.protected_fifos (fs/namei.c may_create_in_sticky): an
# O_CREAT open of an existing file or FIFO in a sticky, world-writable directory is
# EACCES when the file is neither the opener's nor the directory owner's, whatever its
# mode allows (root too: no capability lets it through). Without O_CREAT it opens.
# Root makes the directory (its own, 01777) and uid 1234's object (mode 0666); a child
# become nobody opens it.
@pytest.mark.os("linux")
@pytest.mark.root
@pytest.mark.disposable  # the machine-wide fs.protected_* setting is changed for it
@pytest.mark.parametrize("kind", ["regular", "fifo"])
def test_openat_creat_of_another_users_file_in_a_sticky_directory_is_eacces_when_protected(
    kernel: Kernel, tmp: Path, in_child, drop_privileges, fs_setting, kind: str
) -> None:
    fs_setting("protected_regular" if kind == "regular" else "protected_fifos", 1)
    d = tmp / "d"
    d.mkdir()
    d.chmod(0o1777)
    tmp.chmod(0o755)  # nobody may reach it
    if kind == "regular":
        (d / "f").write_bytes(b"")
    else:
        os.mkfifo(d / "f")
    os.chown(d / "f", 1234, 1234)
    (d / "f").chmod(0o666)
    other = kernel.O_NONBLOCK  # a FIFO without a reader: read-side opens do not wait

    def run() -> tuple[str, str]:
        drop_privileges()
        creat = kernel.openat(kernel.AT_FDCWD, d / "f", kernel.O_CREAT | kernel.O_RDONLY | other)
        plain = kernel.openat(kernel.AT_FDCWD, d / "f", kernel.O_RDONLY | other)
        return creat.outcome, plain.outcome

    assert in_child(run) == ("EACCES", "ok")
