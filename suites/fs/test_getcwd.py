"""getcwd, chdir, fchdir: the working directory is per process.

Every successful chdir runs in a child (in_child), so the test process keeps its own.
The raw getcwd returns the length including the NUL (Linux; NetBSD's __getcwd too,
sys/kern/vfs_getcwd.c); a removed working directory is ENOENT (getcwd(2)).
"""

import os
from pathlib import Path

import pytest

from syscalls.kernel import Kernel


def _getcwd(kernel: Kernel) -> str:
    buf = kernel.buf(4096)
    kernel.getcwd(buf, 4096).unwrap()
    return kernel.ffi.string(buf).decode()


def test_getcwd_returns_path_and_length_with_nul(kernel: Kernel) -> None:
    buf = kernel.buf(4096)
    n = kernel.getcwd(buf, 4096).unwrap()  # NetBSD: __getcwd, the same answer
    cwd = kernel.ffi.string(buf)
    assert n == len(cwd) + 1
    assert cwd.startswith(b"/")
    # The path names the working directory: the kernel's own "." (an in-process rump
    # kernel's working directory is its own, not this process's os.getcwd()).
    here, there = kernel.new("struct stat *"), kernel.new("struct stat *")
    kernel.fstatat(kernel.AT_FDCWD, b".", here, 0).unwrap()
    kernel.fstatat(kernel.AT_FDCWD, cwd, there, 0).unwrap()
    assert (there.st_dev, there.st_ino) == (here.st_dev, here.st_ino)


def test_getcwd_buffer_too_small_is_erange(kernel: Kernel) -> None:
    assert kernel.getcwd(kernel.buf(1), 1).errno == "ERANGE"


def test_getcwd_buffer_of_exactly_the_path_and_its_nul_suffices(kernel: Kernel) -> None:
    n = kernel.getcwd(kernel.buf(4096), 4096).unwrap()  # the length with its NUL
    assert kernel.getcwd(kernel.buf(n), n).unwrap() == n
    assert kernel.getcwd(kernel.buf(n - 1), n - 1).errno == "ERANGE"


def test_chdir_in_child_leaves_parent_cwd(kernel: Kernel, tmp: Path, in_child) -> None:
    before = _getcwd(kernel)

    def move() -> str:
        kernel.chdir(tmp).unwrap()
        return _getcwd(kernel)

    assert in_child(move) == os.path.realpath(tmp)
    assert _getcwd(kernel) == before


@pytest.mark.parametrize("how", ["O_RDONLY", pytest.param("O_PATH", marks=pytest.mark.os("linux"))])
def test_fchdir_enters_the_directory_of_the_fd(
    kernel: Kernel, tmp: Path, fds, in_child, how: str
) -> None:
    (tmp / "sub").mkdir()
    dirfd = fds.open(tmp / "sub", getattr(kernel, how) | kernel.O_DIRECTORY)

    def move() -> str:
        kernel.fchdir(dirfd).unwrap()
        return _getcwd(kernel)

    assert in_child(move) == os.path.realpath(tmp / "sub")


def test_chdir_to_file_is_enotdir(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    assert kernel.chdir(tmp / "f").errno == "ENOTDIR"


def test_chdir_to_missing_directory_is_enoent(kernel: Kernel, tmp: Path) -> None:
    assert kernel.chdir(tmp / "absent").errno == "ENOENT"


def test_fchdir_on_file_fd_is_enotdir(kernel: Kernel, tmp: Path, fds) -> None:
    assert kernel.fchdir(fds.file(tmp / "f")).errno == "ENOTDIR"


@pytest.mark.os("linux")
def test_getcwd_of_removed_directory_is_enoent(kernel: Kernel, tmp: Path, in_child) -> None:
    (tmp / "gone").mkdir()

    def orphan() -> str:
        kernel.chdir(tmp / "gone").unwrap()
        kernel.unlinkat(kernel.AT_FDCWD, tmp / "gone", kernel.AT_REMOVEDIR).unwrap()
        r = kernel.getcwd(kernel.buf(4096), 4096)
        return r.outcome

    assert in_child(orphan) == "ENOENT"


# fchdir takes an O_PATH descriptor of a directory (fs/open.c fchdir: fdget_raw).
def test_fchdir_on_closed_fd_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.open(tmp, kernel.O_RDONLY | kernel.O_DIRECTORY)
    fds.close(fd).unwrap()
    assert kernel.fchdir(fd).errno == "EBADF"


# Entering a directory needs search (x) permission on it (fs/open.c chdir and fchdir:
# MAY_EXEC | MAY_CHDIR). "d" has no x bit for anyone; its parent is searchable; the
# child is left without capabilities (root would pass).
@pytest.mark.os("linux")
@pytest.mark.parametrize("call", ["chdir", "fchdir"])
def test_chdir_into_a_directory_without_search_permission_is_eacces(
    kernel: Kernel, tmp: Path, in_child, drop_privileges, call: str
) -> None:
    (tmp / "p").mkdir()
    (tmp / "p").chmod(0o755)
    (tmp / "p" / "d").mkdir()
    (tmp / "p" / "d").chmod(0o644)
    parent = os.open(tmp / "p", os.O_RDONLY | os.O_DIRECTORY)
    target = os.open(tmp / "p" / "d", os.O_RDONLY | os.O_DIRECTORY)

    def move() -> tuple[str, str]:
        kernel.fchdir(parent).unwrap()
        drop_privileges()
        r = kernel.chdir(b"d") if call == "chdir" else kernel.fchdir(target)
        return r.outcome, _getcwd(kernel)

    try:
        assert in_child(move) == ("EACCES", os.path.realpath(tmp / "p"))
    finally:
        os.close(parent)
        os.close(target)
