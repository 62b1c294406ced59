"""statfs/fstatfs(2) (Linux struct statfs): one file system seen by path and by fd."""

from pathlib import Path

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")


def test_statfs_and_fstatfs_describe_the_same_file_system(
    kernel: Kernel, tmp: Path, fds, observe
) -> None:
    a, b = kernel.new("struct statfs *"), kernel.new("struct statfs *")
    kernel.statfs(tmp, a).unwrap()
    kernel.fstatfs(fds.open(tmp, kernel.O_RDONLY), b).unwrap()
    observe("tmp_f_type", hex(a.f_type))
    assert (a.f_type, a.f_bsize, a.f_blocks, list(a.f_fsid)) == (
        b.f_type,
        b.f_bsize,
        b.f_blocks,
        list(b.f_fsid),
    )


def test_statfs_counts_are_consistent(kernel: Kernel, tmp: Path) -> None:
    st = kernel.new("struct statfs *")
    kernel.statfs(tmp, st).unwrap()
    assert st.f_bsize > 0
    assert 0 <= st.f_bavail <= st.f_bfree <= st.f_blocks
    assert st.f_namelen > 0


def test_fstatfs_on_pipe_reports_pipefs(kernel: Kernel, fds) -> None:
    rfd, _ = fds.pipe()
    st = kernel.new("struct statfs *")
    kernel.fstatfs(rfd, st).unwrap()
    assert st.f_type == kernel.PIPEFS_MAGIC


def test_statfs_missing_path_is_enoent(kernel: Kernel, tmp: Path) -> None:
    assert kernel.statfs(tmp / "absent", kernel.new("struct statfs *")).errno == "ENOENT"


def test_fstatfs_on_closed_fd_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    fds.close(fd).unwrap()
    assert kernel.fstatfs(fd, kernel.new("struct statfs *")).errno == "EBADF"
