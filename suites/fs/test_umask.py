"""umask(2): returns the previous mask, keeps only permission bits, is per process.

Tests that change the mask restore it before they end.
"""

from pathlib import Path

from syscalls.expect import ByOS
from syscalls.kernel import Kernel

# The bits umask keeps: Linux S_IRWXUGO; NetBSD ALLPERMS, set-id and sticky bits too
# (sys/kern/vfs_syscalls.c, sys_umask).
KEPT_BITS = ByOS(default=0o777, netbsd=0o7777)


def test_umask_returns_the_previous_mask(kernel: Kernel) -> None:
    old = kernel.umask(0o027).unwrap()
    try:
        assert kernel.umask(0o022).unwrap() == 0o027
    finally:
        kernel.umask(old)


def test_umask_keeps_only_permission_bits(kernel: Kernel) -> None:
    old = kernel.umask(0o7777).unwrap()
    try:
        assert kernel.umask(0o022).unwrap() == KEPT_BITS[kernel.platform.os]
    finally:
        kernel.umask(old)


def test_umask_masks_mode_of_new_files(kernel: Kernel, tmp: Path, fds) -> None:
    old = kernel.umask(0o077).unwrap()
    try:
        fds.open(tmp / "f", kernel.O_CREAT | kernel.O_WRONLY, 0o666)
    finally:
        kernel.umask(old)
    st = kernel.new("struct stat *")
    kernel.fstatat(kernel.AT_FDCWD, tmp / "f", st, 0).unwrap()
    assert st.st_mode & 0o777 == 0o600


def test_umask_in_child_leaves_parent_mask(kernel: Kernel, in_child) -> None:
    old = kernel.umask(0o022).unwrap()
    kernel.umask(old)
    assert in_child(lambda: kernel.umask(0o077).unwrap()) == old
    assert kernel.umask(old).unwrap() == old
