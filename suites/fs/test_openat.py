"""openat(2): creating, opening and refusing files, by flag.

Linux-only flags (O_TMPFILE, O_PATH) are marked; permission tests need a non-root
user, since root's CAP_DAC_OVERRIDE bypasses mode bits.
"""

import os
import socket
from pathlib import Path

import pytest

from syscalls.expect import ByOS
from syscalls.fds import make_fifo
from syscalls.kernel import Kernel

AS_USER = pytest.mark.as_user("root bypasses mode bits (CAP_DAC_OVERRIDE)")


BAD_ADDRESS = 8  # inside the never-mapped first page: copy from user faults

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


@AS_USER
def test_openat_without_permission_is_eacces(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    (tmp / "f").chmod(0o200)
    r = kernel.openat(kernel.AT_FDCWD, tmp / "f", kernel.O_RDONLY)
    assert r.errno == "EACCES"


@AS_USER
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


# A trailing slash demands a directory (fs/namei.c): a non-directory is ENOTDIR, and
# with O_CREAT, which can only make a regular file, open_last_lookups answers EISDIR
# before looking at what is there. NetBSD looks first: an existing non-directory is
# ENOTDIR (sys/kern/vfs_lookup.c, namei_oneroot), a missing name that would not be a
# directory ENOENT (lookup_once: REQUIREDIR without CREATEDIR); its other answers are
# Linux's.
NETBSD_TRAILING_SLASH = {
    ("file", "O_CREAT|O_WRONLY"): "ENOTDIR",
    ("missing", "O_CREAT|O_WRONLY"): "ENOENT",
}
TRAILING_SLASH = [
    ("file", "O_RDONLY", "ENOTDIR"),
    ("file", "O_WRONLY", "ENOTDIR"),
    ("symlink_to_file", "O_RDONLY", "ENOTDIR"),
    ("file", "O_CREAT|O_WRONLY", "EISDIR"),
    ("missing", "O_CREAT|O_WRONLY", "EISDIR"),
    ("missing", "O_RDONLY", "ENOENT"),
    ("directory", "O_CREAT|O_WRONLY", "EISDIR"),
    ("directory", "O_RDONLY", "ok"),
    ("symlink_to_directory", "O_RDONLY", "ok"),
]


def _names(tmp: Path) -> None:
    """file, directory and symlinks to each under tmp (missing stays missing)."""
    (tmp / "file").write_bytes(b"x")
    (tmp / "directory").mkdir()
    (tmp / "symlink_to_file").symlink_to("file")
    (tmp / "symlink_to_directory").symlink_to("directory")


@pytest.mark.parametrize(("name", "flags", "expected"), TRAILING_SLASH)
def test_openat_with_trailing_slash(
    kernel: Kernel, tmp: Path, fds, bits, name: str, flags: str, expected: str
) -> None:
    _names(tmp)
    r = kernel.openat(kernel.AT_FDCWD, f"{tmp}/{name}/", bits(flags), 0o600)
    if r.ok:
        fds(r)
    netbsd = NETBSD_TRAILING_SLASH.get((name, flags), expected)
    assert r.outcome == ByOS(default=expected, netbsd=netbsd)[kernel.platform.os]
    assert not (tmp / "missing").exists()


def test_openat_empty_path_is_enoent(kernel: Kernel) -> None:
    assert kernel.openat(kernel.AT_FDCWD, b"", kernel.O_RDONLY).errno == "ENOENT"


@pytest.mark.requires("fault_handler")
@pytest.mark.parametrize("address", [None, BAD_ADDRESS], ids=["null", "unmapped"])
def test_openat_path_at_bad_address_is_efault(kernel: Kernel, address: int | None) -> None:
    assert kernel.openat(kernel.AT_FDCWD, address, kernel.O_RDONLY).errno == "EFAULT"


@pytest.mark.requires("fault_handler")
@pytest.mark.parametrize("beyond", ["PROT_NONE", "unmapped"])
@pytest.mark.parametrize(("terminated", "expected"), [(True, "ok"), (False, "EFAULT")])
def test_openat_path_running_into_a_faulting_page(
    kernel: Kernel, tmp: Path, fds, guarded, beyond: str, terminated: bool, expected: str
) -> None:
    (tmp / "f").write_bytes(b"")
    g = guarded(beyond)
    # The name's last byte is the last readable one: with its NUL it opens; without, the
    # kernel's strncpy_from_user reads on into the faulting page.
    path = os.fsencode(tmp / "f") + (b"\0" if terminated else b"")
    r = kernel.openat(kernel.AT_FDCWD, g.ending_at_edge(path), kernel.O_RDONLY)
    if r.ok:
        fds(r)
    assert r.outcome == expected


# O_DIRECT needs the file's address space to do direct I/O; a directory's has none
# (fs/open.c do_dentry_open; fcntl's setfl checks the same).
@pytest.mark.os("linux")
@pytest.mark.parametrize("where", ["tmp", "disk_tmp"])
@pytest.mark.parametrize("flags", ["O_RDONLY|O_DIRECT", "O_RDONLY|O_DIRECT|O_DIRECTORY"])
def test_openat_direct_on_directory_is_einval(
    kernel: Kernel, request, bits, where: str, flags: str
) -> None:
    directory = request.getfixturevalue(where)
    assert kernel.openat(kernel.AT_FDCWD, directory, bits(flags)).errno == "EINVAL"


@pytest.mark.os("linux")
def test_fcntl_setfl_direct_on_directory_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.open(tmp, kernel.O_RDONLY | kernel.O_DIRECTORY)
    assert kernel.fcntl(fd, kernel.F_SETFL, kernel.O_DIRECT).errno == "EINVAL"


@pytest.mark.os("linux")
def test_openat_path_ignores_direct_on_directory(kernel: Kernel, tmp: Path, fds) -> None:
    fds.open(tmp, kernel.O_PATH | kernel.O_DIRECT)


# Access mode 3 (O_WRONLY|O_RDWR): Linux opens it, checking read and write permission,
# for ioctl-only use: the descriptor can neither read nor write (open(2), NOTES).
ACCMODE_3 = 3


@pytest.mark.os("linux")
def test_openat_access_mode_3_reports_itself_in_getfl(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"data", ACCMODE_3)
    assert kernel.fcntl(fd, kernel.F_GETFL, 0).unwrap() & kernel.O_ACCMODE == ACCMODE_3


@pytest.mark.os("linux")
@pytest.mark.parametrize("op", ["read", "write"])
def test_openat_access_mode_3_can_neither_read_nor_write(
    kernel: Kernel, tmp: Path, fds, op: str
) -> None:
    fd = fds.file(tmp / "f", b"data", ACCMODE_3)
    assert getattr(kernel, op)(fd, kernel.buf(4), 4).errno == "EBADF"
    assert (tmp / "f").read_bytes() == b"data"


@pytest.mark.os("linux")
def test_openat_access_mode_3_on_directory_is_eisdir(kernel: Kernel, tmp: Path) -> None:
    assert kernel.openat(kernel.AT_FDCWD, tmp, ACCMODE_3).errno == "EISDIR"


@pytest.mark.os("linux")
def test_openat_access_mode_3_fd_cannot_be_mapped(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"data", ACCMODE_3)
    flags = kernel.MAP_PRIVATE
    assert kernel.mmap(0, 4096, kernel.PROT_READ, flags, fd, 0).errno == "EACCES"


@AS_USER
@pytest.mark.os("linux")
@pytest.mark.parametrize("mode", [0o400, 0o200], ids=["read-only", "write-only"])
def test_openat_access_mode_3_needs_read_and_write_permission(
    kernel: Kernel, tmp: Path, mode: int
) -> None:
    (tmp / "f").write_bytes(b"")
    (tmp / "f").chmod(mode)
    assert kernel.openat(kernel.AT_FDCWD, tmp / "f", ACCMODE_3).errno == "EACCES"


# O_TRUNC with O_RDONLY is unspecified by POSIX; Linux truncates when the caller may
# write the file (open(2), gVisor's open.cc says the same of Linux); so does NetBSD
# (sys/kern/vfs_vnops.c, vn_open: O_TRUNC asks vn_openchk for VWRITE, then sets size 0).
def test_openat_trunc_with_read_only_access_truncates(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"some data", kernel.O_RDONLY | kernel.O_TRUNC)
    st = kernel.new("struct stat *")
    kernel.fstat(fd, st).unwrap()
    assert st.st_size == 0
    assert kernel.write(fd, b"x", 1).errno == "EBADF"  # still a read-only descriptor


@AS_USER
def test_openat_trunc_read_only_without_write_permission_is_eacces(
    kernel: Kernel, tmp: Path
) -> None:
    (tmp / "f").write_bytes(b"kept")
    (tmp / "f").chmod(0o400)
    r = kernel.openat(kernel.AT_FDCWD, tmp / "f", kernel.O_RDONLY | kernel.O_TRUNC)
    assert r.errno == "EACCES"
    assert (tmp / "f").read_bytes() == b"kept"


@pytest.mark.parametrize("flags", ["O_RDONLY|O_TRUNC", "O_RDONLY|O_TRUNC|O_CREAT"])
def test_openat_trunc_on_directory_is_eisdir(kernel: Kernel, tmp: Path, bits, flags: str) -> None:
    assert kernel.openat(kernel.AT_FDCWD, tmp, bits(flags), 0o600).errno == "EISDIR"


@pytest.mark.os("linux")
@pytest.mark.parametrize("what", ["fifo", "/dev/null"])
def test_openat_trunc_on_fifo_or_device_is_ignored(
    kernel: Kernel, tmp: Path, fds, what: str
) -> None:
    if what == "fifo":
        make_fifo(kernel, tmp / "fifo")
    path = tmp / "fifo" if what == "fifo" else Path(what)
    fd = fds.open(path, kernel.O_RDWR | kernel.O_TRUNC)
    assert kernel.write(fd, b"x", 1).unwrap() == 1


# fs/namei.c: one path walk follows at most MAXSYMLINKS (40) symlinks, counted across
# the whole walk: the last component's chain and those met as directories alike; so does
# NetBSD, with its own MAXSYMLINKS, 32 (sys/kern/vfs_lookup.c, namei_follow).
@pytest.mark.parametrize("count", ["one", "limit", "limit+1", "limit+20"])
@pytest.mark.parametrize("place", ["last", "directories"])
def test_openat_follows_at_most_maxsymlinks(
    kernel: Kernel, tmp: Path, fds, count: str, place: str
) -> None:
    limit = kernel.MAXSYMLINKS
    n = {"one": 1, "limit": limit, "limit+1": limit + 1, "limit+20": limit + 20}[count]
    target = "dir" if place == "directories" else "file"
    (tmp / "dir").mkdir()
    (tmp / "dir" / "file").write_bytes(b"")
    (tmp / "file").write_bytes(b"")
    previous = target
    for i in range(n):  # link{i} -> link{i-1} -> ... -> target
        (tmp / f"link{i}").symlink_to(previous)
        previous = f"link{i}"
    path = tmp / previous / "file" if place == "directories" else tmp / previous
    r = kernel.openat(kernel.AT_FDCWD, path, kernel.O_RDONLY)
    if r.ok:
        fds(r)
    assert r.outcome == ("ok" if n <= kernel.MAXSYMLINKS else "ELOOP")


# RLIMIT_NOFILE bounds the descriptor number a new descriptor may take, not how many are
# open (fs/file.c, alloc_fd). Limits are lowered only inside a child.
def _lowest_free_fd() -> int:
    fd = os.dup(0)
    os.close(fd)
    return fd


def _set_nofile(kernel: Kernel, soft: int) -> None:
    rl = kernel.new("struct rlimit *")
    kernel.getrlimit(kernel.RLIMIT_NOFILE, rl).unwrap()
    rl.rlim_cur = soft
    kernel.setrlimit(kernel.RLIMIT_NOFILE, rl).unwrap()


@pytest.mark.parametrize("flags", ["O_RDONLY", "O_CREAT"])
def test_openat_at_rlimit_nofile_is_emfile_and_creates_nothing(
    kernel: Kernel, tmp: Path, in_child, flags: str
) -> None:
    (tmp / "existing").write_bytes(b"")
    name = "existing" if flags == "O_RDONLY" else "created"

    def run() -> str:
        _set_nofile(kernel, _lowest_free_fd())
        fl = getattr(kernel, flags) | kernel.O_RDONLY
        return kernel.openat(kernel.AT_FDCWD, tmp / name, fl, 0o600).outcome

    assert in_child(run) == "EMFILE"
    assert sorted(p.name for p in tmp.iterdir()) == ["existing"]


def test_openat_below_a_lowered_nofile_limit_reuses_a_free_number(
    kernel: Kernel, tmp: Path, in_child
) -> None:
    (tmp / "f").write_bytes(b"abc")

    def run() -> tuple[int, int, str, int]:
        low = _lowest_free_fd()
        high = os.dup2(0, low + 64)  # a descriptor above the limit about to be set
        _set_nofile(kernel, low + 1)
        fd = kernel.openat(kernel.AT_FDCWD, tmp / "f", kernel.O_RDONLY).unwrap()
        again = kernel.openat(kernel.AT_FDCWD, tmp / "f", kernel.O_RDONLY).outcome
        still_open = kernel.fcntl(high, kernel.F_GETFD, 0).outcome
        return fd, low, again, still_open

    fd, low, again, still_open = in_child(run)
    assert fd == low
    assert again == "EMFILE"
    assert still_open == "ok"  # the descriptor above the limit keeps working


# FIFOs (fifo(7)): a non-blocking open for writing needs a reader, now; one for reading
# needs nothing; O_RDWR is its own reader on Linux. A socket file cannot be opened.
@pytest.mark.os("linux")
def test_openat_fifo_write_nonblock_after_the_reader_closed_is_enxio(
    kernel: Kernel, tmp: Path, fds
) -> None:
    make_fifo(kernel, tmp / "fifo")
    nb = kernel.O_NONBLOCK
    reader = fds.open(tmp / "fifo", kernel.O_RDONLY | nb)
    fds.close(fds.open(tmp / "fifo", kernel.O_WRONLY | nb))
    fds.close(reader)
    assert kernel.openat(kernel.AT_FDCWD, tmp / "fifo", kernel.O_WRONLY | nb).errno == "ENXIO"


@pytest.mark.os("linux")
@pytest.mark.parametrize("access", ["O_RDONLY", "O_RDWR"])
def test_openat_fifo_nonblock_without_peer_opens(
    kernel: Kernel, tmp: Path, fds, access: str
) -> None:
    make_fifo(kernel, tmp / "fifo")
    fds.open(tmp / "fifo", getattr(kernel, access) | kernel.O_NONBLOCK)


@pytest.mark.os("linux")
def test_openat_unix_socket_file_is_enxio(kernel: Kernel, tmp: Path) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(str(tmp / "sock"))
    assert kernel.openat(kernel.AT_FDCWD, tmp / "sock", kernel.O_RDONLY).errno == "ENXIO"


# O_NOATIME (open(2)): only the file's owner or a holder of CAP_FOWNER may set it, at
# open or with F_SETFL (fs/namei.c may_open; fs/fcntl.c setfl).
@pytest.mark.os("linux")
@pytest.mark.parametrize("how", ["openat", "setfl"])
def test_noatime_on_a_file_of_another_user_is_eperm(
    kernel: Kernel, in_child, drop_privileges, anothers_file, how: str
) -> None:
    def run() -> str:
        drop_privileges()
        theirs = anothers_file()  # not "/": a VM's 9p share of it may show it as ours
        if how == "openat":
            return kernel.openat(
                kernel.AT_FDCWD, theirs, kernel.O_RDONLY | kernel.O_NOATIME
            ).outcome
        fd = kernel.openat(kernel.AT_FDCWD, theirs, kernel.O_RDONLY).unwrap()
        return kernel.fcntl(fd, kernel.F_SETFL, kernel.O_NOATIME).outcome

    assert in_child(run) == "EPERM"


@pytest.mark.root
@pytest.mark.os("linux")
def test_openat_noatime_as_root_on_a_file_of_another_user_is_allowed(
    kernel: Kernel, tmp: Path, fds
) -> None:
    (tmp / "f").write_bytes(b"")
    os.chown(tmp / "f", 65534, 65534)
    fd = fds.open(tmp / "f", kernel.O_RDONLY | kernel.O_NOATIME)
    assert kernel.fcntl(fd, kernel.F_GETFL, 0).unwrap() & kernel.O_NOATIME


@pytest.mark.os("linux")
@pytest.mark.parametrize(
    ("flags", "atime_kept"), [("O_RDONLY|O_NOATIME", True), ("O_RDONLY", False)]
)
def test_openat_noatime_read_leaves_atime(
    kernel: Kernel, tmp: Path, fds, bits, flags: str, atime_kept: bool
) -> None:
    if os.statvfs(tmp).f_flag & os.ST_NOATIME:
        pytest.skip(f"{tmp} is mounted noatime: no read updates atime")
    (tmp / "f").write_bytes(b"data")
    # atime well before mtime: even relatime updates it on the next read.
    times = kernel.new("struct timespec[2]", [(1, 0), (0, kernel.UTIME_OMIT)])
    kernel.utimensat(kernel.AT_FDCWD, tmp / "f", times, 0).unwrap()
    fd = fds.open(tmp / "f", bits(flags))
    assert kernel.read(fd, kernel.buf(4), 4).unwrap() == 4
    st = kernel.new("struct stat *")
    kernel.fstat(fd, st).unwrap()
    assert (st.st_atime == 1) == atime_kept


# Linux since 6.4 (fs/open.c, build_open_flags); NetBSD always (sys/kern/vfs_vnops.c,
# vn_open).
@pytest.mark.min_kernel("6.4")
def test_openat_creat_with_directory_is_einval_and_creates_nothing(
    kernel: Kernel, tmp: Path
) -> None:
    flags = kernel.O_RDONLY | kernel.O_CREAT | kernel.O_DIRECTORY
    assert kernel.openat(kernel.AT_FDCWD, tmp / "new", flags, 0o700).errno == "EINVAL"
    assert not (tmp / "new").exists()


# open/openat mask unknown flag bits away (fs/open.c build_open_how: flags &
# VALID_OPEN_FLAGS), where openat2 refuses them.
@pytest.mark.os("linux")
def test_openat_ignores_unknown_flag_bits(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "f").write_bytes(b"data")
    fd = fds.open(tmp / "f", kernel.O_RDONLY | 0x40000000)
    buf = kernel.buf(8)
    assert kernel.bytes(buf, kernel.read(fd, buf, 8).unwrap()) == b"data"
    assert not kernel.fcntl(fd, kernel.F_GETFL, 0).unwrap() & 0x40000000


# O_PATH beats everything else: openat keeps only O_DIRECTORY, O_NOFOLLOW and O_CLOEXEC
# beside it (fs/open.c build_open_how), so O_TRUNC truncates nothing and O_CREAT creates
# nothing.
@pytest.mark.os("linux")
def test_openat_path_drops_trunc_and_creat(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "f").write_bytes(b"data")
    fds.open(tmp / "f", kernel.O_PATH | kernel.O_WRONLY | kernel.O_TRUNC)
    assert (tmp / "f").read_bytes() == b"data"
    flags = kernel.O_PATH | kernel.O_CREAT | kernel.O_WRONLY
    assert kernel.openat(kernel.AT_FDCWD, tmp / "new", flags, 0o600).errno == "ENOENT"
    assert not (tmp / "new").exists()


# The longest path taken is PATH_MAX - 1 bytes, the NUL making PATH_MAX (fs/namei.c
# getname_flags); one byte more is ENAMETOOLONG. Extra slashes pad the path.
@pytest.mark.os("linux")
def test_openat_path_of_path_max_minus_one_bytes_opens(kernel: Kernel, tmp: Path, fds) -> None:
    name = str(tmp).encode()
    padded = b"/" * (kernel.PATH_MAX - 1 - len(name)) + name
    fds.open(padded, kernel.O_RDONLY | kernel.O_DIRECTORY)
    assert kernel.openat(kernel.AT_FDCWD, b"/" + padded, kernel.O_RDONLY).errno == "ENAMETOOLONG"


# A name of NAME_MAX (255) bytes is taken, 256 is not (the other test).
def test_openat_creates_a_name_of_name_max_bytes(kernel: Kernel, tmp: Path, fds) -> None:
    fds.open(tmp / ("x" * 255), kernel.O_CREAT | kernel.O_WRONLY)
    assert (tmp / ("x" * 255)).exists()


# An append-only file (FS_APPEND_FL) opens for writing only with O_APPEND, and never
# with O_TRUNC: EPERM (fs/namei.c may_open: IS_APPEND). Root sets the flag.
@pytest.mark.os("linux")
@pytest.mark.root
def test_openat_append_only_file_for_writing_needs_o_append(
    kernel: Kernel, tmp: Path, fds, inode_flags
) -> None:
    (tmp / "f").write_bytes(b"data")
    inode_flags(tmp / "f", "append")
    assert kernel.openat(kernel.AT_FDCWD, tmp / "f", kernel.O_WRONLY).errno == "EPERM"
    trunc = kernel.O_WRONLY | kernel.O_APPEND | kernel.O_TRUNC
    assert kernel.openat(kernel.AT_FDCWD, tmp / "f", trunc).errno == "EPERM"
    fd = fds.open(tmp / "f", kernel.O_WRONLY | kernel.O_APPEND)
    kernel.write(fd, b"+", 1).unwrap()
    assert (tmp / "f").read_bytes() == b"data+"


# An immutable file (FS_IMMUTABLE_FL) opens for reading only (fs/namei.c
# inode_permission: MAY_WRITE on IS_IMMUTABLE), root too.
@pytest.mark.os("linux")
@pytest.mark.root
def test_openat_immutable_file_for_writing_is_eperm(
    kernel: Kernel, tmp: Path, fds, inode_flags
) -> None:
    (tmp / "f").write_bytes(b"data")
    inode_flags(tmp / "f", "immutable")
    assert kernel.openat(kernel.AT_FDCWD, tmp / "f", kernel.O_RDWR).errno == "EPERM"
    fds.open(tmp / "f", kernel.O_RDONLY)
