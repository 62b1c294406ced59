"""Descriptors the runner keeps open in the process that runs tests, moved out of the
tests' way: tests reuse, close and dup2() onto low numbers, and some count on the
lowest free one."""

from __future__ import annotations

import contextlib
import fcntl
import os

HIGH_FD = 512  # where the runner's own descriptors go
# The runner's own, moved here by out_of_the_way: any other descriptor up here is a
# test's (os.dup2(fd, 700)), and is checked as those below HIGH_FD are (descriptors).
OWN: set[int] = set()


def out_of_the_way(fd: int) -> int:
    """`fd` moved up to HIGH_FD or above (close-on-exec), where the limit allows."""
    dupfd = getattr(fcntl, "F_DUPFD_CLOEXEC", None)
    try:
        high = fcntl.fcntl(fd, dupfd, HIGH_FD) if dupfd is not None else fd
    except OSError:
        return fd
    if high == fd:
        if fd >= HIGH_FD:
            OWN.add(fd)
        return fd
    os.close(fd)
    OWN.add(high)
    return high


# The run's own descriptors that no test may reach: the supervisor's report pipe, the
# progress log, the note of the module being imported, the results directory's lock.
# Each is registered where it is opened, and a worker closes them all as it starts: a
# test that writes to every descriptor it finds, or closes them, would otherwise
# corrupt (or cut) what the run reports.
RUNS: set[int] = set()


def run_only(fd: int) -> int:
    """`fd`, kept from the processes that run tests (close_run_only)."""
    RUNS.add(fd)
    return fd


def forget(fd: int) -> None:
    """`fd`, about to be closed by its owner: its number is no longer the run's."""
    RUNS.discard(fd)


def close_run_only() -> None:
    """In a process about to run tests: the run's own descriptors closed."""
    for fd in RUNS:
        with contextlib.suppress(OSError):
            os.close(fd)
    RUNS.clear()
