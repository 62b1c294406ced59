"""Processes started together in one new process group, killed together.

QEMU, runsc and UML can hang for good (a guest that spins, a sandbox stuck at start-up),
and they start helpers of their own (virtiofsd, runsc's sandbox and gofer, UML's
per-process host threads). Everything a target starts goes into one group, so leaving
the `with` block -- normally, on a time limit, on Ctrl-C -- kills the lot.

Some helpers leave the group: runsc's sandbox calls setsid(), and so does linux.uml
itself (a process we started: its new group is killed too). While a group is open
this process is a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so such helpers are
re-parented to us when their parent dies; on exit every adopted child is killed and
reaped, so none is left running or as a zombie of an init that does not reap.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from syscalls.processes import children, set_subreaper, subreaper


class ProcessGroup:
    """`with ProcessGroup() as g: p = g.start([...])`; all of it is killed on exit."""

    def __init__(self) -> None:
        self.pgid: int | None = None
        self.procs: list[subprocess.Popen[bytes]] = []
        self._before: set[int] = set()  # children we had already: not ours to reap
        self._was_subreaper = False  # as in a pytest worker (syscalls.runner): stays so

    def start(self, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        # The first process leads a new group; later ones join it.
        proc = subprocess.Popen(
            list(argv), process_group=0 if self.pgid is None else self.pgid, **kwargs
        )
        if self.pgid is None:
            self.pgid = proc.pid
        self.procs.append(proc)
        return proc

    def kill(self) -> None:
        """SIGKILL the whole group (helpers whose leader is gone too) and each group one
        of ours made for itself (linux.uml calls setsid(), its host processes follow it),
        then reap ours."""
        groups = set() if self.pgid is None else {self.pgid}
        for proc in self.procs:
            if proc.poll() is None:  # not reaped: its pid is still its own
                with contextlib.suppress(ProcessLookupError):
                    groups.add(os.getpgid(proc.pid))
        for pgid in groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        for proc in self.procs:
            proc.wait()
        self._reap_adopted()

    def _reap_adopted(self, timeout: float = 10.0) -> None:
        """Kill and reap helpers re-parented to us (they left the group)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            adopted = set(children()) - self._before - {p.pid for p in self.procs}
            if not adopted:
                return
            for pid in adopted:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)

    def alive(self) -> bool:
        """Whether any process of the group is still there (ours or their children)."""
        if self.pgid is None:
            return False
        try:
            os.killpg(self.pgid, 0)
        except ProcessLookupError:
            return False
        return True

    def wait_all(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for every process we started to exit."""
        deadline = time.monotonic() + timeout
        for proc in self.procs:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                return False
        return True

    def __enter__(self) -> ProcessGroup:
        self._before = set(children())
        self._was_subreaper = subreaper()
        set_subreaper(True)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.kill()
        finally:
            if not self._was_subreaper:
                set_subreaper(False)
