"""chflags/fchflags/lchflags(2): file flags, NetBSD's (the BSDs have them; Linux has
none: its FS_IOC_SETFLAGS attributes are another interface).

The owner may set and clear the user flags (UF_*), the system ones (SF_*) need privilege
(sys/miscfs/genfs/genfs_vnops.c, genfs_can_chflags; sys/fs/tmpfs/tmpfs_subr.c,
tmpfs_chflags). On tmpfs an immutable file refuses writing opens
(sys/fs/tmpfs/tmpfs_vnops.c, tmpfs_access), removal and new links (tmpfs_remove,
tmpfs_link) and mode changes (tmpfs_subr.c, tmpfs_chmod); an append-only one refuses
an open for writing without O_APPEND (tmpfs_open) and removal. Verified on NetBSD (the
rump kernel) and marked for it alone. Each test clears the flags it set, so that its
directory can be removed.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("netbsd")

AS_USER = pytest.mark.as_user("root may set system flags")


def _flags(kernel: Kernel, path: Path, follow: bool = True) -> int:
    st = kernel.new("struct stat *")
    nofollow = 0 if follow else kernel.AT_SYMLINK_NOFOLLOW
    kernel.fstatat(kernel.AT_FDCWD, path, st, nofollow).unwrap()
    return st.st_flags


@pytest.fixture
def f(kernel: Kernel, tmp: Path) -> Iterator[Path]:
    """A file; whatever flags a test leaves on it are cleared at teardown."""
    (tmp / "f").write_bytes(b"data")
    yield tmp / "f"
    with kernel.unobserved():
        kernel.chflags(tmp / "f", 0)


def test_chflags_sets_and_clears_user_flags(kernel: Kernel, f: Path) -> None:
    kernel.chflags(f, kernel.UF_NODUMP).unwrap()
    assert _flags(kernel, f) & kernel.UF_SETTABLE == kernel.UF_NODUMP
    kernel.chflags(f, 0).unwrap()
    assert _flags(kernel, f) & kernel.UF_SETTABLE == 0


def test_fchflags_sets_the_flags_of_the_open_file(kernel: Kernel, f: Path, fds) -> None:
    fd = fds.open(f, kernel.O_RDONLY)
    kernel.fchflags(fd, kernel.UF_NODUMP).unwrap()
    assert _flags(kernel, f) & kernel.UF_NODUMP


def test_lchflags_flags_the_link_not_its_target(kernel: Kernel, f: Path) -> None:
    link = f.parent / "link"
    link.symlink_to(f.name)
    kernel.lchflags(link, kernel.UF_NODUMP).unwrap()
    assert _flags(kernel, link, follow=False) & kernel.UF_NODUMP
    assert _flags(kernel, f) & kernel.UF_NODUMP == 0


def test_immutable_file_refuses_writing_removal_links_and_chmod(kernel: Kernel, f: Path) -> None:
    kernel.chflags(f, kernel.UF_IMMUTABLE).unwrap()
    at = kernel.AT_FDCWD
    assert kernel.openat(at, f, kernel.O_WRONLY).errno == "EPERM"
    assert kernel.unlinkat(at, f, 0).errno == "EPERM"
    assert kernel.linkat(at, f, at, f.parent / "g", 0).errno == "EPERM"
    assert kernel.fchmodat(at, f, 0o600).errno == "EPERM"
    assert f.read_bytes() == b"data"  # reading is still allowed


def test_append_only_file_takes_appends_alone(kernel: Kernel, f: Path, fds) -> None:
    kernel.chflags(f, kernel.UF_APPEND).unwrap()
    at = kernel.AT_FDCWD
    assert kernel.openat(at, f, kernel.O_WRONLY).errno == "EPERM"
    assert kernel.unlinkat(at, f, 0).errno == "EPERM"
    fd = fds.open(f, kernel.O_WRONLY | kernel.O_APPEND)
    assert kernel.write(fd, b"+", 1).unwrap() == 1
    assert f.read_bytes() == b"data+"


@AS_USER
def test_chflags_of_a_system_flag_as_a_user_is_eperm(kernel: Kernel, f: Path) -> None:
    assert kernel.chflags(f, kernel.SF_IMMUTABLE).errno == "EPERM"
    assert _flags(kernel, f) == 0


@AS_USER
def test_chflags_of_a_file_of_another_user_is_eperm(kernel: Kernel) -> None:
    assert kernel.chflags(b"/", kernel.UF_NODUMP).errno == "EPERM"


@pytest.mark.root
def test_chflags_as_root_sets_a_system_flag(kernel: Kernel, f: Path) -> None:
    kernel.chflags(f, kernel.SF_ARCHIVED).unwrap()
    assert _flags(kernel, f) & kernel.SF_SETTABLE == kernel.SF_ARCHIVED
