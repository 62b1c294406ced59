"""mknodat(2): on Linux FIFOs and regular files for anyone, devices only with CAP_MKNOD;
S_IFDIR is EPERM (use mkdir). NetBSD's mknod is root's alone (below). A FIFO opened
O_WRONLY|O_NONBLOCK without a reader is ENXIO (fifo(7), POSIX open()).
"""

import os
from pathlib import Path

import pytest

from syscalls.expect import ByOS
from syscalls.fds import make_fifo
from syscalls.kernel import Kernel

AS_USER = pytest.mark.as_user("root may create device nodes (CAP_MKNOD)")


ROOT = os.geteuid() == 0
# NetBSD's mknod is for privileged callers only, whatever the type: KAUTH_SYSTEM_MKNOD is
# checked first (EPERM for a user), then an existing name (EEXIST), then the type: a
# FIFO comes from mkfifo, a directory from mkdir (EINVAL), while S_IFREG makes a file
# (sys/kern/vfs_syscalls.c, do_sys_mknodat).
MKNOD_FIFO = ByOS(default="ok", netbsd="EINVAL" if ROOT else "EPERM")
MKNOD_REGULAR = ByOS(default="ok", netbsd="ok" if ROOT else "EPERM")
MKNOD_EXISTING = ByOS(default="EEXIST", netbsd="EEXIST" if ROOT else "EPERM")
MKNOD_DIRECTORY = ByOS(default="EPERM", netbsd="EINVAL" if ROOT else "EPERM")


def _type(kernel: Kernel, path: Path) -> int:
    st = kernel.new("struct stat *")
    kernel.fstatat(kernel.AT_FDCWD, path, st, 0).unwrap()
    return st.st_mode & kernel.S_IFMT


def test_mknodat_fifo_creates_a_fifo(kernel: Kernel, tmp: Path) -> None:
    r = kernel.mknodat(kernel.AT_FDCWD, tmp / "fifo", kernel.S_IFIFO | 0o600, 0)
    assert r.outcome == MKNOD_FIFO[kernel.platform.os]
    assert (tmp / "fifo").exists() == r.ok
    if r.ok:
        assert _type(kernel, tmp / "fifo") == kernel.S_IFIFO


def test_mknodat_regular_creates_an_empty_file(kernel: Kernel, tmp: Path) -> None:
    r = kernel.mknodat(kernel.AT_FDCWD, tmp / "f", kernel.S_IFREG | 0o600, 0)
    assert r.outcome == MKNOD_REGULAR[kernel.platform.os]
    assert (tmp / "f").exists() == r.ok
    if r.ok:
        assert _type(kernel, tmp / "f") == kernel.S_IFREG
        assert (tmp / "f").stat().st_size == 0


def test_mknodat_existing_name_is_eexist(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    r = kernel.mknodat(kernel.AT_FDCWD, tmp / "f", kernel.S_IFIFO | 0o600, 0)
    assert r.errno == MKNOD_EXISTING[kernel.platform.os]


def test_mknodat_directory_type_is_eperm(kernel: Kernel, tmp: Path) -> None:
    r = kernel.mknodat(kernel.AT_FDCWD, tmp / "d", kernel.S_IFDIR | 0o700, 0)
    assert r.errno == MKNOD_DIRECTORY[kernel.platform.os]
    assert not (tmp / "d").exists()


@AS_USER
def test_mknodat_char_device_without_privilege_is_eperm(kernel: Kernel, tmp: Path) -> None:
    dev = os.makedev(1, 3)  # /dev/null's numbers
    r = kernel.mknodat(kernel.AT_FDCWD, tmp / "null", kernel.S_IFCHR | 0o600, dev)
    assert r.errno == "EPERM"


@pytest.mark.os("linux")  # not run on NetBSD here: the rump kernel opens no FIFO
def test_fifo_write_open_without_reader_is_enxio_read_open_succeeds(
    kernel: Kernel, tmp: Path, fds
) -> None:
    make_fifo(kernel, tmp / "fifo")
    nb = kernel.O_NONBLOCK
    w = kernel.openat(kernel.AT_FDCWD, tmp / "fifo", kernel.O_WRONLY | nb)
    assert w.errno == "ENXIO"
    fds.open(tmp / "fifo", kernel.O_RDONLY | nb)
    fds.open(tmp / "fifo", kernel.O_WRONLY | nb)  # with a reader present it opens


# A trailing slash asks for a directory, which mknod does not make: ENOENT (fs/namei.c
# filename_create), and nothing is created.
@pytest.mark.os("linux")
def test_mknodat_with_a_trailing_slash_is_enoent(kernel: Kernel, tmp: Path) -> None:
    r = kernel.mknodat(kernel.AT_FDCWD, f"{tmp}/fifo/", kernel.S_IFIFO | 0o600, 0)
    assert r.errno == "ENOENT"
    assert not (tmp / "fifo").exists()
