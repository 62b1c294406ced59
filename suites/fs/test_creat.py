"""creat(2): open(path, O_CREAT|O_WRONLY|O_TRUNC, mode) under its own number. The
generic syscall table (arm64, riscv64) has no creat: there these tests skip.
"""

import os
from pathlib import Path

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

AS_USER = pytest.mark.as_user("root passes permission checks (CAP_DAC_OVERRIDE)")


def test_creat_makes_an_empty_file_with_the_mode(kernel: Kernel, tmp: Path, fds) -> None:
    fds(kernel.creat(tmp / "f", 0o600))
    st = os.stat(tmp / "f")
    assert (st.st_size, st.st_mode & 0o7777) == (0, 0o600)


def test_creat_truncates_an_existing_file(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "f").write_bytes(b"old contents")
    fds(kernel.creat(tmp / "f", 0o600))
    assert (tmp / "f").read_bytes() == b""


def test_creat_keeps_the_mode_of_an_existing_file(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "f").write_bytes(b"x")
    (tmp / "f").chmod(0o640)
    fds(kernel.creat(tmp / "f", 0o600))
    assert os.stat(tmp / "f").st_mode & 0o777 == 0o640


def test_creat_descriptor_is_write_only(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds(kernel.creat(tmp / "f", 0o600))
    assert kernel.fcntl(fd, kernel.F_GETFL, 0).unwrap() & kernel.O_ACCMODE == kernel.O_WRONLY
    assert kernel.write(fd, b"abc", 3).unwrap() == 3
    assert kernel.read(fd, kernel.buf(3), 3).errno == "EBADF"


def test_creat_on_a_directory_is_eisdir(kernel: Kernel, tmp: Path) -> None:
    assert kernel.creat(tmp, 0o600).errno == "EISDIR"


def test_creat_in_a_missing_directory_is_enoent(kernel: Kernel, tmp: Path) -> None:
    assert kernel.creat(tmp / "absent" / "f", 0o600).errno == "ENOENT"


def test_creat_under_a_regular_file_is_enotdir(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    assert kernel.creat(tmp / "f" / "g", 0o600).errno == "ENOTDIR"


@AS_USER
def test_creat_in_a_read_only_directory_is_eacces(kernel: Kernel, tmp: Path) -> None:
    (tmp / "ro").mkdir(mode=0o500)
    assert kernel.creat(tmp / "ro" / "f", 0o600).errno == "EACCES"


@AS_USER
def test_creat_of_a_file_without_write_permission_is_eacces(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"keep")
    (tmp / "f").chmod(0o400)
    assert kernel.creat(tmp / "f", 0o600).errno == "EACCES"
    assert (tmp / "f").read_bytes() == b"keep"
