"""Descriptors the runner keeps open in the process that runs tests, moved out of the
tests' way: tests reuse, close and dup2() onto low numbers, and some count on the
lowest free one."""

from __future__ import annotations

import fcntl
import os

HIGH_FD = 512  # where the runner's own descriptors go


def out_of_the_way(fd: int) -> int:
    """`fd` moved up to HIGH_FD or above (close-on-exec), where the limit allows."""
    dupfd = getattr(fcntl, "F_DUPFD_CLOEXEC", None)
    try:
        high = fcntl.fcntl(fd, dupfd, HIGH_FD) if dupfd is not None else fd
    except OSError:
        return fd
    if high == fd:
        return fd
    os.close(fd)
    return high
