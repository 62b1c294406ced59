"""The mounts of the process that runs tests, where it has a mount namespace of its
own (syscalls.runner.namespaces): what a test left mounted in it.

After each test a poll() on /proc/self/mountinfo, kept open, says in one call whether
the mount table changed (the kernel marks the file on any change in the namespace;
Table.changed). Only then is the table read and compared (isolation reads it as part of
the state): mounts the test added are named and unmounted; one it removed or changed
cannot be put back, and the worker retires. Without a namespace of its own (not root,
or not allowed) the table is not watched: there a change may be the host's own, and no
unprivileged test can mount in the host's namespace anyway.
"""

from __future__ import annotations

import contextlib
import os
import select

from syscalls import mountinfo, processes
from syscalls.mountinfo import Mount
from syscalls.runner.highfd import out_of_the_way

MNT_DETACH = 2  # linux/mount.h
CHANGED = getattr(select, "POLLPRI", 2) | getattr(select, "POLLERR", 8)


def unmount(mounts: list[Mount]) -> None:
    """Each of `mounts` detached from the tree, the latest first (a mount made on top of
    another, or below it, goes before it)."""
    if not processes.LINUX:
        return
    for mount in sorted(mounts, key=lambda m: m.id, reverse=True):
        processes.LIBC.umount2(os.fsencode(mount.point), MNT_DETACH)


def differences(before: tuple[Mount, ...], after: tuple[Mount, ...]) -> str:
    """What changed between two readings of the table, for a test's failure."""
    old, new = {m.id: m for m in before}, {m.id: m for m in after}
    shown = [f"+{new[i]}" for i in sorted(new.keys() - old.keys())]
    shown += [f"-{old[i]}" for i in sorted(old.keys() - new.keys())]
    for i in sorted(old.keys() & new.keys()):
        was, now = old[i], new[i]
        if str(was) != str(now):  # moved (move_mount), say
            shown.append(f"~{was} -> {now}")
        elif _options(was) != _options(now):  # remounted, or its propagation changed
            shown.append(f"~{now} ({_options(was)} -> {_options(now)})")
        elif was != now:
            shown.append(f"~{now} (from {was.source!r} -> {now.source!r})")
    return ", ".join(shown) or "as they were"


def _options(m: Mount) -> str:
    shown = ",".join(sorted(m.options))
    return " ".join(x for x in (shown, m.super_options, m.propagation or "private") if x)


def added(before: tuple[Mount, ...], after: tuple[Mount, ...]) -> list[Mount]:
    ids = {m.id for m in before}
    return [m for m in after if m.id not in ids]


def read() -> tuple[Mount, ...] | None:
    found = mountinfo.read()
    return None if found is None else tuple(found)


class Table:
    """The mount table's change mark: /proc/self/mountinfo kept open (above the tests'
    range), opened again in a fork, when a test closed it, and after the state differed
    (a test may have put another file in its place)."""

    def __init__(self) -> None:
        self.fd: int | None = None
        self.pid = -1
        self.changes = 0  # how many times poll() has said so

    def changed(self) -> int:
        """A count that grows each time the table has changed since the last call."""
        if self.pid != os.getpid() or self.fd is None:
            self.reopen()
        if self.fd is None:
            return self.changes
        poller = select.poll()
        poller.register(self.fd, CHANGED)
        events = sum(e for _, e in poller.poll(0))
        if events & select.POLLNVAL:  # a test closed it: from now on, then
            self.reopen()
        elif events & CHANGED:
            self.changes += 1
        return self.changes

    def reopen(self) -> None:
        """The file opened afresh: the kernel marks the table's state at the open."""
        self.close()
        self.pid = os.getpid()
        with contextlib.suppress(OSError):
            self.fd = out_of_the_way(os.open(mountinfo.SELF, os.O_RDONLY | os.O_CLOEXEC))

    def close(self) -> None:
        if self.fd is not None and self.pid == os.getpid():
            with contextlib.suppress(OSError):
                os.close(self.fd)
        self.fd = None
