"""chmod/fchmod/fchmodat(2): mode bits set exactly; only the owner (or root) may.

The fchmodat syscall has no flags argument on Linux (fchmodat2, Linux 6.6, adds one).
"""

import os
from pathlib import Path

import pytest

from syscalls.expect import ByOS
from syscalls.kernel import Kernel

AS_USER = pytest.mark.as_user("root may chmod any file (CAP_FOWNER)")


def _mode(kernel: Kernel, path: Path | str) -> int:
    st = kernel.new("struct stat *")
    kernel.fstatat(kernel.AT_FDCWD, path, st, 0).unwrap()
    return st.st_mode & 0o7777


# The sticky bit on a file that is not a directory: Linux lets the owner set it; the
# BSDs refuse it to a caller without privilege (NetBSD sys/miscfs/genfs/genfs_vnops.c,
# genfs_can_chmod: EFTYPE), root may.
USER_STICKY_FILE = ByOS(default="ok", netbsd="EFTYPE")


def test_fchmodat_sets_the_mode_bits(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    kernel.fchmodat(kernel.AT_FDCWD, tmp / "f", 0o751).unwrap()
    assert _mode(kernel, tmp / "f") == 0o751


@pytest.mark.root
def test_fchmodat_root_sets_the_sticky_bit_on_a_file(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    kernel.fchmodat(kernel.AT_FDCWD, tmp / "f", 0o1751).unwrap()
    assert _mode(kernel, tmp / "f") == 0o1751


@AS_USER
def test_fchmodat_sticky_bit_on_a_file_as_a_user(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    before = _mode(kernel, tmp / "f")
    r = kernel.fchmodat(kernel.AT_FDCWD, tmp / "f", 0o1751)
    assert r.outcome == USER_STICKY_FILE[kernel.platform.os]
    assert _mode(kernel, tmp / "f") == (0o1751 if r.ok else before)  # nothing half-done


def test_fchmod_sets_mode_through_fd(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    kernel.fchmod(fd, 0o640).unwrap()
    assert _mode(kernel, tmp / "f") == 0o640


def test_fchmodat_missing_file_is_enoent(kernel: Kernel, tmp: Path) -> None:
    assert kernel.fchmodat(kernel.AT_FDCWD, tmp / "absent", 0o600).errno == "ENOENT"


@AS_USER
def test_fchmodat_on_file_of_another_user_is_eperm(kernel: Kernel, anothers_file) -> None:
    path = anothers_file()  # asking for its current mode changes nothing even if allowed
    assert kernel.fchmodat(kernel.AT_FDCWD, path, _mode(kernel, str(path))).errno == "EPERM"


@pytest.mark.os("linux")
def test_fchmod_on_o_path_fd_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"", kernel.O_PATH)
    assert kernel.fchmod(fd, 0o600).errno == "EBADF"


def test_chmod_legacy_call_sets_mode(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    kernel.chmod(tmp / "f", 0o604).unwrap()
    assert _mode(kernel, tmp / "f") == 0o604


# Only the permission bits (07777) of the mode are taken; the file type stays
# (fs/open.c chmod_common: mode & S_IALLUGO).
def test_fchmodat_ignores_bits_above_07777(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    kernel.fchmodat(kernel.AT_FDCWD, tmp / "f", 0o170640).unwrap()
    st = kernel.new("struct stat *")
    kernel.fstatat(kernel.AT_FDCWD, tmp / "f", st, 0).unwrap()
    assert st.st_mode == kernel.S_IFREG | 0o640


def test_fchmodat_follows_a_symlink(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    (tmp / "f").chmod(0o600)
    (tmp / "link").symlink_to("f")
    kernel.fchmodat(kernel.AT_FDCWD, tmp / "link", 0o640).unwrap()
    assert _mode(kernel, tmp / "f") == 0o640


# Set-group-ID asked for on an own file of a group the caller is not in: Linux takes the
# chmod and drops the bit (fs/attr.c setattr_prepare: in_group_or_capable, else
# CAP_FSETID). Root makes nobody's file of group 0 and opens it; a child become nobody
# changes its mode through that descriptor.
@pytest.mark.os("linux")
@pytest.mark.root
def test_fchmod_setgid_of_a_group_not_ours_is_dropped_for_a_user(
    kernel: Kernel, tmp: Path, in_child, drop_privileges
) -> None:
    (tmp / "f").write_bytes(b"")
    os.chown(tmp / "f", 65534, 0)
    fd = os.open(tmp / "f", os.O_RDONLY)

    def run() -> str:
        drop_privileges()
        return kernel.fchmod(fd, 0o2755).outcome

    try:
        assert in_child(run) == "ok"
    finally:
        os.close(fd)
    assert _mode(kernel, tmp / "f") == 0o755


@pytest.mark.os("linux")
def test_chmod_updates_ctime_and_leaves_mtime(kernel: Kernel, tmp: Path, stamps) -> None:
    path = tmp / "f"
    path.write_bytes(b"")
    path.chmod(0o600)
    stamps.backdate(path)
    _, _, ctime, _ = stamps.of(path)
    kernel.fchmodat(kernel.AT_FDCWD, path, 0o640, 0).unwrap()
    _, mtime, ctime_after, _ = stamps.of(path)
    assert ctime_after > ctime  # the inode changed
    assert mtime == stamps.PAST * 10**9  # its data did not
