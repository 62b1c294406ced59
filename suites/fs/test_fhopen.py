"""NetBSD's file handles: __getfh30 names a file by a handle, __fhopen40 opens by it,
__fhstat50 stats by it; all three are root's (KAUTH_SYSTEM_FILEHANDLE: EPERM for a
user). __getfh30 writes the handle's size back and, when the room given is smaller,
answers E2BIG; __fhopen40 needs read or write access and refuses O_CREAT
(sys/kern/vfs_syscalls.c, sys___getfh30, dofhopen). Verified on NetBSD (the rump
kernel, on its tmpfs) and marked for it alone; Linux's name_to_handle_at and
open_by_handle_at are in test_file_handles.py.
"""

from pathlib import Path
from typing import Any

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("netbsd")

AS_USER = pytest.mark.as_user("root may use file handles")


def _getfh(kernel: Kernel, path: Path) -> tuple[Any, int]:
    """(the handle, its size), asking for the size first."""
    size = kernel.new("size_t *", 0)
    assert kernel.caller("__getfh30")(path, None, size).errno == "E2BIG"
    fh = kernel.buf(size[0])
    kernel.caller("__getfh30")(path, fh, size).unwrap()
    return fh, size[0]


@pytest.mark.root
def test_getfh_with_no_room_is_e2big_and_says_the_size(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    size = kernel.new("size_t *", 0)
    assert kernel.caller("__getfh30")(tmp / "f", None, size).errno == "E2BIG"
    assert size[0] > 0


@pytest.mark.root
def test_fhopen_opens_the_file_the_handle_names(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "f").write_bytes(b"by handle")
    fh, size = _getfh(kernel, tmp / "f")
    fd = fds(kernel.caller("__fhopen40")(fh, size, kernel.O_RDONLY))
    buf = kernel.buf(16)
    assert kernel.bytes(buf, kernel.read(fd, buf, 16).unwrap()) == b"by handle"


@pytest.mark.root
def test_fhstat_describes_the_file_the_handle_names(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"12345")
    fh, size = _getfh(kernel, tmp / "f")
    by_handle, by_path = kernel.new("struct stat *"), kernel.new("struct stat *")
    kernel.caller("__fhstat50")(fh, size, by_handle).unwrap()
    kernel.fstatat(kernel.AT_FDCWD, tmp / "f", by_path, 0).unwrap()
    assert (by_handle.st_ino, by_handle.st_size) == (by_path.st_ino, 5)


@pytest.mark.root
# O_WRONLY|O_RDWR is access mode 3, which FFLAGS() turns into neither FREAD nor FWRITE.
@pytest.mark.parametrize("flags", ["O_CREAT|O_RDWR", "O_WRONLY|O_RDWR"])
def test_fhopen_without_access_or_with_o_creat_is_einval(
    kernel: Kernel, tmp: Path, bits, flags: str
) -> None:
    (tmp / "f").write_bytes(b"")
    fh, size = _getfh(kernel, tmp / "f")
    assert kernel.caller("__fhopen40")(fh, size, bits(flags)).errno == "EINVAL"


@pytest.mark.root
def test_fhopen_of_a_removed_file_is_stale(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    fh, size = _getfh(kernel, tmp / "f")
    kernel.unlinkat(kernel.AT_FDCWD, tmp / "f", 0).unwrap()
    assert kernel.caller("__fhopen40")(fh, size, kernel.O_RDONLY).errno == "ESTALE"


@AS_USER
def test_getfh_as_a_user_is_eperm(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    size = kernel.new("size_t *", 64)
    assert kernel.caller("__getfh30")(tmp / "f", kernel.buf(64), size).errno == "EPERM"


@AS_USER
def test_fhopen_as_a_user_is_eperm(kernel: Kernel) -> None:
    assert kernel.caller("__fhopen40")(kernel.buf(64), 64, kernel.O_RDONLY).errno == "EPERM"
