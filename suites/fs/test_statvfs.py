"""NetBSD's statvfs1, fstatvfs1 and getvfsstat: a file system described by path, by
descriptor, and the list of every mounted one.

The flags are MNT_WAIT (refresh the figures), MNT_NOWAIT or MNT_LAZY (the cached ones).
getvfsstat with no buffer counts the mounts; with a buffer it fills as many entries as
fit and answers that many (sys/kern/vfs_syscalls.c, do_sys_getvfsstat). Verified on
NetBSD (the rump kernel: rumpfs on / and tmpfs on /tmp) and marked for it alone;
Linux's statfs is in test_statfs.py.
"""

from pathlib import Path
from typing import Any

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("netbsd")


def _statvfs(kernel: Kernel, path: Path | bytes) -> Any:
    sv = kernel.new("struct statvfs *")
    kernel.statvfs1(path, sv, kernel.MNT_WAIT).unwrap()
    return sv


def _string(kernel: Kernel, field: Any) -> bytes:
    return kernel.ffi.string(field)


def test_statvfs1_and_fstatvfs1_describe_the_same_file_system(
    kernel: Kernel, tmp: Path, fds
) -> None:
    by_path = _statvfs(kernel, tmp)
    by_fd = kernel.new("struct statvfs *")
    kernel.fstatvfs1(fds.file(tmp / "f"), by_fd, kernel.MNT_WAIT).unwrap()
    assert list(by_fd.f_fsidx) == list(by_path.f_fsidx)
    assert _string(kernel, by_fd.f_fstypename) == _string(kernel, by_path.f_fstypename)
    assert _string(kernel, by_fd.f_mntonname) == _string(kernel, by_path.f_mntonname)


def test_statvfs1_figures_are_consistent(kernel: Kernel, tmp: Path) -> None:
    sv = _statvfs(kernel, tmp)
    assert sv.f_bsize > 0 and sv.f_frsize > 0 and sv.f_namemax > 0
    assert sv.f_bfree <= sv.f_blocks and sv.f_bavail <= sv.f_bfree + sv.f_bresvd
    assert sv.f_ffree <= sv.f_files
    assert _string(kernel, sv.f_mntonname).startswith(b"/")


def test_statvfs1_of_a_missing_path_is_enoent(kernel: Kernel, tmp: Path) -> None:
    sv = kernel.new("struct statvfs *")
    assert kernel.statvfs1(tmp / "absent", sv, kernel.MNT_WAIT).errno == "ENOENT"


def test_fstatvfs1_of_a_closed_descriptor_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    fds.close(fd)
    sv = kernel.new("struct statvfs *")
    assert kernel.fstatvfs1(fd, sv, kernel.MNT_WAIT).errno == "EBADF"


def test_getvfsstat_without_a_buffer_counts_the_mounts(kernel: Kernel) -> None:
    assert kernel.getvfsstat(None, 0, kernel.MNT_NOWAIT).unwrap() >= 1


def test_getvfsstat_lists_the_file_system_of_a_path(kernel: Kernel, tmp: Path) -> None:
    n = kernel.getvfsstat(None, 0, kernel.MNT_NOWAIT).unwrap()
    entries = kernel.new("struct statvfs[]", n)
    size = kernel.ffi.sizeof("struct statvfs")
    assert kernel.getvfsstat(entries, n * size, kernel.MNT_WAIT).unwrap() == n
    mounted = {_string(kernel, e.f_mntonname) for e in entries}
    assert _string(kernel, _statvfs(kernel, tmp).f_mntonname) in mounted
    assert b"/" in mounted


def test_getvfsstat_fills_only_the_room_given(kernel: Kernel) -> None:
    one = kernel.new("struct statvfs[]", 1)
    size = kernel.ffi.sizeof("struct statvfs")
    assert kernel.getvfsstat(one, size, kernel.MNT_NOWAIT).unwrap() == 1
    assert _string(kernel, one[0].f_mntonname).startswith(b"/")
