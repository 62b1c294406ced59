"""What a test can change in the run's controller from outside, by its pid.

A process may set the resource limits (prlimit), CPU affinity, nice value and
scheduling policy of another process of its user, and O_NONBLOCK on the open files of
its standard streams, which a worker inherits; a test that aims at getppid() -- a
test of prlimit on "another process" -- sets the controller's. RLIMIT_NOFILE lowered to
12 left the controller unable to write junit.xml at the end (status 3). The controller
takes a fingerprint of these after each test's end; one that changed is put back and
named on that test.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

from syscalls.runner import descriptors, isolation
from syscalls.runner.descriptors import NONBLOCKING
from syscalls.runner.highfd import out_of_the_way

KEYS = frozenset({"resource limits", "CPU affinity", "nice", "scheduling policy", NONBLOCKING})
# Its standard streams: the user's terminal, whose open files its workers share (O_NONBLOCK
# set there by a test stayed after the run: the user's shell read EAGAIN); put back, not
# blamed on a test
STREAM_FDS = (0, 1, 2)
# Everything else isolation reads, left out: the controller's own state moves on (its
# threads, its descriptors), and only these can be set from another process.
_OTHERS = frozenset(
    {
        isolation.MOUNTS,
        isolation.NAMES,
        isolation.STANDARD_LIBRARY,
    }
)


class Guard:
    def __init__(self) -> None:
        self.fd: int | None = None
        with contextlib.suppress(OSError):
            self.fd = out_of_the_way(os.open("/proc/self/limits", os.O_RDONLY | os.O_CLOEXEC))
        self.state = self._read()
        self.fingerprint = self._fingerprint()

    def _fingerprint(self) -> tuple[Any, ...]:
        limits = None
        if self.fd is not None:
            with contextlib.suppress(OSError):
                limits = os.pread(self.fd, 65536, 0)
        try:
            affinity = frozenset(os.sched_getaffinity(0))
            nice = os.getpriority(os.PRIO_PROCESS, 0)
            policy = (os.sched_getscheduler(0), os.sched_getparam(0).sched_priority)
        except (OSError, AttributeError):
            affinity = nice = policy = None  # type: ignore[assignment]
        return limits, affinity, nice, policy, descriptors.nonblocking(STREAM_FDS)

    def _read(self) -> isolation.State:
        state = isolation.read(_OTHERS)
        state[NONBLOCKING] = descriptors.nonblocking(STREAM_FDS)
        return {k: v for k, v in state.items() if k in KEYS}

    def check(self) -> str | None:
        """None, or what changed since the last check (put back where it could be)."""
        now = self._fingerprint()
        if now == self.fingerprint:
            return None
        found = _readable(isolation.changes(self.state, self._read()))
        for change in found:
            if change.restore is not None:
                with contextlib.suppress(OSError, ValueError, TypeError, OverflowError):
                    change.restore()
        after = self._read()
        stuck = {c.what for c in _readable(isolation.changes(self.state, after))}
        if stuck:  # a hard limit lowered without CAP_SYS_RESOURCE: the new normal
            self.state = {**self.state, **after}
        self.fingerprint = self._fingerprint()
        if any(c.what == NONBLOCKING for c in found):
            # Every worker shares these open files: which test it was is not known here
            # (the one whose end came next was blamed), the worker's own pipes tell.
            print(
                "syscalls: a test set O_NONBLOCK on the run's standard streams (the "
                "terminal's open files, which every worker shares): put back",
                file=sys.stderr,
            )
            found = [c for c in found if c.what != NONBLOCKING]
        if not found:
            return None
        shown = "; ".join(
            f"{c}{' (cannot be put back)' if c.what in stuck else ' (put back)'}" for c in found
        )
        return (
            f"the test changed the run's controller (pid {os.getpid()}) from outside -- "
            f"{shown}: a test changes only the processes it started"
        )

    def close(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None


def _readable(found: list[isolation.Change]) -> list[isolation.Change]:
    """Values /proc would not give (out of descriptors: the lowered limit says why) are
    left out beside one it gave."""
    readable = [c for c in found if c.after != isolation.UNREADABLE]
    return readable or found
