"""Descriptors the runner keeps open in the process that runs tests, moved out of the
tests' way: tests reuse, close and dup2() onto low numbers, and some count on the
lowest free one."""

from __future__ import annotations

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
