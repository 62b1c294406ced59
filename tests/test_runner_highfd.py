"""The runner's descriptors in the process that runs tests (syscalls.runner.highfd)."""

from __future__ import annotations

import fcntl
import os

from syscalls.runner import highfd
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


def test_the_runs_own_descriptors_are_closed_where_tests_run_and_forgotten_ones_kept() -> None:
    kept_r, kept_w = os.pipe()
    run_r, run_w = os.pipe()
    forgotten = os.dup(kept_r)
    try:
        highfd.run_only(run_w)
        highfd.run_only(forgotten)
        highfd.forget(forgotten)  # its owner closes it; the number may be reused
        highfd.close_run_only()
        assert not highfd.RUNS
        for fd in (kept_w, forgotten):
            os.fstat(fd)  # still open
        try:
            os.fstat(run_w)
        except OSError:
            pass
        else:
            raise AssertionError("the run's descriptor is still open")
        assert os.read(run_r, 1) == b""  # its only write end is gone
    finally:
        for fd in (kept_r, kept_w, run_r, forgotten):
            os.close(fd)
