"""The file descriptors a test leaves open, and the standard streams it leaves closed.

A test that opens a file and forgets it leaves every later test of its worker one
descriptor poorer; a loop that opens until EMFILE leaves them none, and they fail with
EMFILE far from the cause. A test that closes sys.stdout closes pytest's capture file
with it, and the tests after it error in their setup. The runner keeps its own
descriptors at HIGH_FD and above (highfd.OWN); the set of all others open after each
test -- below HIGH_FD, and above it those that are not the runner's (a test's
os.dup2(fd, 700)) -- is compared with the set after the test before
(syscalls.runner.isolation).
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import io
import os
import select
import socket
import sys
from collections.abc import Iterable
from typing import Any

from syscalls.runner.highfd import HIGH_FD, OWN

DESCRIPTORS = "open descriptors"
STREAMS = "standard streams"
# O_NONBLOCK is the open file's, shared by every descriptor of it: a test that set it on
# its worker's pipe to the controller passed, and the worker died asking for its next
# tests. Checked on the descriptors this process alone holds (PRIVATE: a forked worker's
# pipes); the controller checks its own standard streams (runner.guard), which a test
# reaches through the worker's inherited copies: the user's shell read EAGAIN after it.
NONBLOCKING = "non-blocking descriptors"
PRIVATE: set[int] = set()
_STREAM_NAMES = ("stdin", "stdout", "stderr")


def listing() -> tuple[int, ...]:
    """The descriptors open that are not the runner's own, in order."""
    try:  # the number the listing's own descriptor takes: the lowest free one
        probe = os.open("/", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return _probed()  # none free: the listing could not open one either
    os.close(probe)
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return _probed()
    return tuple(
        sorted(fd for fd in map(int, names) if (fd < HIGH_FD or fd not in OWN) and fd != probe)
    )


def nonblocking(fds: Iterable[int]) -> frozenset[int]:
    """Those of `fds` whose open file is O_NONBLOCK."""
    found = set()
    for fd in fds:
        with contextlib.suppress(OSError):
            if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK:
                found.add(fd)
    return frozenset(found)


def set_blocking(fds: frozenset[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.set_blocking(fd, True)


def _probed() -> tuple[int, ...]:
    """The same, asked of each number in turn (out of descriptors, or no /proc); up to
    HIGH_FD whatever the limit: a lowered limit leaves those above it open."""
    found = []
    for fd in range(HIGH_FD):
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, fcntl.F_GETFD)
            found.append(fd)
    return tuple(found)


def describe(fd: int) -> str:
    """What `fd` is open on, as /proc names it ("/dev/null", "pipe:[1234]")."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return "?"


def read() -> dict[int, str]:
    """Each open descriptor not the runner's own, with what it is open on."""
    return {fd: describe(fd) for fd in listing()}


def streams() -> tuple[bool | None, ...]:
    """Whether sys.stdin, sys.stdout and sys.stderr are closed (None: not a file)."""
    return tuple(_closed(getattr(sys, name, None)) for name in _STREAM_NAMES)


def _closed(stream: Any) -> bool | None:
    try:
        closed = stream.closed
    except Exception:  # a stand-in without the attribute, or one that raises
        return None
    return closed if isinstance(closed, bool) else None


def show_streams(value: tuple[bool | None, ...] | None) -> str:
    if value is None:
        return "unreadable"
    pairs = zip(_STREAM_NAMES, value, strict=True)
    shown = [f"{name} {'closed' if shut else 'open'}" for name, shut in pairs if shut is not None]
    return ", ".join(shown) or "none"


def added(before: dict[Any, str], after: dict[Any, str]) -> dict[Any, str]:
    return {fd: what for fd, what in after.items() if fd not in before}


def removed(before: dict[Any, str], after: dict[Any, str]) -> dict[Any, str]:
    return {fd: what for fd, what in before.items() if fd not in after}


def difference(before: dict[Any, str], after: dict[Any, str], most: int | None = 8) -> str:
    """ "+7 (/dev/null), -5 (pipe:[12])": those opened and those closed (the first
    `most`, and how many more; None: all). POSIX timers and System V IPC objects are
    told the same way."""
    parts = [f"+{fd} ({what})" for fd, what in added(before, after).items()]
    parts += [f"-{fd} ({what})" for fd, what in removed(before, after).items()]
    if most is None or len(parts) <= most:
        return ", ".join(parts)
    return f"{', '.join(parts[:most])} and {len(parts) - most} more"


def settle(before: dict[int, str]) -> None:
    """A cyclic collection when descriptors were added since `before`: those held only
    by objects no longer reachable (a Popen's pipes, a file not closed) close now, as
    they would at the next collection -- which a worker makes seldom."""
    if set(listing()) - before.keys():
        gc.collect()


def close(fds: dict[int, str]) -> None:
    """Close those a test left open: through the object that holds each, where one
    does (a file, a socket: closed twice, its number might be another file's by then),
    else the number itself. One already closed is no matter."""
    left = set(fds)
    for holder in gc.get_objects():
        if isinstance(holder, _HOLDERS) and left:
            with contextlib.suppress(Exception):
                fd = holder.fileno()
                if fd in left:
                    holder.close()
                    left.discard(fd)
    for fd in left:
        with contextlib.suppress(OSError):
            os.close(fd)


_HOLDERS: tuple[type, ...] = (
    io.IOBase,
    socket.socket,
    *((select.epoll,) if hasattr(select, "epoll") else ()),
)
