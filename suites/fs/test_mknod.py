"""mknod(2), the legacy number: FIFOs, sockets and regular files for anyone; character
and block devices only with CAP_MKNOD in the initial user namespace (fs/namei.c
vfs_mknod: capable(), not ns_capable(): root in a user namespace is still refused).
mknodat's own tests are in test_mknodat.py; the generic syscall table (arm64, riscv64)
has no mknod, and these tests skip there.
"""

import os
import stat
from pathlib import Path

import pytest

from syscalls import namespaces
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

NOT_ROOT = pytest.mark.skipif(
    os.geteuid() == 0, reason="root may create device nodes (CAP_MKNOD); run as a user"
)
NULL_DEV = os.makedev(1, 3)  # /dev/null's numbers


def _mode(path: Path) -> int:
    return os.lstat(path).st_mode


def test_mknod_fifo_creates_a_fifo(kernel: Kernel, tmp: Path) -> None:
    kernel.mknod(tmp / "fifo", kernel.S_IFIFO | 0o600, 0).unwrap()
    assert stat.S_ISFIFO(_mode(tmp / "fifo"))


def test_mknod_regular_creates_an_empty_file(kernel: Kernel, tmp: Path) -> None:
    kernel.mknod(tmp / "f", kernel.S_IFREG | 0o600, 0).unwrap()
    assert stat.S_ISREG(_mode(tmp / "f")) and (tmp / "f").stat().st_size == 0


def test_mknod_without_a_type_creates_a_regular_file(kernel: Kernel, tmp: Path) -> None:
    kernel.mknod(tmp / "f", 0o600, 0).unwrap()
    assert stat.S_ISREG(_mode(tmp / "f"))


def test_mknod_socket_type_creates_a_socket_node(kernel: Kernel, tmp: Path) -> None:
    kernel.mknod(tmp / "sock", kernel.S_IFSOCK | 0o600, 0).unwrap()
    assert stat.S_ISSOCK(_mode(tmp / "sock"))


def test_mknod_applies_the_umask(kernel: Kernel, tmp: Path, in_child) -> None:
    def run() -> int:
        os.umask(0o077)
        kernel.mknod(tmp / "fifo", kernel.S_IFIFO | 0o666, 0).unwrap()
        return _mode(tmp / "fifo") & 0o777

    assert in_child(run) == 0o600


def test_mknod_existing_name_is_eexist(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    assert kernel.mknod(tmp / "f", kernel.S_IFIFO | 0o600, 0).errno == "EEXIST"


def test_mknod_in_a_missing_directory_is_enoent(kernel: Kernel, tmp: Path) -> None:
    assert kernel.mknod(tmp / "absent" / "f", kernel.S_IFIFO | 0o600, 0).errno == "ENOENT"


def test_mknod_directory_type_is_eperm(kernel: Kernel, tmp: Path) -> None:
    assert kernel.mknod(tmp / "d", kernel.S_IFDIR | 0o700, 0).errno == "EPERM"


def test_mknod_unknown_file_type_is_einval(kernel: Kernel, tmp: Path) -> None:
    assert kernel.mknod(tmp / "x", 0o030000 | 0o600, 0).errno == "EINVAL"


@NOT_ROOT
def test_mknod_char_device_as_a_user_is_eperm(kernel: Kernel, tmp: Path) -> None:
    assert kernel.mknod(tmp / "null", kernel.S_IFCHR | 0o600, NULL_DEV).errno == "EPERM"
    assert not (tmp / "null").exists()


@NOT_ROOT
def test_mknod_block_device_as_a_user_is_eperm(kernel: Kernel, tmp: Path) -> None:
    r = kernel.mknod(tmp / "blk", kernel.S_IFBLK | 0o600, os.makedev(7, 0))
    assert r.errno == "EPERM"


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
    st = os.lstat(tmp / "null")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == NULL_DEV
