"""Processes a test started beside its worker instead of below it.

clone(CLONE_PARENT) makes the new process a child of its caller's parent: called in a
worker, a child of the controller, out of the reach of the worker's subreaper and of its
check for what a test left running (testprocess). Such a process ran on through the
tests after it, unnamed, until the run ended. The controller now lists its own children
as each test ends (one pread of /proc/self/task/PID/children, where it forks its
workers) and kills and reaps those that are not workers, naming the test.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass

from syscalls import processes

REAP_WAIT = 0.5  # seconds for a killed one to be reaped (one stuck in the kernel is left)


@dataclass(frozen=True)
class Stranger:
    pid: int
    comm: str
    group: int | None  # its process group: a worker's pid, unless it made its own

    def __str__(self) -> str:
        return f"{self.comm} (pid {self.pid})"


class Children:
    """The controller's children, read through a descriptor kept open."""

    def __init__(self) -> None:
        self.pid = processes.own_pid()
        self.fd: int | None = None
        with contextlib.suppress(OSError):  # no CONFIG_PROC_CHILDREN: processes.children
            path = f"/proc/{self.pid}/task/{self.pid}/children"
            self.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)

    def now(self) -> list[int]:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                return [int(p) for p in os.pread(self.fd, 65536, 0).split()]
        return processes.children(self.pid)

    def close(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None


def strangers(children: list[int], workers: set[int]) -> list[Stranger]:
    """The live children that are not workers (zombies: reaped, not named; the dying,
    with a SIGKILL on its way -- a killed worker's orphans -- reaped once dead)."""
    found = []
    for pid in children:
        if pid in workers:
            continue
        state, name = processes.state_and_name(pid)
        if state in ("Z", "X", "?", "dying"):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            continue
        try:
            group: int | None = os.getpgid(pid)
        except OSError:
            group = None
        found.append(Stranger(pid, name, group))
    return found


def end(found: list[Stranger]) -> None:
    """Kill each (and what it started) and reap it, waiting a little for it."""
    for stranger in found:
        processes.kill_tree(stranger.pid)
    deadline = time.monotonic() + REAP_WAIT
    for stranger in found:
        while True:
            try:
                if os.waitpid(stranger.pid, os.WNOHANG)[0]:
                    break
            except ChildProcessError:
                break
            if time.monotonic() > deadline:
                break  # in the kernel for good: the watchdog reaps what it can later
            time.sleep(0.005)
