"""Processes started together in one new process group, killed together.

QEMU, runsc and UML can hang for good (a guest that spins, a sandbox stuck at start-up),
and they start helpers of their own (virtiofsd, runsc's sandbox and gofer, UML's
per-process host threads). Everything a target starts goes into one group, so leaving
the `with` block -- normally, on a time limit, on Ctrl-C -- kills the lot.
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


class ProcessGroup:
    """`with ProcessGroup() as g: p = g.start([...])`; all of it is killed on exit."""

    def __init__(self) -> None:
        self.pgid: int | None = None
        self.procs: list[subprocess.Popen[bytes]] = []

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
        """SIGKILL the whole group (helpers whose leader is gone too), then reap ours."""
        if self.pgid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pgid, signal.SIGKILL)
        for proc in self.procs:
            proc.wait()

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
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.kill()
