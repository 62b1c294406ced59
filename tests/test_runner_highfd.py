"""The runner's descriptors in the process that runs tests (syscalls.runner.highfd)."""

from __future__ import annotations

import fcntl
import os

from syscalls.runner.highfd import HIGH_FD, out_of_the_way


def test_a_descriptor_moves_above_the_tests_range_closed_on_exec() -> None:
    r, w = os.pipe()
    try:
        high = out_of_the_way(r)
        assert high >= HIGH_FD
        assert fcntl.fcntl(high, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
        os.write(w, b"x")
        assert os.read(high, 1) == b"x"  # the same pipe
        try:
            os.fstat(r)
        except OSError:
            pass  # the low number is free again
        else:
            raise AssertionError(f"fd {r} still open after the move")
    finally:
        for fd in (w, high):
            os.close(fd)
