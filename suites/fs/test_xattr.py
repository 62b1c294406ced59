"""Extended attributes in the user. namespace: set, get, list, remove, and their errors.

The temp directory's file system must accept user xattrs (ext4, xfs, btrfs, tmpfs since
Linux 6.6); where it answers EOPNOTSUPP the tests skip saying so. User xattrs exist only
on regular files and directories, so on a symlink they are EPERM (xattr(7)).
"""

from pathlib import Path

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

NAME = b"user.syscalls"


@pytest.fixture
def f(kernel: Kernel, tmp: Path) -> Path:
    path = tmp / "f"
    path.write_bytes(b"")
    r = kernel.setxattr(path, b"user.probe", b"1", 1, 0)
    if r.errno == "EOPNOTSUPP":
        pytest.skip(f"the file system under {tmp} rejects user xattrs (EOPNOTSUPP)")
    r.unwrap()
    kernel.removexattr(path, b"user.probe").unwrap()
    return path


def _get(kernel: Kernel, path: Path, name: bytes = NAME) -> bytes:
    buf = kernel.buf(256)
    return kernel.bytes(buf, kernel.getxattr(path, name, buf, 256).unwrap())


def test_setxattr_value_reads_back(kernel: Kernel, f: Path) -> None:
    kernel.setxattr(f, NAME, b"value\0with nul", 14, 0).unwrap()
    assert _get(kernel, f) == b"value\0with nul"


def test_getxattr_size_zero_returns_needed_size(kernel: Kernel, f: Path) -> None:
    kernel.setxattr(f, NAME, b"12345", 5, 0).unwrap()
    assert kernel.getxattr(f, NAME, None, 0).unwrap() == 5


def test_getxattr_small_buffer_is_erange(kernel: Kernel, f: Path) -> None:
    kernel.setxattr(f, NAME, b"12345", 5, 0).unwrap()
    assert kernel.getxattr(f, NAME, kernel.buf(2), 2).errno == "ERANGE"


def test_getxattr_missing_attribute_is_enodata(kernel: Kernel, f: Path) -> None:
    assert kernel.getxattr(f, NAME, kernel.buf(8), 8).errno == "ENODATA"


def test_setxattr_create_on_existing_is_eexist(kernel: Kernel, f: Path) -> None:
    kernel.setxattr(f, NAME, b"a", 1, 0).unwrap()
    assert kernel.setxattr(f, NAME, b"b", 1, kernel.XATTR_CREATE).errno == "EEXIST"


def test_setxattr_replace_on_missing_is_enodata(kernel: Kernel, f: Path) -> None:
    assert kernel.setxattr(f, NAME, b"b", 1, kernel.XATTR_REPLACE).errno == "ENODATA"


def test_listxattr_names_are_nul_separated(kernel: Kernel, f: Path) -> None:
    kernel.setxattr(f, b"user.a", b"1", 1, 0).unwrap()
    kernel.setxattr(f, b"user.b", b"2", 1, 0).unwrap()
    buf = kernel.buf(1024)
    n = kernel.listxattr(f, buf, 1024).unwrap()
    names = set(kernel.bytes(buf, n).split(b"\0")[:-1])
    assert {b"user.a", b"user.b"} <= names


def test_removexattr_then_get_is_enodata(kernel: Kernel, f: Path) -> None:
    kernel.setxattr(f, NAME, b"a", 1, 0).unwrap()
    kernel.removexattr(f, NAME).unwrap()
    assert kernel.getxattr(f, NAME, kernel.buf(8), 8).errno == "ENODATA"
    assert kernel.removexattr(f, NAME).errno == "ENODATA"


def test_fsetxattr_and_fgetxattr_work_on_fds(kernel: Kernel, f: Path, fds) -> None:
    fd = fds.open(f, kernel.O_RDONLY)
    kernel.fsetxattr(fd, NAME, b"via fd", 6, 0).unwrap()
    buf = kernel.buf(16)
    assert kernel.bytes(buf, kernel.fgetxattr(fd, NAME, buf, 16).unwrap()) == b"via fd"


def test_lsetxattr_user_namespace_on_symlink_is_eperm(kernel: Kernel, f: Path) -> None:
    link = f.with_name("link")
    link.symlink_to(f.name)
    assert kernel.lsetxattr(link, NAME, b"a", 1, 0).errno == "EPERM"


def test_setxattr_unknown_namespace_is_eopnotsupp(kernel: Kernel, f: Path) -> None:
    assert kernel.setxattr(f, b"bogus.name", b"a", 1, 0).errno == "EOPNOTSUPP"
