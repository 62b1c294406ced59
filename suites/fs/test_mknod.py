"""mknod(2), the legacy number: FIFOs, sockets and regular files for anyone; character
and block devices only with CAP_MKNOD in the initial user namespace (fs/namei.c
vfs_mknod: capable(), not ns_capable(): root in a user namespace is still refused).
mknodat's own tests are in test_mknodat.py; the generic syscall table (arm64, riscv64)
has no mknod, and these tests skip there. NetBSD's (__mknod50) is root's alone.
"""

import os
import stat
from pathlib import Path

import pytest

from syscalls import namespaces
from syscalls.expect import ByOS
from syscalls.kernel import Kernel

AS_USER = pytest.mark.as_user("root may create device nodes (CAP_MKNOD)")
NULL_DEV = os.makedev(1, 3)  # /dev/null's numbers

ROOT = os.geteuid() == 0
# NetBSD's mknod is root's alone, whatever the type: KAUTH_SYSTEM_MKNOD is checked first
# (EPERM for a user), then the path (ENOENT, EEXIST), then the type: devices, S_IFREG
# and S_IFMT are made, any other type (a FIFO: mkfifo; none at all) is EINVAL
# (sys/kern/vfs_syscalls.c, do_sys_mknodat).
MADE_BY_ANYONE = ByOS(default="ok", netbsd="EINVAL" if ROOT else "EPERM")  # FIFO, socket
REGULAR = ByOS(default="ok", netbsd="ok" if ROOT else "EPERM")
EXISTING = ByOS(default="EEXIST", netbsd="EEXIST" if ROOT else "EPERM")
MISSING_DIRECTORY = ByOS(default="ENOENT", netbsd="ENOENT" if ROOT else "EPERM")
NOT_A_NODE = ByOS(default="EPERM", netbsd="EINVAL" if ROOT else "EPERM")  # S_IFDIR
UNKNOWN_TYPE = ByOS(default="EINVAL", netbsd="EINVAL" if ROOT else "EPERM")


def _mode(kernel: Kernel, path: Path) -> int:
    st = kernel.new("struct stat *")
    kernel.fstatat(kernel.AT_FDCWD, path, st, kernel.AT_SYMLINK_NOFOLLOW).unwrap()
    return st.st_mode


def _made(kernel: Kernel, path: Path, mode: int, expected: ByOS) -> int | None:
    """mknod(path, mode) answers as expected here; the new node's st_mode, or None."""
    r = kernel.mknod(path, mode, 0)
    assert r.outcome == expected[kernel.platform.os]
    assert path.exists() == r.ok
    return _mode(kernel, path) if r.ok else None


def test_mknod_fifo_creates_a_fifo(kernel: Kernel, tmp: Path) -> None:
    mode = _made(kernel, tmp / "fifo", kernel.S_IFIFO | 0o600, MADE_BY_ANYONE)
    assert mode is None or stat.S_ISFIFO(mode)


def test_mknod_regular_creates_an_empty_file(kernel: Kernel, tmp: Path) -> None:
    mode = _made(kernel, tmp / "f", kernel.S_IFREG | 0o600, REGULAR)
    assert mode is None or (stat.S_ISREG(mode) and (tmp / "f").stat().st_size == 0)


def test_mknod_without_a_type_creates_a_regular_file(kernel: Kernel, tmp: Path) -> None:
    mode = _made(kernel, tmp / "f", 0o600, MADE_BY_ANYONE)
    assert mode is None or stat.S_ISREG(mode)


def test_mknod_socket_type_creates_a_socket_node(kernel: Kernel, tmp: Path) -> None:
    mode = _made(kernel, tmp / "sock", kernel.S_IFSOCK | 0o600, MADE_BY_ANYONE)
    assert mode is None or stat.S_ISSOCK(mode)


@pytest.mark.os("linux")
def test_mknod_applies_the_umask(kernel: Kernel, tmp: Path, in_child) -> None:
    def run() -> int:
        os.umask(0o077)
        kernel.mknod(tmp / "fifo", kernel.S_IFIFO | 0o666, 0).unwrap()
        return _mode(kernel, tmp / "fifo") & 0o777

    assert in_child(run) == 0o600


def test_mknod_existing_name_is_eexist(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    r = kernel.mknod(tmp / "f", kernel.S_IFIFO | 0o600, 0)
    assert r.errno == EXISTING[kernel.platform.os]


def test_mknod_in_a_missing_directory_is_enoent(kernel: Kernel, tmp: Path) -> None:
    r = kernel.mknod(tmp / "absent" / "f", kernel.S_IFIFO | 0o600, 0)
    assert r.errno == MISSING_DIRECTORY[kernel.platform.os]


def test_mknod_directory_type_is_eperm(kernel: Kernel, tmp: Path) -> None:
    r = kernel.mknod(tmp / "d", kernel.S_IFDIR | 0o700, 0)
    assert r.errno == NOT_A_NODE[kernel.platform.os]
    assert not (tmp / "d").exists()


def test_mknod_unknown_file_type_is_einval(kernel: Kernel, tmp: Path) -> None:
    r = kernel.mknod(tmp / "x", 0o030000 | 0o600, 0)
    assert r.errno == UNKNOWN_TYPE[kernel.platform.os]


@AS_USER
def test_mknod_char_device_as_a_user_is_eperm(kernel: Kernel, tmp: Path) -> None:
    assert kernel.mknod(tmp / "null", kernel.S_IFCHR | 0o600, NULL_DEV).errno == "EPERM"
    assert not (tmp / "null").exists()


@AS_USER
def test_mknod_block_device_as_a_user_is_eperm(kernel: Kernel, tmp: Path) -> None:
    r = kernel.mknod(tmp / "blk", kernel.S_IFBLK | 0o600, os.makedev(7, 0))
    assert r.errno == "EPERM"


@pytest.mark.os("linux")
def test_mknod_device_as_root_of_a_user_namespace_is_eperm(
    kernel: Kernel, tmp: Path, in_child
) -> None:
    def run() -> tuple[int, str, str]:
        namespaces.user_namespace_or_skip(kernel)
        fifo = kernel.mknod(tmp / "fifo", kernel.S_IFIFO | 0o600, 0).outcome
        dev = kernel.mknod(tmp / "null", kernel.S_IFCHR | 0o600, NULL_DEV).outcome
        return os.geteuid(), fifo, dev

    assert in_child(run) == (0, "ok", "EPERM")


@pytest.mark.root
def test_mknod_char_device_as_root_records_its_numbers(kernel: Kernel, tmp: Path) -> None:
    kernel.mknod(tmp / "null", kernel.S_IFCHR | 0o600, NULL_DEV).unwrap()
    st = kernel.new("struct stat *")
    kernel.fstatat(kernel.AT_FDCWD, tmp / "null", st, kernel.AT_SYMLINK_NOFOLLOW).unwrap()
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == NULL_DEV
