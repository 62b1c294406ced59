"""open(2), the legacy number: the same path walk and flags as openat(AT_FDCWD, ...),
a relative path resolved against the working directory (openat's own behaviours are
tested in test_openat.py). The generic syscall table (arm64, riscv64) has no open: there
these tests skip, saying so.
"""

import os
from pathlib import Path

import pytest

from syscalls.kernel import Kernel


@pytest.mark.os("linux")
def test_open_creates_a_file_with_mode_less_umask(kernel: Kernel, tmp: Path, fds, in_child) -> None:
    def run() -> int:
        os.umask(0o022)
        fd = kernel.open(tmp / "f", kernel.O_CREAT | kernel.O_WRONLY, 0o666).unwrap()
        os.close(fd)
        return os.stat(tmp / "f").st_mode & 0o777

    assert in_child(run) == 0o644


def test_open_existing_file_reads_its_data(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "f").write_bytes(b"legacy")
    fd = fds(kernel.open(tmp / "f", kernel.O_RDONLY, 0))
    buf = kernel.buf(16)
    assert kernel.bytes(buf, kernel.read(fd, buf, 16).unwrap()) == b"legacy"


@pytest.mark.os("linux")
def test_open_relative_path_resolves_against_the_working_directory(
    kernel: Kernel, tmp: Path, in_child
) -> None:
    (tmp / "here").write_bytes(b"")

    def run() -> int:
        os.chdir(tmp)
        fd = kernel.open(b"here", kernel.O_RDONLY, 0).unwrap()
        ino = os.fstat(fd).st_ino
        os.close(fd)
        return ino

    assert in_child(run) == os.stat(tmp / "here").st_ino


def test_open_returns_the_lowest_free_descriptor(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "f").write_bytes(b"")
    first = fds(kernel.open(tmp / "f", kernel.O_RDONLY, 0))
    fds.close(first)
    assert fds(kernel.open(tmp / "f", kernel.O_RDONLY, 0)) == first


def test_open_o_excl_on_an_existing_file_is_eexist(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    flags = kernel.O_CREAT | kernel.O_EXCL | kernel.O_WRONLY
    assert kernel.open(tmp / "f", flags, 0o600).errno == "EEXIST"


def test_open_o_trunc_empties_the_file(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "f").write_bytes(b"old data")
    fds(kernel.open(tmp / "f", kernel.O_WRONLY | kernel.O_TRUNC, 0))
    assert (tmp / "f").stat().st_size == 0


def test_open_o_cloexec_sets_fd_cloexec(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "f").write_bytes(b"")
    fd = fds(kernel.open(tmp / "f", kernel.O_RDONLY | kernel.O_CLOEXEC, 0))
    assert kernel.fcntl(fd, kernel.F_GETFD, 0).unwrap() & kernel.FD_CLOEXEC


def test_open_missing_file_is_enoent(kernel: Kernel, tmp: Path) -> None:
    assert kernel.open(tmp / "absent", kernel.O_RDONLY, 0).errno == "ENOENT"


def test_open_directory_for_writing_is_eisdir(kernel: Kernel, tmp: Path) -> None:
    assert kernel.open(tmp, kernel.O_WRONLY, 0).errno == "EISDIR"


def test_open_o_directory_on_a_file_is_enotdir(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    assert kernel.open(tmp / "f", kernel.O_RDONLY | kernel.O_DIRECTORY, 0).errno == "ENOTDIR"


def test_open_empty_path_is_enoent(kernel: Kernel) -> None:
    assert kernel.open(b"", kernel.O_RDONLY, 0).errno == "ENOENT"


@pytest.mark.os("linux")
@pytest.mark.requires("fault_handler")
def test_open_unmapped_path_is_efault(kernel: Kernel) -> None:
    assert kernel.open(8, kernel.O_RDONLY, 0).errno == "EFAULT"
