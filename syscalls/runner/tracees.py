"""What a test left traced: processes the process that runs the tests still traces once
the test's children are gone.

A test that ptrace-attaches a process it did not start -- the run's controller (its
worker's parent), a sibling worker, any process on the host -- and ends without
detaching leaves it traced by a process that lives on and never waits for it. The
tracee stops at its next signal and stays stopped: the controller so stopped held the
whole run for ever, deaf even to SIGTERM, which queued behind the stop.

wait() says in one call whether any remain: with no child left, anything it still
counts is a tracee. Only then is /proc read to find them (TracerPid), and each is
detached with its stop suppressed, so it runs on as before. Where a wider fixture keeps
children of its own running, wait() cannot tell them from tracees, and nothing is
looked for.
"""

from __future__ import annotations

import ctypes
import os
import signal
import time
from dataclasses import dataclass, field

from syscalls import processes

WALL = 0x40000000  # __WALL, linux/wait.h: children of any kind, and tracees
PTRACE_DETACH, PTRACE_INTERRUPT = 17, 0x4207  # linux/ptrace.h
STOP_WAIT = 1.0  # seconds for a tracee to reach the stop it is detached from


@dataclass
class Released:
    """What `release` found: tid -> a name for it, and those it could not detach."""

    detached: dict[int, str] = field(default_factory=dict)
    stuck: dict[int, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.detached or self.stuck)

    def describe(self) -> str:
        """ "left this process tracing 1 process it did not start (python3, this
        process's parent): detached" -- names, no pids, the same from run to run."""
        found = {**self.detached, **self.stuck}
        n = len(found)
        names = ", ".join(sorted(found.values())[:8]) + (", ..." if n > 8 else "")
        plural = "es" if n != 1 else ""
        text = f"left this process tracing {n} process{plural} it did not start ({names})"
        if not self.stuck:
            return text + ": detached"
        return text + f": {len(self.stuck)} could not be detached"


def any_left() -> bool:
    """Whether this process has a child (of any kind, zombies too) or a tracee."""
    options = os.WEXITED | os.WSTOPPED | os.WCONTINUED | os.WNOHANG | os.WNOWAIT | WALL
    try:
        os.waitid(os.P_ALL, 0, options)
    except ChildProcessError:
        return False
    except OSError:  # EINVAL: a kernel without __WALL for waitid -- nothing known
        return False
    return True


def release() -> Released:
    """Detach every process this one traces, once it has no child left (one system call
    when it traces nothing)."""
    found = Released()
    if not processes.LINUX or not any_left() or processes.children():
        return found
    parent = processes.parent_pid()
    for tid, name in traced().items():
        shown = f"{name}, this process's parent" if tid == parent else name
        if detach(tid):
            found.detached[tid] = shown
        else:
            found.stuck[tid] = shown
    return found


def traced() -> dict[int, str]:
    """tid -> command name of each thread, of any process, whose tracer is a thread of
    this one (/proc/*/task/*/status)."""
    own = {int(t) for t in os.listdir("/proc/self/task")}
    found: dict[int, str] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tasks:
            fields = processes.status(f"{pid}/task/{tid}")
            tracer = fields.get(b"TracerPid", b"0")
            if tracer.isdigit() and int(tracer) in own:
                found[int(tid)] = fields.get(b"Name", b"?").decode(errors="replace")
    return found


def detach(tid: int) -> bool:
    """Let `tid` go. PTRACE_DETACH needs it in a ptrace stop: one it is in already, else
    one asked for -- PTRACE_INTERRUPT where it was seized, a SIGSTOP where it was
    attached -- whose signal the detach then suppresses."""
    if _ptrace(PTRACE_DETACH, tid) == 0:
        return True
    if _ptrace(PTRACE_INTERRUPT, tid) != 0 and not _stop(tid):
        return False
    deadline = time.monotonic() + STOP_WAIT
    while time.monotonic() < deadline:
        try:
            if os.waitpid(tid, os.WNOHANG | WALL)[0]:
                break
        except ChildProcessError:  # it has ended: no longer ours
            return True
        time.sleep(0.001)
    return _ptrace(PTRACE_DETACH, tid) == 0


def _stop(tid: int) -> bool:
    """SIGSTOP to that one thread (tgkill), or to its process where libc has no tgkill."""
    tgid = processes.status(tid).get(b"Tgid")
    if tgid is None:
        return False
    tgkill = getattr(processes.LIBC, "tgkill", None)
    if tgkill is not None:
        return tgkill(int(tgid), tid, signal.SIGSTOP) == 0
    try:
        os.kill(tid, signal.SIGSTOP)
    except OSError:
        return False
    return True


def _ptrace(request: int, tid: int) -> int:
    # ptrace(2) is variadic in glibc: every argument passed at its full width
    null = ctypes.c_long(0)
    return processes.LIBC.ptrace(ctypes.c_long(request), ctypes.c_long(tid), null, null)
