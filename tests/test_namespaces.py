"""syscalls.namespaces: a user namespace with the caller as its root, a private mount
tree, and a mount or IPC namespace of one's own whoever one is. Each runs in a forked child
(syscalls.child), as the suites do."""

import os

import pytest

from syscalls import child, namespaces
from syscalls.abi import Platform
from syscalls.kernel import Errno, Kernel, Result


@pytest.fixture(scope="module")
def kernel() -> Kernel:
    return Kernel(Platform.load())


def _in_child(fn):
    return child.run(fn, 10, passthrough=(pytest.skip.Exception,))


def test_user_namespace_maps_the_caller_to_root_inside(kernel: Kernel) -> None:
    uid = os.geteuid()

    def run() -> tuple[int, str]:
        namespaces.user_namespace_or_skip(kernel)
        with open("/proc/self/uid_map") as f:
            return os.geteuid(), f.read().split()

    euid, uid_map = _in_child(run)
    assert euid == 0
    assert uid_map == ["0", str(uid), "1"]


def test_own_mount_namespace_is_a_new_one(kernel: Kernel) -> None:
    outside = os.stat("/proc/self/ns/mnt").st_ino

    def run() -> int:
        namespaces.own_mount_namespace(kernel)
        return os.stat("/proc/self/ns/mnt").st_ino

    assert _in_child(run) != outside


def test_own_mount_namespace_makes_the_tree_private(kernel: Kernel) -> None:
    def run() -> tuple[int, list[str]]:
        if os.geteuid() == 0:  # from a shared tree (the runner's own is private already)
            kernel.unshare(kernel.CLONE_NEWNS).unwrap()
            kernel.mount(None, b"/", None, kernel.MS_REC | kernel.MS_SHARED, None).unwrap()
        shared_before = len(_shared())
        namespaces.own_mount_namespace(kernel)
        return shared_before, _shared()

    shared_before, shared_after = _in_child(run)
    assert shared_after == []
    if os.geteuid() == 0:
        assert shared_before > 0


def test_own_ipc_namespace_is_a_new_empty_one(kernel: Kernel) -> None:
    outside = os.stat("/proc/self/ns/ipc").st_ino

    def run() -> tuple[int, list[str]]:
        namespaces.own_ipc_namespace(kernel)
        with open("/proc/sysvipc/msg") as f:
            return os.stat("/proc/self/ns/ipc").st_ino, f.readlines()[1:]  # after the header

    inside, queues = _in_child(run)
    assert inside != outside
    assert queues == []


def _shared() -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line for line in f if " shared:" in line]


def test_a_refused_user_namespace_is_a_skip_naming_the_errno() -> None:
    class Refusing:
        CLONE_NEWUSER = 0x10000000

        def unshare(self, flags: int) -> Result:
            p = Platform.load()
            return Result("unshare", -1, Errno(p.errno["EPERM"], p))

    with pytest.raises(pytest.skip.Exception, match=r"unshare\(CLONE_NEWUSER\): EPERM"):
        namespaces.user_namespace_or_skip(Refusing())  # type: ignore[arg-type]
