"""ustat(2): free blocks and inodes of the file system on a device number (fs/statfs.c):
f_tfree is statfs's f_bfree, f_tinode its f_ffree, the name fields are zero; a device
with no mounted file system is EINVAL. struct ustat is declared here (C libraries
dropped <ustat.h>): an int, an unsigned long, two char[6]. The generic syscall table
(arm64, riscv64) has no ustat: these tests skip there.
"""

import os
from pathlib import Path

import pytest

from syscalls import namespaces
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

USTAT = "struct { int f_tfree; unsigned long f_tinode; char f_fname[6]; char f_fpack[6]; } *"


def _ustat(kernel: Kernel, dev: int):
    u = kernel.new(USTAT)
    kernel.ffi.memmove(u, b"\xff" * kernel.ffi.sizeof(u[0]), kernel.ffi.sizeof(u[0]))
    return kernel.ustat(dev, u), u


def test_ustat_of_the_test_directorys_device_succeeds(kernel: Kernel, tmp: Path) -> None:
    r, u = _ustat(kernel, os.stat(tmp).st_dev)
    r.unwrap()
    assert kernel.bytes(u.f_fname, 6) == kernel.bytes(u.f_fpack, 6) == b"\0" * 6


def test_ustat_device_without_a_file_system_is_einval(kernel: Kernel) -> None:
    assert _ustat(kernel, os.makedev(1, 3))[0].errno == "EINVAL"  # /dev/null's numbers


@pytest.mark.requires("fault_handler")
def test_ustat_into_an_unmapped_buffer_is_efault(kernel: Kernel, tmp: Path) -> None:
    assert kernel.ustat(os.stat(tmp).st_dev, 8).errno == "EFAULT"


@pytest.mark.root
def test_ustat_counts_are_statfs_free_blocks_and_inodes(
    kernel: Kernel, tmp: Path, in_child
) -> None:
    def run() -> tuple[int, int, int, int]:
        namespaces.private_mounts(kernel)
        kernel.mount(b"syscalls", tmp, b"tmpfs", 0, b"size=1m,nr_inodes=50").unwrap()
        (tmp / "f").write_bytes(b"x" * 10000)
        st = kernel.new("struct statfs *")
        kernel.statfs(tmp, st).unwrap()
        r, u = _ustat(kernel, os.stat(tmp).st_dev)
        r.unwrap()
        return u.f_tfree, u.f_tinode, st.f_bfree, st.f_ffree

    tfree, tinode, bfree, ffree = in_child(run)
    assert (tfree, tinode) == (bfree, ffree)
    assert tinode == 48  # 50, less the root directory and f
