"""Where a worker was when it died or was killed: its Python stack, for the failure.

A worker (forked or xdist's) points Python's fault handler at a file of its own beside
its status record (record). A fatal signal in the worker itself -- SIGSEGV, SIGBUS,
SIGFPE, SIGILL, SIGABRT, from a test's ctypes call or a C extension -- writes the stack
there before the worker dies. Before the watchdog kills a worker whose test overran its
limit or stayed stopped, it sends SIGABRT and gives it ABORT_GRACE to write it (ask):
that works where pytest-timeout's SIGALRM cannot, in C code holding the GIL or with
SIGALRM blocked. The failure then says where the test was; the dump went to the run's
stderr before, naming no test. A worker that blocks or catches SIGABRT, or cannot run,
is killed all the same and its failure says what it said before.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import re
import signal
import time
from pathlib import Path

from syscalls import processes
from syscalls.runner.highfd import out_of_the_way

SUFFIX = ".stack"
ABORT_GRACE = 0.5  # seconds a worker sent SIGABRT has to write its stack and die
LIMIT = 16384  # bytes of a dump read, at most
HEADING = "where it was (most recent call first):"
_PYTEST = re.compile(r"/(_pytest|pluggy)/")  # the frames below the test's own


def path_for(status_file: Path) -> Path:
    return status_file.with_name(status_file.name + SUFFIX)


def record(status_file: Path) -> None:
    """In the worker: its fault handler writes to its own file from now on."""
    fd = os.open(path_for(status_file), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    faulthandler.enable(out_of_the_way(fd), all_threads=True)


def read(status_file: Path) -> str:
    """The stack the worker wrote, as lines to append to its failure ("" if none): the
    thread the signal hit, from the innermost frame out to the test's own (pytest and
    its hook machinery below it are left out)."""
    try:
        with open(path_for(status_file), "rb") as f:
            dump = f.read(LIMIT).decode(errors="replace")
    except OSError:
        return ""
    return shown(frames(dump, _PYTEST))


def frames(dump: str, below: re.Pattern[str]) -> list[str]:
    """The frames of a fault handler's dump, of the thread the signal hit, innermost
    first, down to the first that `below` matches (left out, with all after it). The
    last dump of several: a child of the test's own may have written one before."""
    sections = dump.split("\n\n")
    current = next((s for s in reversed(sections) if s.startswith("Current thread")), dump)
    found = [line for line in current.splitlines() if line.startswith("  File ")]
    return next((found[:i] for i, f in enumerate(found) if below.search(f)), found)


def shown(frames: list[str]) -> str:
    """Frames as the lines a failure ends with ("" for none)."""
    return f"\n{HEADING}\n" + "\n".join(frames) if frames else ""


def ask(pid: int) -> None:
    """SIGABRT to a worker about to be killed (and SIGCONT, if the watchdog froze it);
    back once it has died of it or ABORT_GRACE has passed. The SIGABRT goes to its main
    thread, which runs the tests: sent to the process, any thread may take it (an xdist
    worker's execnet thread did, under load), and the dump's current thread is that one."""
    tgkill = getattr(processes.LIBC, "tgkill", None)
    if tgkill is None or tgkill(pid, pid, signal.SIGABRT) != 0:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGABRT)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGCONT)
    deadline = time.monotonic() + ABORT_GRACE
    while time.monotonic() < deadline and not _ended(pid):
        time.sleep(0.01)


def _ended(pid: int) -> bool:
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:  # not a child of ours (or reaped): /proc says
        fields = processes.stat_fields(pid)
        return fields is None or fields[0] in (b"Z", b"X")
