"""Extended attributes in the user. namespace: set, get, list, remove, and their errors.

The file system must accept user xattrs (ext4, xfs, btrfs; tmpfs only since Linux 6.6,
so the tests use disk_tmp); where it answers EOPNOTSUPP the tests skip saying so. User
xattrs exist only on regular files and directories, so on a symlink they are EPERM
(xattr(7)).
"""

import os
import stat
import struct
from pathlib import Path

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

NAME = b"user.syscalls"


@pytest.fixture
def f(kernel: Kernel, disk_tmp: Path) -> Path:
    path = disk_tmp / "f"
    path.write_bytes(b"")
    r = kernel.setxattr(path, b"user.probe", b"1", 1, 0)
    if r.errno == "EOPNOTSUPP":
        pytest.skip(f"the file system under {disk_tmp} rejects user xattrs (EOPNOTSUPP)")
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


# --- who may: trusted.* is CAP_SYS_ADMIN's (fs/xattr.c xattr_permission), user.* wants
# write permission, and on a sticky directory its owner. (security.* is left to the
# security modules: through security/security.c security_inode_setxattr, commoncap's
# CAP_SYS_ADMIN check is reached only if no module's hook answered; the bpf module's
# answers 0, so where it is loaded, as in Debian's 6.1, a user sets security.* names on
# their own files. Not a test here: the answer is the configuration's.)

TRUSTED = b"trusted.syscalls"


@pytest.mark.as_user("root may write trusted.* attributes (CAP_SYS_ADMIN)")
def test_setxattr_trusted_namespace_as_a_user_is_eperm(kernel: Kernel, f: Path) -> None:
    assert kernel.setxattr(f, TRUSTED, b"a", 1, 0).errno == "EPERM"
    assert kernel.getxattr(f, TRUSTED, None, 0).errno == "ENODATA"


@pytest.fixture
def trusted(kernel: Kernel, f: Path) -> Path:
    """f with a trusted.* attribute that root set (a fixture: root's, in a root run)."""
    if os.geteuid() != 0:
        pytest.skip("only root may set a trusted.* attribute for a user not to see")
    r = kernel.setxattr(f, TRUSTED, b"root's", 6, 0)
    if r.errno == "EOPNOTSUPP":
        pytest.skip(f"the file system under {f.parent} keeps no trusted.* attributes")
    r.unwrap()
    return f


@pytest.mark.as_user("root sees trusted.* attributes (CAP_SYS_ADMIN)")
def test_trusted_attribute_is_hidden_from_a_user(kernel: Kernel, trusted: Path) -> None:
    """Read, it is ENODATA; listed, it is left out (mm/shmem.c and the disk file systems
    list trusted.* names only to CAP_SYS_ADMIN); removed, EPERM."""
    buf = kernel.buf(256)
    assert kernel.getxattr(trusted, TRUSTED, buf, 256).errno == "ENODATA"
    n = kernel.listxattr(trusted, buf, 256).unwrap()
    assert TRUSTED not in _names(kernel, buf, n)
    assert kernel.removexattr(trusted, TRUSTED).errno == "EPERM"


@pytest.mark.as_user("root may write any file's attributes (CAP_DAC_OVERRIDE)")
def test_setxattr_user_namespace_without_write_permission_is_eacces(
    kernel: Kernel, f: Path
) -> None:
    f.chmod(0o444)
    assert kernel.setxattr(f, NAME, b"a", 1, 0).errno == "EACCES"
    assert kernel.getxattr(f, NAME, None, 0).errno == "ENODATA"


@pytest.mark.as_user("root owns, for this, every directory (CAP_FOWNER)")
def test_removexattr_user_namespace_of_a_sticky_directory_of_another_user_is_eperm(
    kernel: Kernel,
) -> None:
    """/tmp: sticky, and writable by all, but not its users' for attributes. A remove of a
    name it has not: granted, ENODATA, and nothing changed."""
    st = os.stat("/tmp")
    if not st.st_mode & stat.S_ISVTX or st.st_uid == os.geteuid():
        pytest.skip("/tmp is no sticky directory of another user here")
    assert kernel.removexattr(Path("/tmp"), NAME).errno == "EPERM"


# A file's ACL is its owner's to set (fs/posix_acl.c: inode_owner_or_capable, CAP_FOWNER),
# whatever write permission others have. The ACL asked for is the one its mode makes:
# granted, nothing would change. Root makes the 0666 file; a child become nobody asks.
ACL_EA_VERSION = 2  # linux/posix_acl_xattr.h: a header, then (tag, perm, id) entries
ACL_USER_OBJ, ACL_GROUP_OBJ, ACL_OTHER = 0x01, 0x04, 0x20


@pytest.mark.root
def test_setxattr_posix_acl_on_a_file_of_another_user_is_eperm(
    kernel: Kernel, tmp: Path, in_child, drop_privileges
) -> None:
    f = tmp / "f"
    f.write_bytes(b"")
    f.chmod(0o666)
    tmp.chmod(0o755)  # nobody may reach it
    acl = struct.pack("<I", ACL_EA_VERSION) + b"".join(
        struct.pack("<HHI", tag, 6, 0xFFFFFFFF) for tag in (ACL_USER_OBJ, ACL_GROUP_OBJ, ACL_OTHER)
    )
    name = b"system.posix_acl_access"
    r = kernel.setxattr(f, name, acl, len(acl), 0)  # root's own: what the mode says
    if r.errno == "EOPNOTSUPP":
        pytest.skip(f"the file system under {tmp} keeps no POSIX ACLs (EOPNOTSUPP)")
    r.unwrap()

    def run() -> str:
        drop_privileges()
        return kernel.setxattr(f, name, acl, len(acl), 0).outcome

    assert in_child(run) == "EPERM"


# --- the l* calls (the link itself) and the f* calls (an open descriptor) -----------------


@pytest.fixture
def link(f: Path) -> Path:
    path = f.with_name("link")
    path.symlink_to(f.name)
    return path


def _names(kernel: Kernel, buf, n: int) -> set[bytes]:
    return set(kernel.bytes(buf, n).split(b"\0")[:-1])


def test_lgetxattr_on_a_regular_file_reads_the_value(kernel: Kernel, f: Path) -> None:
    kernel.setxattr(f, NAME, b"plain", 5, 0).unwrap()
    buf = kernel.buf(16)
    assert kernel.bytes(buf, kernel.lgetxattr(f, NAME, buf, 16).unwrap()) == b"plain"


def test_lgetxattr_size_zero_returns_needed_size(kernel: Kernel, f: Path) -> None:
    kernel.setxattr(f, NAME, b"123456", 6, 0).unwrap()
    assert kernel.lgetxattr(f, NAME, None, 0).unwrap() == 6


def test_lgetxattr_small_buffer_is_erange(kernel: Kernel, f: Path) -> None:
    kernel.setxattr(f, NAME, b"123456", 6, 0).unwrap()
    assert kernel.lgetxattr(f, NAME, kernel.buf(3), 3).errno == "ERANGE"


def test_lgetxattr_does_not_follow_the_symlink(kernel: Kernel, f: Path, link: Path) -> None:
    kernel.setxattr(f, NAME, b"target", 6, 0).unwrap()
    via_link = kernel.getxattr(link, NAME, kernel.buf(16), 16)
    assert via_link.unwrap() == 6  # getxattr follows to the file
    assert kernel.lgetxattr(link, NAME, kernel.buf(16), 16).errno == "ENODATA"


def test_lgetxattr_missing_file_is_enoent(kernel: Kernel, tmp: Path) -> None:
    assert kernel.lgetxattr(tmp / "absent", NAME, kernel.buf(8), 8).errno == "ENOENT"


def test_llistxattr_of_a_symlink_leaves_out_its_targets_names(
    kernel: Kernel, f: Path, link: Path
) -> None:
    kernel.setxattr(f, NAME, b"v", 1, 0).unwrap()
    buf = kernel.buf(1024)
    followed = _names(kernel, buf, kernel.listxattr(link, buf, 1024).unwrap())
    own = _names(kernel, buf, kernel.llistxattr(link, buf, 1024).unwrap())
    assert NAME in followed and NAME not in own


def test_llistxattr_of_a_file_lists_its_names(kernel: Kernel, f: Path) -> None:
    kernel.setxattr(f, b"user.one", b"1", 1, 0).unwrap()
    buf = kernel.buf(1024)
    assert b"user.one" in _names(kernel, buf, kernel.llistxattr(f, buf, 1024).unwrap())


def test_llistxattr_size_zero_returns_the_size_a_listing_takes(kernel: Kernel, f: Path) -> None:
    kernel.setxattr(f, b"user.one", b"1", 1, 0).unwrap()
    need = kernel.llistxattr(f, None, 0).unwrap()
    buf = kernel.buf(1024)
    assert kernel.llistxattr(f, buf, 1024).unwrap() == need


def test_lremovexattr_removes_from_a_regular_file(kernel: Kernel, f: Path) -> None:
    kernel.setxattr(f, NAME, b"v", 1, 0).unwrap()
    kernel.lremovexattr(f, NAME).unwrap()
    assert kernel.getxattr(f, NAME, kernel.buf(8), 8).errno == "ENODATA"


def test_lremovexattr_user_namespace_on_a_symlink_is_eperm(
    kernel: Kernel, f: Path, link: Path
) -> None:
    kernel.setxattr(f, NAME, b"v", 1, 0).unwrap()
    assert kernel.lremovexattr(link, NAME).errno == "EPERM"
    assert kernel.getxattr(f, NAME, kernel.buf(8), 8).unwrap() == 1  # the target kept it


def test_lremovexattr_missing_attribute_is_enodata(kernel: Kernel, f: Path) -> None:
    assert kernel.lremovexattr(f, NAME).errno == "ENODATA"


def test_flistxattr_lists_the_names_of_the_open_file(kernel: Kernel, f: Path, fds) -> None:
    fd = fds.open(f, kernel.O_RDONLY)
    kernel.fsetxattr(fd, b"user.a", b"1", 1, 0).unwrap()
    kernel.fsetxattr(fd, b"user.b", b"2", 1, 0).unwrap()
    buf = kernel.buf(1024)
    assert {b"user.a", b"user.b"} <= _names(kernel, buf, kernel.flistxattr(fd, buf, 1024).unwrap())


def test_flistxattr_size_zero_returns_needed_size(kernel: Kernel, f: Path, fds) -> None:
    fd = fds.open(f, kernel.O_RDONLY)
    kernel.fsetxattr(fd, b"user.abc", b"1", 1, 0).unwrap()
    need = kernel.flistxattr(fd, None, 0).unwrap()
    assert need >= len(b"user.abc\0")
    assert kernel.flistxattr(fd, kernel.buf(need), need).unwrap() == need


def test_flistxattr_small_buffer_is_erange(kernel: Kernel, f: Path, fds) -> None:
    fd = fds.open(f, kernel.O_RDONLY)
    kernel.fsetxattr(fd, b"user.abcdef", b"1", 1, 0).unwrap()
    assert kernel.flistxattr(fd, kernel.buf(4), 4).errno == "ERANGE"


def test_flistxattr_on_a_closed_descriptor_is_ebadf(kernel: Kernel, f: Path, fds) -> None:
    fd = fds.open(f, kernel.O_RDONLY)
    fds.close(fd)
    assert kernel.flistxattr(fd, kernel.buf(64), 64).errno == "EBADF"


def test_fremovexattr_removes_through_a_read_only_descriptor(kernel: Kernel, f: Path, fds) -> None:
    fd = fds.open(f, kernel.O_RDONLY)
    kernel.fsetxattr(fd, NAME, b"v", 1, 0).unwrap()
    kernel.fremovexattr(fd, NAME).unwrap()
    assert kernel.fgetxattr(fd, NAME, kernel.buf(8), 8).errno == "ENODATA"


def test_fremovexattr_missing_attribute_is_enodata(kernel: Kernel, f: Path, fds) -> None:
    fd = fds.open(f, kernel.O_RDONLY)
    assert kernel.fremovexattr(fd, NAME).errno == "ENODATA"


def test_fremovexattr_on_an_o_path_descriptor_is_ebadf(kernel: Kernel, f: Path, fds) -> None:
    kernel.setxattr(f, NAME, b"v", 1, 0).unwrap()
    fd = fds.open(f, kernel.O_PATH)
    assert kernel.fremovexattr(fd, NAME).errno == "EBADF"


XATTR_NAME_MAX = 255  # include/uapi/linux/limits.h
XATTR_SIZE_MAX = 65536


def test_setxattr_name_longer_than_xattr_name_max_is_erange(kernel: Kernel, f: Path) -> None:
    name = b"user." + b"n" * (XATTR_NAME_MAX - 4)
    assert kernel.setxattr(f, name, b"a", 1, 0).errno == "ERANGE"


def test_setxattr_name_of_xattr_name_max_is_accepted(kernel: Kernel, f: Path) -> None:
    name = b"user." + b"n" * (XATTR_NAME_MAX - 5)
    kernel.setxattr(f, name, b"a", 1, 0).unwrap()
    assert kernel.getxattr(f, name, None, 0).unwrap() == 1


def test_setxattr_empty_name_is_erange(kernel: Kernel, f: Path) -> None:
    assert kernel.setxattr(f, b"", b"a", 1, 0).errno == "ERANGE"


def test_getxattr_name_longer_than_xattr_name_max_is_erange(kernel: Kernel, f: Path) -> None:
    name = b"user." + b"n" * (XATTR_NAME_MAX - 4)
    assert kernel.getxattr(f, name, kernel.buf(8), 8).errno == "ERANGE"


def test_setxattr_value_larger_than_xattr_size_max_is_e2big(kernel: Kernel, f: Path) -> None:
    value = b"v" * (XATTR_SIZE_MAX + 1)
    assert kernel.setxattr(f, NAME, value, len(value), 0).errno == "E2BIG"


def test_setxattr_unknown_flag_is_einval(kernel: Kernel, f: Path) -> None:
    assert kernel.setxattr(f, NAME, b"a", 1, 4).errno == "EINVAL"
    assert kernel.getxattr(f, NAME, None, 0).errno == "ENODATA"


def test_setxattr_replace_on_existing_changes_the_value(kernel: Kernel, f: Path) -> None:
    kernel.setxattr(f, NAME, b"old", 3, 0).unwrap()
    kernel.setxattr(f, NAME, b"new!", 4, kernel.XATTR_REPLACE).unwrap()
    assert _get(kernel, f) == b"new!"


def test_listxattr_small_buffer_is_erange(kernel: Kernel, f: Path) -> None:
    kernel.setxattr(f, NAME, b"a", 1, 0).unwrap()
    assert kernel.listxattr(f, kernel.buf(4), 4).errno == "ERANGE"


def test_getxattr_buffer_of_exactly_the_value_size_is_enough(kernel: Kernel, f: Path) -> None:
    kernel.setxattr(f, NAME, b"12345", 5, 0).unwrap()
    buf = kernel.buf(5)
    assert kernel.getxattr(f, NAME, buf, 5).unwrap() == 5
    assert kernel.bytes(buf, 5) == b"12345"
