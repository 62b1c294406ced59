"""As root, the process that runs tests in namespaces of its own: mount, UTS and IPC.

Root's tests can change what the whole machine shares: mount over /tmp, set the host
name, leave a SysV shared memory segment or a POSIX message queue behind. The suite's
do it in a child that has entered namespaces of its own first
(syscalls.namespaces.private_mounts, unshare(CLONE_NEWUTS)). A test that forgets -- or
one whose child's namespace still propagates mounts to its parent's -- would change the
host, beyond the run, and every later test with it. So at start-up the test process
enters a mount namespace with every mount private, and a UTS and an IPC namespace
(contain): what a test mounts, the names it sets, the IPC objects it leaves stay in
that process and go with it. The mount table and the names are also compared after each
test (syscalls.runner.isolation): a test that changed them fails, named.

A user's tests cannot change those of the host's namespaces, and nothing is done.
"""

from __future__ import annotations

import os

from syscalls import processes

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000  # linux/sched.h
MS_REC, MS_PRIVATE = 0x4000, 0x40000  # linux/mount.h
OWN = {"mnt": CLONE_NEWNS, "uts": CLONE_NEWUTS, "ipc": CLONE_NEWIPC}


def contain() -> frozenset[str]:
    """This process in mount, UTS and IPC namespaces of its own, every mount private
    (nothing mounted here propagates out, nor from the host in): the names of those it
    entered ("mnt", "uts", "ipc"). None where it cannot: not Linux, not root, no
    CAP_SYS_ADMIN, a kernel without one of them, another thread sharing this one's file
    system context."""
    if not processes.LINUX or os.geteuid() != 0:
        return frozenset()
    entered = {name for name, flag in OWN.items() if flag != CLONE_NEWNS and _unshare(flag)}
    if _private_mounts():
        entered.add("mnt")
    return frozenset(entered)


def _unshare(flag: int) -> bool:
    return processes.LIBC.unshare(flag) == 0


def _private_mounts() -> bool:
    libc = processes.LIBC
    try:
        before = os.open("/proc/self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        if not _unshare(CLONE_NEWNS):
            return False
        if libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) == 0:
            return True
        libc.setns(before, CLONE_NEWNS)  # still propagating both ways: back as it was
        return False
    finally:
        os.close(before)
