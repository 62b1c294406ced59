"""clone(2) without CLONE_VM: fork-like children with tid reporting and exit signals.

Calls use x86_64's argument order, clone(flags, stack, parent_tid, child_tid, tls);
on i386, aarch64 and riscv64 (CONFIG_CLONE_BACKWARDS: tls before child_tid) the
bindings swap the last two (syscalls/kernel.py, abi_i386.py). A child with an exit
signal other than SIGCHLD is a "clone child": wait4 only sees it with __WCLONE or
__WALL.
"""

import os
import signal

import pytest

from syscalls import forking
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

# include/uapi/linux/wait.h; not in the generated table.
WCLONE = 0x80000000
WALL = 0x40000000


def _clone(kernel: Kernel, flags: int, ptid=0, ctid=0, body=None) -> int:
    return forking.child_side(kernel.clone(flags, 0, ptid, ctid, 0).unwrap(), body)


def test_clone_parent_settid_stores_child_tid_in_parent(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        ptid = kernel.new("int *", 0)
        pid = _clone(kernel, kernel.SIGCHLD | kernel.CLONE_PARENT_SETTID, ptid)
        forking.wait(kernel, pid)
        return pid, ptid[0]

    pid, stored = in_child(run)
    assert stored == pid


def test_clone_child_settid_stores_tid_in_childs_memory(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        ctid = kernel.new("int *", 0)
        pid = _clone(
            kernel,
            kernel.SIGCHLD | kernel.CLONE_CHILD_SETTID,
            ctid=ctid,
            body=lambda: 0 if ctid[0] == kernel.gettid().value else 1,
        )
        return forking.exit_code(kernel, pid), ctid[0]

    code, parent_copy = in_child(run)
    assert code == 0
    assert parent_copy == 0  # written in the child's copy only


def test_clone_exit_signal_is_sent_to_parent(kernel: Kernel, in_child) -> None:
    def run() -> bool:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
        pid = _clone(kernel, signal.SIGUSR1)
        status = kernel.new("int *")
        assert kernel.wait4(pid, status, WALL, None).unwrap() == pid
        return signal.SIGUSR1 in signal.sigpending()

    assert in_child(run) is True


def test_clone_child_with_other_exit_signal_is_invisible_to_plain_wait4(
    kernel: Kernel, in_child
) -> None:
    def run() -> tuple[str, int]:
        pid = _clone(kernel, 0)  # no exit signal at all
        status = kernel.new("int *")
        plain = kernel.wait4(pid, status, 0, None).outcome
        got = kernel.wait4(pid, status, WCLONE, None).unwrap()
        return plain, got - pid

    plain, delta = in_child(run)
    assert plain == "ECHILD"
    assert delta == 0


def test_clone_parent_makes_child_a_sibling(kernel: Kernel, in_child) -> None:
    def run() -> int:
        r, w = os.pipe()

        def middle() -> None:
            pid = _clone(kernel, kernel.SIGCHLD | kernel.CLONE_PARENT, body=lambda: 5)
            os.write(w, pid.to_bytes(4, "little"))

        mid = forking.fork(kernel, middle)
        sibling = int.from_bytes(os.read(r, 4), "little")
        assert forking.exit_code(kernel, mid) == 0
        return forking.exit_code(kernel, sibling)

    code = in_child(run)
    assert code == 5  # reaped by the middle process's parent


@pytest.mark.parametrize(
    ("flags", "why"),
    [
        (("CLONE_THREAD",), "CLONE_THREAD needs CLONE_SIGHAND"),
        (("CLONE_SIGHAND",), "CLONE_SIGHAND needs CLONE_VM"),
        (("CLONE_NEWNS", "CLONE_FS"), "a new mount namespace cannot share fs info"),
        (("CLONE_NEWUSER", "CLONE_FS"), "a new user namespace cannot share fs info"),
    ],
)
def test_clone_inconsistent_flags_are_einval(
    kernel: Kernel, in_child, flags: tuple[str, ...], why: str
) -> None:
    mask = kernel.SIGCHLD
    for name in flags:
        mask |= getattr(kernel, name)
    assert in_child(lambda: _clone_outcome(kernel, mask)) == "EINVAL", why


def _clone_outcome(kernel: Kernel, flags: int) -> str:
    r = kernel.clone(flags, 0, 0, 0, 0)
    if r.value == 0:
        os._exit(0)
    if r.ok:
        forking.wait(kernel, r.value)
    return r.outcome


@pytest.mark.min_kernel("5.2")
def test_clone_pidfd_returns_pidfd_through_parent_tid(kernel: Kernel, in_child) -> None:
    def run() -> int:
        pidfd = kernel.new("int *", -1)
        pid = _clone(kernel, kernel.SIGCHLD | kernel.CLONE_PIDFD, pidfd)
        try:
            assert pidfd[0] >= 0
            link = os.readlink(f"/proc/self/fd/{pidfd[0]}")
            assert "pidfd" in link, link
            return kernel.fcntl(pidfd[0], kernel.F_GETFD, 0).unwrap() & kernel.FD_CLOEXEC
        finally:
            forking.wait(kernel, pid)

    assert in_child(run) == kernel.FD_CLOEXEC


@pytest.mark.min_kernel("5.2")
def test_clone_pidfd_with_parent_settid_is_einval(kernel: Kernel, in_child) -> None:
    """Legacy clone returns both through the same pointer, so they exclude each other."""
    flags = kernel.SIGCHLD | kernel.CLONE_PIDFD | kernel.CLONE_PARENT_SETTID
    assert in_child(lambda: _clone_outcome(kernel, flags)) == "EINVAL"


@pytest.mark.min_kernel("5.2")
def test_clone_pidfd_with_detached_is_einval(kernel: Kernel, in_child) -> None:
    """CLONE_DETACHED is ignored by clone, but refused beside CLONE_PIDFD."""
    flags = kernel.SIGCHLD | kernel.CLONE_PIDFD | kernel.CLONE_DETACHED
    pidfd = kernel.new("int *", -1)

    def run() -> str:
        r = kernel.clone(flags, 0, pidfd, 0, 0)
        if r.value == 0:
            os._exit(0)
        if r.ok:
            forking.wait(kernel, r.value)
        return r.outcome

    assert in_child(run) == "EINVAL"


def test_clone_detached_alone_is_ignored(kernel: Kernel, in_child) -> None:
    def run() -> int:
        r = kernel.clone(kernel.SIGCHLD | kernel.CLONE_DETACHED, 0, 0, 0, 0)
        if r.value == 0:
            os._exit(5)
        return forking.exit_code(kernel, r.unwrap())

    assert in_child(run) == 5
