"""The POSIX timers a test leaves (syscalls.runner.posix_timers)."""

from __future__ import annotations

import os

import pytest

from syscalls.runner import posix_timers

TWO = b"""ID: 0
signal: 14/0000000000000000
notify: signal/pid.4671
ClockID: 1
ID: 3
signal: 0/00007f0000000000
notify: none/pid.4671
ClockID: 7
"""


def test_each_timer_is_read_with_its_signal_and_clock() -> None:
    assert posix_timers.parse(TWO) == {
        0: "SIGALRM on CLOCK_MONOTONIC, signal/pid.4671",
        3: "no signal on CLOCK_BOOTTIME, none/pid.4671",
    }
    assert posix_timers.parse(b"") == {}
    assert posix_timers.parse(None) is None


def test_what_was_added_and_removed_is_named() -> None:
    before = {0: "SIGALRM on CLOCK_MONOTONIC, signal/pid.1"}
    after = {1: "SIGUSR1 on CLOCK_REALTIME, signal/pid.1"}
    assert posix_timers.difference(before, after) == (
        "+1 (SIGUSR1 on CLOCK_REALTIME, signal/pid.1), "
        "-0 (SIGALRM on CLOCK_MONOTONIC, signal/pid.1)"
    )


@pytest.mark.skipif(
    not os.path.exists(posix_timers.PATH), reason="no /proc/PID/timers (CONFIG_CHECKPOINT_RESTORE)"
)
def test_this_process_has_its_timers_listed() -> None:
    assert posix_timers.read() is not None
