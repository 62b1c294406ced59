"""The POSIX timers (timer_create) a test leaves in its process.

A timer left armed fires in a later test: its SIGALRM (the default) kills the worker
there, and that test is blamed. /proc/PID/timers lists a process's timers
(CONFIG_CHECKPOINT_RESTORE; where it is missing, they are not watched); those a test
added are named and deleted (syscalls.runner.isolation).
"""

from __future__ import annotations

import contextlib
import ctypes
import re

from syscalls import processes
from syscalls.runner import descriptors

TIMERS = "POSIX timers"
PATH = "/proc/self/timers"
_ENTRY = re.compile(rb"ID: (-?\d+)\nsignal: (\d+)/[0-9a-f]*\nnotify: (\S+)\nClockID: (\d+)")
_CLOCKS = {0: "REALTIME", 1: "MONOTONIC", 2: "PROCESS_CPUTIME", 3: "THREAD_CPUTIME",
           7: "BOOTTIME", 8: "REALTIME_ALARM", 9: "BOOTTIME_ALARM"}  # fmt: skip


def parse(text: bytes | None) -> dict[int, str] | None:
    """Timer id -> what it does ("SIGALRM on CLOCK_MONOTONIC, signal/pid.12")."""
    if text is None:
        return None
    found = {}
    for ident, sig, notify, clock in _ENTRY.findall(text):
        how = processes.signal_name(int(sig)) if int(sig) else "no signal"
        clock_name = _CLOCKS.get(int(clock), clock.decode())
        found[int(ident)] = f"{how} on CLOCK_{clock_name}, {notify.decode(errors='replace')}"
    return found


def read() -> dict[int, str] | None:
    try:
        with open(PATH, "rb") as f:
            return parse(f.read())
    except OSError:
        return None


def difference(before: dict[int, str], after: dict[int, str]) -> str:
    """ "+3 (SIGALRM on CLOCK_MONOTONIC, ...), -1 (...)": every timer added and gone."""
    return descriptors.difference(before, after, most=None)


def delete(ids: list[int]) -> None:
    """timer_delete() each: the C library takes a signal timer's id as the kernel gave it."""
    for ident in ids:
        with contextlib.suppress(Exception):
            processes.LIBC.timer_delete(ctypes.c_void_p(ident))
