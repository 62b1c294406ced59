"""pivot_root(2): make a mounted directory the root of the caller's mount namespace and
put the old root under it (fs/namespace.c), in a child with a mount namespace of its own
(root unshares one; a user gets one inside a new user namespace, or the test skips).
The new root must be a mount point, and put_old reachable from it (EINVAL otherwise); a
new root that is already the root is EBUSY, or EINVAL where that root was inherited
from a more privileged namespace and is locked; without CAP_SYS_ADMIN over the mount
namespace it is EPERM. Everything dies with the child's namespace.
"""

import os
from pathlib import Path

import pytest

from syscalls import namespaces
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

AS_USER = pytest.mark.as_user("root may pivot_root (CAP_SYS_ADMIN)")


def _scratch(kernel: Kernel, tmp: Path) -> None:
    """Own mount namespace, and a tmpfs over tmp holding an empty directory `new`: the
    paths the tests use are then on a mount of their own, not on the root's (whether
    tmp is on the root file system or not would change the answers)."""
    namespaces.own_mount_namespace(kernel)
    kernel.mount(b"syscalls", tmp, b"tmpfs", 0, b"size=1m").unwrap()
    (tmp / "new").mkdir()


def _new_root(kernel: Kernel, where: Path) -> None:
    """The scratch mount, and a fresh tmpfs at `where` holding a marker and put_old."""
    _scratch(kernel, where.parent)
    kernel.mount(b"syscalls", where, b"tmpfs", 0, b"size=1m").unwrap()
    (where / "marker").write_bytes(b"new root")
    (where / "old").mkdir()


@pytest.fixture
def new(tmp: Path) -> Path:
    (tmp / "new").mkdir()
    return tmp / "new"


def test_pivot_root_makes_the_tmpfs_the_root_and_keeps_the_old_one_under_it(
    kernel: Kernel, new: Path, in_child
) -> None:
    def run() -> tuple[list[str], bool, bytes]:
        _new_root(kernel, new)
        kernel.pivot_root(new, new / "old").unwrap()
        old_still_there = os.path.isdir(f"/old{new}")
        kernel.umount2(b"/old", kernel.MNT_DETACH).unwrap()
        with open("/marker", "rb") as f:
            return sorted(os.listdir("/")), old_still_there, f.read()

    assert in_child(run) == (["marker", "old"], True, b"new root")
    assert list(new.iterdir()) == []  # the host never saw the mounts


def test_pivot_root_dot_dot_stacks_the_old_root_over_the_new(
    kernel: Kernel, new: Path, in_child
) -> None:
    def run() -> list[str]:
        _new_root(kernel, new)
        os.chdir(new)
        kernel.pivot_root(b".", b".").unwrap()
        kernel.umount2(b".", kernel.MNT_DETACH).unwrap()  # the old root, stacked on top
        os.chdir("/")
        return sorted(os.listdir("/"))

    assert in_child(run) == ["marker", "old"]


def test_pivot_root_new_root_that_is_no_mount_point_is_einval(
    kernel: Kernel, new: Path, in_child
) -> None:
    def run() -> str:
        _scratch(kernel, new.parent)
        (new / "old").mkdir()
        return kernel.pivot_root(new, new / "old").outcome

    assert in_child(run) == "EINVAL"


def test_pivot_root_put_old_outside_the_new_root_is_einval(
    kernel: Kernel, tmp: Path, new: Path, in_child
) -> None:
    def run() -> str:
        _new_root(kernel, new)
        (tmp / "elsewhere").mkdir()
        return kernel.pivot_root(new, tmp / "elsewhere").outcome

    assert in_child(run) == "EINVAL"


@pytest.mark.root
def test_pivot_root_onto_the_current_root_is_ebusy(kernel: Kernel, in_child) -> None:
    def run() -> str:
        namespaces.private_mounts(kernel)
        return kernel.pivot_root(b"/", b"/").outcome

    assert in_child(run) == "EBUSY"


def test_pivot_root_of_a_mount_locked_by_a_new_user_namespace_is_einval(
    kernel: Kernel, in_child
) -> None:
    def run() -> str:
        # Mounts copied into a mount namespace of a less privileged user namespace are
        # locked (fs/namespace.c lock_mnt_tree): they cannot be pivoted away.
        namespaces.user_namespace_or_skip(kernel, kernel.CLONE_NEWNS)
        return kernel.pivot_root(b"/", b"/").outcome

    assert in_child(run) == "EINVAL"


def test_pivot_root_new_root_that_is_a_file_is_enotdir(
    kernel: Kernel, tmp: Path, new: Path, in_child
) -> None:
    def run() -> str:
        _new_root(kernel, new)
        (tmp / "f").write_bytes(b"")
        return kernel.pivot_root(tmp / "f", new / "old").outcome

    assert in_child(run) == "ENOTDIR"


def test_pivot_root_missing_put_old_is_enoent(kernel: Kernel, new: Path, in_child) -> None:
    def run() -> str:
        _new_root(kernel, new)
        return kernel.pivot_root(new, new / "absent").outcome

    assert in_child(run) == "ENOENT"


@AS_USER
def test_pivot_root_as_a_user_is_eperm(kernel: Kernel, new: Path) -> None:
    (new / "old").mkdir()
    assert kernel.pivot_root(new, new / "old").errno == "EPERM"
