"""quotactl(2) and quotactl_fd(2) (Linux >= 5.14) on file systems without quotas
switched on: the error paths every kernel takes (fs/quota/quota.c), and on a file system
that supports quotas (ext4, xfs) the answers for quotas that are off.

quotactl(QCMD(cmd, type), special, id, addr) names the file system by a block device
path; quotactl_fd by an open descriptor. A type past MAXQUOTAS is EINVAL before anything
else; Q_SYNC with a NULL device syncs every file system with quotas on. Reading the
format or info of a quota that is off is ESRCH; changing it needs CAP_SYS_ADMIN, and
reading another user's usage too. A file system with no quota support at all (tmpfs
mounted without quota options) answers ENOSYS: the tests that need quota support use
disk_tmp and skip elsewhere, saying so.
"""

import os
from pathlib import Path

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

AS_USER = pytest.mark.as_user("root passes quotactl's privilege checks (CAP_SYS_ADMIN)")
QUOTA_CAPABLE = ("EXT4_SUPER_MAGIC", "XFS_SUPER_MAGIC")


def qcmd(kernel: Kernel, cmd: str, kind: str = "USRQUOTA") -> int:
    return getattr(kernel, cmd) << kernel.SUBCMDSHIFT | getattr(kernel, kind)


@pytest.fixture
def quota_fd(kernel: Kernel, disk_tmp: Path, fds) -> int:
    """A descriptor on a file system with quota support, quotas off."""
    st = kernel.new("struct statfs *")
    kernel.statfs(disk_tmp, st).unwrap()
    if st.f_type not in [getattr(kernel, m) for m in QUOTA_CAPABLE]:
        pytest.skip(
            f"the file system under {disk_tmp} has no quota support (f_type {st.f_type:#x})"
        )
    return fds.open(disk_tmp, kernel.O_RDONLY | kernel.O_DIRECTORY)


# --- quotactl --------------------------------------------------------------------------------


def test_quotactl_sync_of_every_file_system_succeeds(kernel: Kernel) -> None:
    assert kernel.quotactl(qcmd(kernel, "Q_SYNC"), None, 0, None).unwrap() == 0


def test_quotactl_without_a_device_is_enodev_but_for_sync(kernel: Kernel) -> None:
    out = kernel.new("uint32_t *")
    assert kernel.quotactl(qcmd(kernel, "Q_GETFMT"), None, 0, out).errno == "ENODEV"


def test_quotactl_type_past_maxquotas_is_einval(kernel: Kernel) -> None:
    cmd = kernel.Q_SYNC << kernel.SUBCMDSHIFT | kernel.MAXQUOTAS
    assert kernel.quotactl(cmd, None, 0, None).errno == "EINVAL"


def test_quotactl_on_a_regular_file_is_enotblk(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    out = kernel.new("uint32_t *")
    assert kernel.quotactl(qcmd(kernel, "Q_GETFMT"), tmp / "f", 0, out).errno == "ENOTBLK"


def test_quotactl_on_a_missing_device_path_is_enoent(kernel: Kernel, tmp: Path) -> None:
    out = kernel.new("uint32_t *")
    assert kernel.quotactl(qcmd(kernel, "Q_GETFMT"), tmp / "absent", 0, out).errno == "ENOENT"


@pytest.mark.requires("fault_handler")
def test_quotactl_unmapped_device_path_is_efault(kernel: Kernel) -> None:
    assert kernel.quotactl(qcmd(kernel, "Q_GETFMT"), 8, 0, None).errno == "EFAULT"


@pytest.mark.root
def test_quotactl_on_a_block_device_with_no_file_system_is_enodev(
    kernel: Kernel, tmp: Path
) -> None:
    node = tmp / "blk"
    kernel.mknodat(kernel.AT_FDCWD, node, kernel.S_IFBLK | 0o600, os.makedev(259, 999999)).unwrap()
    out = kernel.new("uint32_t *")
    assert kernel.quotactl(qcmd(kernel, "Q_GETFMT"), node, 0, out).errno == "ENODEV"


@pytest.mark.root
def test_quotactl_by_device_reaches_the_file_system_of_that_device(
    kernel: Kernel, quota_fd: int, disk_tmp: Path
) -> None:
    node = disk_tmp / "dev"
    dev = os.stat(disk_tmp).st_dev
    kernel.mknodat(kernel.AT_FDCWD, node, kernel.S_IFBLK | 0o600, dev).unwrap()
    by_path = kernel.quotactl(qcmd(kernel, "Q_GETFMT"), node, 0, kernel.new("uint32_t *"))
    by_fd = kernel.quotactl_fd(quota_fd, qcmd(kernel, "Q_GETFMT"), 0, kernel.new("uint32_t *"))
    assert by_path.outcome == by_fd.outcome == "ESRCH"


# --- quotactl_fd -----------------------------------------------------------------------------


@pytest.mark.min_kernel("5.14")
def test_quotactl_fd_on_a_closed_descriptor_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.open(tmp, kernel.O_RDONLY)
    fds.close(fd)
    assert kernel.quotactl_fd(fd, qcmd(kernel, "Q_SYNC"), 0, None).errno == "EBADF"


@pytest.mark.min_kernel("5.14")
def test_quotactl_fd_type_past_maxquotas_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.open(tmp, kernel.O_RDONLY)
    cmd = kernel.Q_GETFMT << kernel.SUBCMDSHIFT | kernel.MAXQUOTAS
    assert kernel.quotactl_fd(fd, cmd, 0, kernel.new("uint32_t *")).errno == "EINVAL"


@pytest.mark.min_kernel("5.14")
@pytest.mark.parametrize("kind", ["USRQUOTA", "GRPQUOTA", "PRJQUOTA"])
def test_quotactl_fd_getfmt_of_a_quota_that_is_off_is_esrch(
    kernel: Kernel, quota_fd: int, kind: str
) -> None:
    out = kernel.new("uint32_t *")
    assert kernel.quotactl_fd(quota_fd, qcmd(kernel, "Q_GETFMT", kind), 0, out).errno == "ESRCH"


@pytest.mark.min_kernel("5.14")
def test_quotactl_fd_getinfo_of_a_quota_that_is_off_is_esrch(kernel: Kernel, quota_fd: int) -> None:
    info = kernel.buf(72)  # struct if_dqinfo
    assert kernel.quotactl_fd(quota_fd, qcmd(kernel, "Q_GETINFO"), 0, info).errno == "ESRCH"


@pytest.mark.min_kernel("5.14")
def test_quotactl_fd_sync_of_a_file_system_without_quotas_on_succeeds(
    kernel: Kernel, quota_fd: int
) -> None:
    assert kernel.quotactl_fd(quota_fd, qcmd(kernel, "Q_SYNC"), 0, None).unwrap() == 0


@pytest.mark.root
@pytest.mark.min_kernel("5.14")
def test_quotactl_fd_unknown_command_is_einval(kernel: Kernel, quota_fd: int) -> None:
    assert kernel.quotactl_fd(quota_fd, 0x7FFF << kernel.SUBCMDSHIFT, 0, None).errno == "EINVAL"


@AS_USER
@pytest.mark.min_kernel("5.14")
def test_quotactl_fd_unknown_command_as_a_user_is_eperm_first(
    kernel: Kernel, quota_fd: int
) -> None:
    assert kernel.quotactl_fd(quota_fd, 0x7FFF << kernel.SUBCMDSHIFT, 0, None).errno == "EPERM"


@AS_USER
@pytest.mark.min_kernel("5.14")
def test_quotactl_fd_setinfo_as_a_user_is_eperm(kernel: Kernel, quota_fd: int) -> None:
    info = kernel.buf(72)
    assert kernel.quotactl_fd(quota_fd, qcmd(kernel, "Q_SETINFO"), 0, info).errno == "EPERM"


@AS_USER
@pytest.mark.min_kernel("5.14")
def test_quotactl_fd_getquota_of_another_user_is_eperm(kernel: Kernel, quota_fd: int) -> None:
    dqblk = kernel.buf(72)  # struct if_dqblk
    assert kernel.quotactl_fd(quota_fd, qcmd(kernel, "Q_GETQUOTA"), 0, dqblk).errno == "EPERM"


@pytest.mark.min_kernel("5.14")
def test_quotactl_fd_getquota_of_oneself_with_quotas_off_is_esrch(
    kernel: Kernel, quota_fd: int
) -> None:
    dqblk = kernel.buf(72)
    r = kernel.quotactl_fd(quota_fd, qcmd(kernel, "Q_GETQUOTA"), os.geteuid(), dqblk)
    assert r.errno == "ESRCH"
