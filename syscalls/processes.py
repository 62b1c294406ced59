"""Processes left behind: finding, killing and reaping a process's descendants.

A test that forks and does not wait, a daemon that double-forks and calls setsid(), a
child stuck in the kernel under test: none may outlive its test, and none may keep a
worker's pipes open after the worker is gone (the controller would wait for ever).

On Linux a process made a child subreaper (prctl PR_SET_CHILD_SUBREAPER) adopts every
orphan among its descendants, so the whole tree stays below it whatever its members do
(setsid, the parent exiting first). Reaping what is left at the end of a test is then:
reap zombies, SIGKILL every live child, reap, and repeat while killed children's own
children are handed to us, until waitpid() says there is no child at all.

Elsewhere there is no subreaper to be had here (FreeBSD's procctl(PROC_REAP_ACQUIRE) is
not wired in; NetBSD and OpenBSD have none): only direct children are found (`ps`), and
the children of a process that exits go to init, out of reach. The check then sees
what it can -- a direct child still running -- and says so; nothing more is promised.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h
PR_GET_CHILD_SUBREAPER = 37
PR_SET_PDEATHSIG = 1
PF_EXITING = 0x4  # linux/sched.h: in /proc/PID/stat's flags while the process exits
LINUX = sys.platform.startswith("linux")


def prctl(option: int, arg: Any = 0) -> int:
    """prctl(option, arg, 0, 0, 0) (Linux): its answer, -1 with ctypes.get_errno() set."""
    return int(LIBC.prctl(option, arg, 0, 0, 0))


def signal_name(signum: int) -> str:
    """SIGUSR1, SIGRTMIN+3; "signal N" for a number that names none."""
    rtmin = getattr(signal, "SIGRTMIN", None)
    if rtmin is not None and rtmin < signum < signal.SIGRTMAX:
        return f"SIGRTMIN+{signum - rtmin}"
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def stat_fields(pid: int | str) -> list[bytes] | None:
    """/proc/PID/stat's fields after the command name -- [0] the state letter, [1] the
    parent's pid, [6] the flags, [19] the start time (proc(5)'s fields 3, 4, 9 and 22)
    -- or None where it cannot be read (the process is gone, or there is no /proc).
    `pid` may be "self"."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rfind(b")") + 2 :].split()  # the name may hold spaces and ")"


# getpid() and getppid() are among the system calls under test. What the run itself
# relies on -- who forked whom, whose children to list -- is read from /proc where it
# is mounted, a path of the kernel's own: a regression in either call fails their
# tests instead of every worker (whose parent would no longer be "the controller").
def own_pid() -> int:
    """This process's pid as /proc/self names it; getpid() where /proc is missing."""
    try:
        return int(os.readlink("/proc/self"))
    except (OSError, ValueError):
        return os.getpid()


def parent_pid() -> int:
    """The parent's pid from /proc/self/stat; getppid() where /proc is missing."""
    fields = stat_fields("self")
    try:
        return int(fields[1]) if fields else os.getppid()
    except (IndexError, ValueError):
        return os.getppid()


def fork() -> int:
    """os.fork(); but where this process runs one thread (threads(): Linux), libc's
    fork() alone. Python's after-fork work in the child (its at-fork callbacks,
    thread and lock bookkeeping) is there for locks and states other threads left behind,
    and in the suite's ~50 MiB test process it costs the child ~250 copy-on-write faults:
    measured, 291 faults and 1.5 ms of CPU per child against 41 and 0.75 ms. With one
    thread nothing is held by another (what the at-fork callbacks skipped would re-seed:
    `random`'s shared state, which no suite code uses for uniqueness)."""
    if threads() == 1:
        pid = int(LIBC.fork())
        if pid < 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
        return pid
    return os.fork()


# The C library, for the calls Python's os module lacks (prctl, unshare, mount, ...).
# PyDLL: the GIL stays held across the call.
LIBC = ctypes.PyDLL(None, use_errno=True)


def threads() -> int | None:
    """How many threads this process runs, Python's or not (/proc/self/task); None
    where /proc cannot say."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return None


def subreaper() -> bool:
    """Whether this process is a child subreaper (always False off Linux)."""
    if not LINUX:
        return False
    value = ctypes.c_int(0)
    return prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(value)) == 0 and value.value != 0  # type: ignore[arg-type]


def set_subreaper(on: bool) -> bool:
    """Make this process a child subreaper, or stop; False where the OS has none."""
    return LINUX and prctl(PR_SET_CHILD_SUBREAPER, int(on)) == 0


def die_with_parent(sig: int = signal.SIGKILL) -> bool:
    """`sig` for this process when the thread that forked it ends (Linux; False
    elsewhere). Check getppid() afterwards: the parent may have gone before."""
    return LINUX and prctl(PR_SET_PDEATHSIG, sig) == 0


def first_for_the_oom_killer() -> bool:
    """This process (and what it forks) is the one the kernel's OOM killer takes first
    (oom_score_adj 1000; raising it needs no privilege): a test that eats the memory
    costs itself, not the run's controller or the machine's other processes. False
    where there is no such file."""
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        return False
    return True


def no_core_dumps() -> None:
    """RLIMIT_CORE's soft limit to 0 for this process and what it forks from now on: a
    test that crashes a child on purpose must not leave a core file (in the checkout,
    with core_pattern "core"). The hard limit is kept, so a test can still raise it."""
    with contextlib.suppress(ValueError, OSError):
        hard = resource.getrlimit(resource.RLIMIT_CORE)[1]
        resource.setrlimit(resource.RLIMIT_CORE, (0, hard))


# Ignored by Python itself at start-up (tests know it), or the run's own to handle.
_KEEP_IGNORED = frozenset(
    getattr(signal, name)
    for name in ("SIGPIPE", "SIGXFSZ", "SIGINT", "SIGTERM")
    if hasattr(signal, name)
)


def default_signal_state() -> None:
    """No signal blocked, and none ignored but those Python or the run ignore on purpose:
    a mask and ignored signals survive exec, and a run started from `perf stat`
    (SIGWINCH blocked), `nohup` (SIGHUP ignored) or a shell's background job (SIGQUIT
    ignored) would hand them to every test and every child it forks, whose answers
    then depend on how the run was started, not on the kernel."""
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    for sig in signal.valid_signals():
        if sig in _KEEP_IGNORED:
            continue
        with contextlib.suppress(OSError, ValueError):
            if signal.getsignal(sig) == signal.SIG_IGN:
                signal.signal(sig, signal.SIG_DFL)


def children(pid: int | None = None) -> list[int]:
    """The direct children of `pid` (default: this process), from /proc/PID/task/*/children
    (every thread's, since a child belongs to the thread that forked it), or, where the
    kernel has no such file (CONFIG_PROC_CHILDREN off), from the whole process table."""
    pid = own_pid() if pid is None else pid
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", "rb") as f:
                found += map(int, f.read().split())
    except FileNotFoundError:
        if os.path.exists(f"/proc/{pid}/task") or not LINUX:
            return [p for p, parent in process_table().items() if parent == pid]
    except OSError:
        pass  # the process is gone (or a task went away while listed): next time
    return found


def live_children() -> frozenset[int]:
    """This process's children (zombies too); one system call when there are none.
    (waitid's WNOWAIT leaves a zombie for its owner to wait for; where Python has no
    waitid, waitpid may reap one.)"""
    try:
        if hasattr(os, "waitid"):
            os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        else:
            os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return frozenset()
    return frozenset(children())


def stat_table() -> dict[int, list[bytes]]:
    """pid -> /proc/PID/stat's fields after the command name (as stat_fields gives them)
    of every process /proc shows; {} without /proc."""
    table: dict[int, list[bytes]] = {}
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    with open(f"/proc/{name}/stat", "rb") as f:
                        stat = f.read()
                except OSError:
                    continue
                table[int(name)] = stat.rpartition(b")")[2].split()
    return table


def process_table(proc: bool | None = None) -> dict[int, int]:
    """pid -> parent pid of every process we can see (/proc, else `ps`)."""
    table: dict[int, int] = {}
    if proc if proc is not None else os.path.isdir("/proc/self/task"):
        return {pid: int(fields[1]) for pid, fields in stat_table().items()}
    ps = subprocess.run(
        ["ps", "-A", "-o", "pid=", "-o", "ppid="], capture_output=True, text=True, check=False
    )
    for line in ps.stdout.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[0].isdigit() and fields[1].isdigit():
            table[int(fields[0])] = int(fields[1])
    return table


def descendants(pid: int, table: dict[int, int] | None = None) -> list[int]:
    """Every process below `pid`, parents before their children."""
    table = process_table() if table is None else table
    kids: dict[int, list[int]] = {}
    for p, parent in table.items():
        kids.setdefault(parent, []).append(p)
    found, todo = [], list(kids.get(pid, []))
    while todo:
        p = todo.pop(0)
        found.append(p)
        todo += kids.get(p, [])
    return found


def kill_tree(pid: int, include_root: bool = True) -> list[int]:
    """SIGKILL `pid` (unless not include_root) and everything below it; the pids signalled.

    The tree is frozen first (SIGSTOP, top down, until a scan finds nobody new), so a
    member cannot fork a child that escapes between the scan and the kill. Reaping is
    left to whoever is the parent (for the root, the caller)."""
    stopped: list[int] = []
    if include_root and _signal(pid, signal.SIGSTOP):
        stopped.append(pid)
    for _ in range(100):  # bounded: a tree that keeps growing is killed as far as seen
        new = [p for p in descendants(pid) if p not in stopped]
        if not new:
            break
        stopped += [p for p in new if _signal(p, signal.SIGSTOP)]
    for p in stopped:
        _signal(p, signal.SIGKILL)
    return stopped


def _signal(pid: int, sig: int) -> bool:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def status(pid: int | str) -> dict[bytes, bytes]:
    """/proc/PID/status as field -> value ({} where it cannot be read). `pid` may be
    "self" or "PID/task/TID" (a thread's)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            text = f.read()
    except OSError:
        return {}
    return {k: v.strip() for k, _, v in (line.partition(b":") for line in text.splitlines())}


def state_and_name(pid: int) -> tuple[str, str]:
    """(state, command name) of a process: its /proc state letter, or "dying" when it
    is already exiting or has a SIGKILL pending (a test that killed its child and did
    not wait for the end); ("?", "?") where unknown."""
    fields = status(pid)
    if not fields:
        return "?", "?"
    comm = fields.get(b"Name", b"?").decode(errors="replace")
    state = fields.get(b"State", b"?").decode()[:1]
    sigkill = 1 << (signal.SIGKILL - 1)
    pending = int(fields.get(b"ShdPnd", b"0"), 16) | int(fields.get(b"SigPnd", b"0"), 16)
    try:
        exiting = int((stat_fields(pid) or [])[6]) & PF_EXITING
    except (ValueError, IndexError):
        exiting = 0
    return ("dying" if state not in "ZX" and (pending & sigkill or exiting) else state), comm


@dataclass
class Leftovers:
    """What reap_leftovers found running: pid -> command name, and those it could not kill."""

    killed: dict[int, str] = field(default_factory=dict)
    survivors: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.killed or self.survivors)

    def describe(self) -> str:
        """ "left 2 processes running (killed: sleep, python3)": command names, no pids,
        so that the reason reads the same from run to run."""
        n = len(self.killed) + len(self.survivors)
        names = sorted(self.killed.values())
        text = f"left {n} process{'es' if n != 1 else ''} running"
        if names:
            text += f" (killed: {', '.join(names[:8])}{', ...' if len(names) > 8 else ''})"
        if self.survivors:
            text += f"; {len(self.survivors)} could not be killed"
        return text


def reap_leftovers(timeout: float = 5.0, ignore: frozenset[int] = frozenset()) -> Leftovers:
    """Reap this process's exited children; kill and reap those still running.

    The common case -- no child at all -- is one waitpid() call (a few microseconds).
    Zombies (children that exited but were not waited for) are reaped and not counted:
    nothing of them runs any more. A child that ignores SIGKILL for `timeout` seconds
    (stuck in uninterruptible sleep in a broken kernel) is left and named a survivor;
    survivors named before are passed back as `ignore`, so later tests are not blamed.
    """
    found = Leftovers()
    deadline = None
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0]:
                continue  # reaped one that had exited
        except ChildProcessError:
            return found  # no children left
        except InterruptedError:
            continue
        # A child is still running: kill every live one; their orphans come to us next.
        deadline = deadline or time.monotonic() + timeout
        live = [p for p in children() if p not in ignore]
        if not live:
            return found  # only the survivors of earlier tests
        for pid in live:
            if pid not in found.killed:
                state, comm = state_and_name(pid)
                if state in ("Z", "dying"):
                    continue  # exiting already: reaped on a next round, not counted
                found.killed[pid] = comm
                _signal(pid, signal.SIGKILL)
        if time.monotonic() > deadline:  # what is still there will not go
            found.survivors = [p for p in live if state_and_name(p)[0] not in ("Z", "X", "?")]
            for pid in found.survivors:
                found.killed.pop(pid, None)
            return found
        time.sleep(0.001)
