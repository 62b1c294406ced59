"""mount(2) and umount2(2), as root, inside a fresh mount namespace in a child.

Every test first unshares CLONE_NEWNS and makes the whole tree MS_PRIVATE, so nothing
it mounts propagates back to the host; the namespace, with its mounts, dies with the
child. As a user, mount and unshare(CLONE_NEWNS) are refused (CAP_SYS_ADMIN).
"""

import os
from pathlib import Path

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

AS_USER = pytest.mark.as_user("root may mount (CAP_SYS_ADMIN)")


def _private_namespace(kernel: Kernel) -> None:
    kernel.unshare(kernel.CLONE_NEWNS).unwrap()
    kernel.mount(None, b"/", None, kernel.MS_REC | kernel.MS_PRIVATE, None).unwrap()


def _tmpfs(kernel: Kernel, target: Path, flags: int = 0):
    return kernel.mount(b"syscalls", target, b"tmpfs", flags, b"size=1m")


@pytest.fixture
def mnt(tmp: Path) -> Path:
    (tmp / "mnt").mkdir()
    return tmp / "mnt"


@pytest.mark.root
def test_mount_tmpfs_shows_in_statfs_and_holds_files(kernel: Kernel, mnt: Path, in_child) -> None:
    def run() -> tuple[int, bool]:
        _private_namespace(kernel)
        _tmpfs(kernel, mnt).unwrap()
        (mnt / "inside").write_bytes(b"x")
        st = kernel.new("struct statfs *")
        kernel.statfs(mnt, st).unwrap()
        return st.f_type, (mnt / "inside").exists()

    f_type, exists = in_child(run)
    assert f_type == kernel.TMPFS_MAGIC
    assert exists
    assert list(mnt.iterdir()) == []  # the host never saw the mount


@pytest.mark.root
def test_umount2_reveals_the_directory_underneath(kernel: Kernel, mnt: Path, in_child) -> None:
    (mnt / "under").write_bytes(b"")

    def run() -> tuple[list[str], list[str]]:
        _private_namespace(kernel)
        _tmpfs(kernel, mnt).unwrap()
        during = sorted(os.listdir(mnt))
        kernel.umount2(mnt, 0).unwrap()
        return during, sorted(os.listdir(mnt))

    assert in_child(run) == ([], ["under"])


@pytest.mark.root
def test_umount2_of_a_directory_that_is_no_mount_is_einval(
    kernel: Kernel, mnt: Path, in_child
) -> None:
    def run() -> str:
        _private_namespace(kernel)
        return kernel.umount2(mnt, 0).outcome

    assert in_child(run) == "EINVAL"


@pytest.mark.root
def test_umount2_of_a_busy_mount_is_ebusy_and_detach_succeeds(
    kernel: Kernel, mnt: Path, in_child
) -> None:
    def run() -> tuple[str, str]:
        _private_namespace(kernel)
        _tmpfs(kernel, mnt).unwrap()
        fd = os.open(mnt, os.O_RDONLY | os.O_DIRECTORY)  # keeps it busy
        busy = kernel.umount2(mnt, 0).outcome
        lazy = kernel.umount2(mnt, kernel.MNT_DETACH).outcome
        os.close(fd)
        return busy, lazy

    assert in_child(run) == ("EBUSY", "ok")


@pytest.mark.root
def test_mount_unknown_filesystem_type_is_enodev(kernel: Kernel, mnt: Path, in_child) -> None:
    def run() -> str:
        _private_namespace(kernel)
        return kernel.mount(b"none", mnt, b"no-such-fs", 0, None).outcome

    assert in_child(run) == "ENODEV"


@pytest.mark.root
def test_mount_on_missing_target_is_enoent(kernel: Kernel, tmp: Path, in_child) -> None:
    def run() -> str:
        _private_namespace(kernel)
        return _tmpfs(kernel, tmp / "absent").outcome

    assert in_child(run) == "ENOENT"


@pytest.mark.root
def test_mount_bind_shows_the_source_tree(kernel: Kernel, tmp: Path, mnt: Path, in_child) -> None:
    (tmp / "src").mkdir()
    (tmp / "src" / "f").write_bytes(b"bound")

    def run() -> bytes:
        _private_namespace(kernel)
        kernel.mount(tmp / "src", mnt, None, kernel.MS_BIND, None).unwrap()
        return (mnt / "f").read_bytes()

    assert in_child(run) == b"bound"


@pytest.mark.root
def test_mount_read_only_refuses_new_files_with_erofs(kernel: Kernel, mnt: Path, in_child) -> None:
    def run() -> str:
        _private_namespace(kernel)
        _tmpfs(kernel, mnt, kernel.MS_RDONLY).unwrap()
        return kernel.openat(
            kernel.AT_FDCWD, mnt / "f", kernel.O_CREAT | kernel.O_WRONLY, 0o600
        ).outcome

    assert in_child(run) == "EROFS"


@pytest.mark.root
def test_mount_remount_read_only_applies_to_the_mounted_tree(
    kernel: Kernel, mnt: Path, in_child
) -> None:
    def run() -> tuple[str, str]:
        _private_namespace(kernel)
        _tmpfs(kernel, mnt).unwrap()
        (mnt / "before").write_bytes(b"")
        kernel.mount(None, mnt, None, kernel.MS_REMOUNT | kernel.MS_RDONLY, None).unwrap()
        r = kernel.openat(kernel.AT_FDCWD, mnt / "after", kernel.O_CREAT | kernel.O_WRONLY, 0o600)
        return r.outcome, "before" if (mnt / "before").exists() else "lost"

    assert in_child(run) == ("EROFS", "before")


@AS_USER
def test_mount_without_privilege_is_eperm(kernel: Kernel, mnt: Path) -> None:
    assert _tmpfs(kernel, mnt).errno == "EPERM"


@AS_USER
def test_unshare_mount_namespace_without_privilege_is_eperm(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: kernel.unshare(kernel.CLONE_NEWNS).outcome) == "EPERM"


@AS_USER
@pytest.mark.parametrize("flags", ["", "MNT_DETACH"])
def test_umount2_without_privilege_is_eperm(kernel: Kernel, mnt: Path, bits, flags: str) -> None:
    """fs/namespace.c can_umount: may_mount first; granted, mnt (no mount) is EINVAL."""
    assert kernel.umount2(mnt, bits(flags)).errno == "EPERM"
