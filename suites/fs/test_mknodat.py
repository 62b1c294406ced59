"""mknodat(2): FIFOs and regular files for anyone, devices only with CAP_MKNOD.

Linux: S_IFDIR is EPERM (use mkdir), and a FIFO opened O_WRONLY|O_NONBLOCK without a
reader is ENXIO (fifo(7)).
"""

import os
from pathlib import Path

import pytest

from syscalls.expect import ByOS
from syscalls.kernel import Kernel

NOT_ROOT = pytest.mark.skipif(
    os.geteuid() == 0, reason="root may create device nodes (CAP_MKNOD); run as a user"
)


# NetBSD's mknod makes device nodes only; FIFOs come from mkfifo (sys/kern/vfs_syscalls.c,
# do_sys_mknodat: any other type is EINVAL).
MKNOD_FIFO = ByOS(default="ok", netbsd="EINVAL")


def _type(kernel: Kernel, path: Path) -> int:
    st = kernel.new("struct stat *")
    kernel.fstatat(kernel.AT_FDCWD, path, st, 0).unwrap()
    return st.st_mode & kernel.S_IFMT


def test_mknodat_fifo_creates_a_fifo(kernel: Kernel, tmp: Path) -> None:
    r = kernel.mknodat(kernel.AT_FDCWD, tmp / "fifo", kernel.S_IFIFO | 0o600, 0)
    assert r.outcome == MKNOD_FIFO[kernel.platform.os]
    if r.ok:
        assert _type(kernel, tmp / "fifo") == kernel.S_IFIFO


@pytest.mark.os("linux")
def test_mknodat_regular_creates_an_empty_file(kernel: Kernel, tmp: Path) -> None:
    kernel.mknodat(kernel.AT_FDCWD, tmp / "f", kernel.S_IFREG | 0o600, 0).unwrap()
    assert _type(kernel, tmp / "f") == kernel.S_IFREG
    assert (tmp / "f").stat().st_size == 0


def test_mknodat_existing_name_is_eexist(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    r = kernel.mknodat(kernel.AT_FDCWD, tmp / "f", kernel.S_IFIFO | 0o600, 0)
    assert r.errno == "EEXIST"


@pytest.mark.os("linux")
def test_mknodat_directory_type_is_eperm(kernel: Kernel, tmp: Path) -> None:
    r = kernel.mknodat(kernel.AT_FDCWD, tmp / "d", kernel.S_IFDIR | 0o700, 0)
    assert r.errno == "EPERM"


@NOT_ROOT
def test_mknodat_char_device_without_privilege_is_eperm(kernel: Kernel, tmp: Path) -> None:
    dev = os.makedev(1, 3)  # /dev/null's numbers
    r = kernel.mknodat(kernel.AT_FDCWD, tmp / "null", kernel.S_IFCHR | 0o600, dev)
    assert r.errno == "EPERM"


@pytest.mark.os("linux")
def test_fifo_write_open_without_reader_is_enxio_read_open_succeeds(
    kernel: Kernel, tmp: Path, fds
) -> None:
    kernel.mknodat(kernel.AT_FDCWD, tmp / "fifo", kernel.S_IFIFO | 0o600, 0).unwrap()
    nb = kernel.O_NONBLOCK
    w = kernel.openat(kernel.AT_FDCWD, tmp / "fifo", kernel.O_WRONLY | nb)
    assert w.errno == "ENXIO"
    fds.open(tmp / "fifo", kernel.O_RDONLY | nb)
    fds.open(tmp / "fifo", kernel.O_WRONLY | nb)  # with a reader present it opens
