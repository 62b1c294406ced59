"""chown(2) and lchown(2), the path forms (fchownat's own tests are in test_fchownat.py).

chown follows a final symlink, lchown changes the link itself. Without CAP_CHOWN an
owner may set the group to one of its own groups and "change" the owner to itself; -1
keeps an id; giving a file away is EPERM (fs/attr.c chown_ok). On i386 these numbers are
the 16-bit-id calls (sys_chown16, sys_lchown16): the ids used here fit in 16 bits. The
generic syscall table (arm64, riscv64) has neither: these tests skip there. NetBSD's
chown and lchown (16, 275; not the __posix_ ones) are the same calls.
"""

import os
from pathlib import Path

import pytest

from syscalls.expect import ByOS
from syscalls.kernel import Kernel

NOBODY = 65534
AS_USER = pytest.mark.as_user("root may give files away (CAP_CHOWN)")

# What a change of owner leaves of set-user-ID and set-group-ID on an executable: Linux
# clears both, for root too (fs/open.c, chown_common: ATTR_KILL_SUID and ATTR_KILL_SGID);
# NetBSD's chown clears the bit of the id that changed, here S_ISUID
# (sys/kern/vfs_syscalls.c, change_owner without posix_semantics).
SETID_AFTER_NEW_OWNER = ByOS(default=0o755, netbsd=0o2755)


def _ids(kernel: Kernel, path: Path, follow: bool = True) -> tuple[int, int]:
    st = kernel.new("struct stat *")
    flags = 0 if follow else kernel.AT_SYMLINK_NOFOLLOW
    kernel.fstatat(kernel.AT_FDCWD, path, st, flags).unwrap()
    return st.st_uid, st.st_gid


@pytest.fixture
def f(tmp: Path) -> Path:
    (tmp / "f").write_bytes(b"")
    return tmp / "f"


@pytest.fixture
def link(tmp: Path, f: Path) -> Path:
    (tmp / "link").symlink_to(f.name)
    return tmp / "link"


def test_chown_to_own_ids_succeeds(kernel: Kernel, f: Path) -> None:
    kernel.chown(f, os.geteuid(), os.getegid()).unwrap()
    assert _ids(kernel, f) == (os.geteuid(), os.getegid())


def test_chown_minus_one_keeps_both_ids(kernel: Kernel, f: Path) -> None:
    before = _ids(kernel, f)
    kernel.chown(f, -1, -1).unwrap()
    assert _ids(kernel, f) == before


def test_lchown_minus_one_keeps_both_ids_of_the_link(kernel: Kernel, link: Path) -> None:
    before = _ids(kernel, link, follow=False)
    kernel.lchown(link, -1, -1).unwrap()
    assert _ids(kernel, link, follow=False) == before


def test_chown_missing_file_is_enoent(kernel: Kernel, tmp: Path) -> None:
    assert kernel.chown(tmp / "absent", -1, -1).errno == "ENOENT"


def test_lchown_missing_file_is_enoent(kernel: Kernel, tmp: Path) -> None:
    assert kernel.lchown(tmp / "absent", -1, -1).errno == "ENOENT"


def test_chown_through_a_dangling_symlink_is_enoent(kernel: Kernel, tmp: Path) -> None:
    (tmp / "dangling").symlink_to("nowhere")
    assert kernel.chown(tmp / "dangling", -1, -1).errno == "ENOENT"


def test_lchown_of_a_dangling_symlink_succeeds(kernel: Kernel, tmp: Path) -> None:
    (tmp / "dangling").symlink_to("nowhere")
    kernel.lchown(tmp / "dangling", -1, -1).unwrap()


def test_chown_path_through_a_file_is_enotdir(kernel: Kernel, f: Path) -> None:
    assert kernel.chown(f / "x", -1, -1).errno == "ENOTDIR"


@AS_USER
def test_chown_to_another_user_is_eperm(kernel: Kernel, f: Path) -> None:
    other = 0 if os.geteuid() != 0 else NOBODY
    assert kernel.chown(f, other, -1).errno == "EPERM"
    assert _ids(kernel, f)[0] == os.geteuid()


@AS_USER
def test_chown_to_a_group_we_are_not_in_is_eperm(kernel: Kernel, f: Path) -> None:
    ours = {os.getegid(), *os.getgroups()}
    other = next(g for g in range(100) if g not in ours and g != _ids(kernel, f)[1])
    assert kernel.chown(f, -1, other).errno == "EPERM"


@AS_USER
def test_lchown_to_another_user_is_eperm(kernel: Kernel, link: Path) -> None:
    assert kernel.lchown(link, 0, -1).errno == "EPERM"


@AS_USER
def test_chown_of_a_file_we_do_not_own_to_ourselves_is_eperm(kernel: Kernel, anothers_file) -> None:
    path = anothers_file()
    assert _ids(kernel, path)[0] != os.geteuid()
    assert kernel.chown(path, os.geteuid(), -1).errno == "EPERM"


@pytest.mark.root
def test_chown_as_root_follows_the_symlink(kernel: Kernel, f: Path, link: Path) -> None:
    link_ids = _ids(kernel, link, follow=False)
    kernel.chown(link, NOBODY, NOBODY).unwrap()
    assert _ids(kernel, f) == (NOBODY, NOBODY)
    assert _ids(kernel, link, follow=False) == link_ids


@pytest.mark.root
def test_lchown_as_root_changes_the_link_not_its_target(
    kernel: Kernel, f: Path, link: Path
) -> None:
    target_ids = _ids(kernel, f)
    kernel.lchown(link, NOBODY, NOBODY).unwrap()
    assert _ids(kernel, link, follow=False) == (NOBODY, NOBODY)
    assert _ids(kernel, f) == target_ids


@pytest.mark.root
def test_chown_as_root_can_set_only_the_group(kernel: Kernel, f: Path) -> None:
    uid = _ids(kernel, f)[0]
    kernel.chown(f, -1, NOBODY).unwrap()
    assert _ids(kernel, f) == (uid, NOBODY)


@pytest.mark.root
def test_chown_clears_setuid_and_setgid_of_an_executable(kernel: Kernel, f: Path) -> None:
    f.chmod(0o6755)
    kernel.chown(f, NOBODY, -1).unwrap()
    st = kernel.new("struct stat *")
    kernel.fstatat(kernel.AT_FDCWD, f, st, 0).unwrap()
    assert st.st_mode & 0o7777 == SETID_AFTER_NEW_OWNER[kernel.platform.os]


# A directory's set-group-ID bit survives a change of owner; only files other than
# directories lose their set-ID bits (fs/open.c chown_common: ATTR_KILL_* for !S_ISDIR).
@pytest.mark.os("linux")
@pytest.mark.root
def test_chown_keeps_setgid_of_a_directory(kernel: Kernel, tmp: Path) -> None:
    (tmp / "d").mkdir()
    (tmp / "d").chmod(0o2755)
    kernel.chown(tmp / "d", NOBODY, -1).unwrap()
    st = kernel.new("struct stat *")
    kernel.fstatat(kernel.AT_FDCWD, tmp / "d", st, 0).unwrap()
    assert (st.st_uid, st.st_mode & 0o7777) == (NOBODY, 0o2755)
