"""Fresh namespaces for tests that must not touch the host: a private mount tree, an
IPC namespace of one's own, and a user namespace in which the caller is root (for tests
run as a user, or tests that show what root in a user namespace still may not do).

Call these inside `in_child` (or a forked child): the namespaces live as long as the
process that entered them, and die with it, with everything mounted inside.
"""

from __future__ import annotations

import os

import pytest

from syscalls.kernel import Kernel, Result

# Answers of unshare(CLONE_NEWUSER) that mean "not allowed here", not a kernel bug:
# EPERM (a sysctl or LSM forbids it, or the process is chrooted), EINVAL (no
# CONFIG_USER_NS), ENOSPC (max_user_namespaces is 0), EUSERS (nesting too deep).
USERNS_REFUSED = ("EPERM", "EINVAL", "ENOSPC", "EUSERS")


def private_mounts(kernel: Kernel) -> None:
    """unshare(CLONE_NEWNS) and make the whole tree private, so that nothing mounted
    from here on propagates back to the namespace the process came from."""
    kernel.unshare(kernel.CLONE_NEWNS).unwrap()
    kernel.mount(None, b"/", None, kernel.MS_REC | kernel.MS_PRIVATE, None).unwrap()


def user_namespace(kernel: Kernel, flags: int = 0) -> Result:
    """unshare(CLONE_NEWUSER | flags), then map the caller's euid and egid to 0 inside
    (setgroups denied first, as an unprivileged writer of gid_map must). The unshare's
    Result: a refusal is the caller's to judge (see USERNS_REFUSED)."""
    uid, gid = os.geteuid(), os.getegid()
    r = kernel.unshare(kernel.CLONE_NEWUSER | flags)
    if r.ok:
        if os.path.exists("/proc/self/setgroups"):  # Linux >= 3.19; gVisor has none
            _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"0 {uid} 1")
        _write("/proc/self/gid_map", f"0 {gid} 1")
    return r


def user_namespace_or_skip(kernel: Kernel, flags: int = 0) -> None:
    """user_namespace(), skipping the test where this kernel or its settings refuse one."""
    r = user_namespace(kernel, flags)
    if r.errno is not None and r.errno.name in USERNS_REFUSED:
        pytest.skip(
            f"no user namespace here (unshare(CLONE_NEWUSER): {r.errno.name}; "
            "a sysctl, a security module or a chroot refuses them)"
        )
    r.unwrap()


def own_mount_namespace(kernel: Kernel) -> None:
    """A private mount namespace whoever the caller is: root unshares one (see
    private_mounts); anyone else gets one inside a new user namespace where it is root,
    or the test skips where user namespaces are refused."""
    if os.geteuid() == 0:
        private_mounts(kernel)
        return
    user_namespace_or_skip(kernel, kernel.CLONE_NEWNS)
    kernel.mount(None, b"/", None, kernel.MS_REC | kernel.MS_PRIVATE, None).unwrap()


def own_ipc_namespace(kernel: Kernel) -> None:
    """An IPC namespace of the caller's own, empty: System V objects and POSIX message
    queues counted there are the test's alone, which the host's namespace (shared with
    the run's other tests) cannot give. Root unshares one; anyone else gets one inside
    a new user namespace, or the test skips where user namespaces are refused."""
    if os.geteuid() == 0:
        kernel.unshare(kernel.CLONE_NEWIPC).unwrap()
    else:
        user_namespace_or_skip(kernel, kernel.CLONE_NEWIPC)


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
