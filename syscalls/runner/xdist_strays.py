"""Signals a test sends the controller under plain `pytest -n` (xdist): strays, as under
`syscalls run` (syscalls.runner.strays), taken by a thread of their own.

A test of kill() that signals getppid() reaches xdist's controller: SIGUSR1's default
is to die, and the whole run died with it (status 138, no results). The controller
blocks the strays before it starts any thread or worker (xdist's workers unblock them:
syscalls.processes.default_signal_state), and this thread takes each from a signalfd
as it arrives, while the sender's test most likely still runs: the worker it came from
(the sender, or its ancestor) is found, and the test its status record names (the one
it runs, or between tests the one it has just ended) fails at its teardown (`ended`), or
afterwards where the controller has had that already (`late`). One from outside the
workers is told and ignored -- but SIGTERM and SIGHUP, taken here too, which from
outside end the run as they did.
"""

from __future__ import annotations

import os
import select
import sys
import threading
from collections.abc import Callable

from syscalls.runner import strays
from syscalls.runner.status import Status

POLL = 0.5  # seconds between looks at whether the run is over


class Strays:
    def __init__(
        self,
        receiver: strays.Receiver,
        workers: Callable[[], dict[str, int]],
        status: Callable[[str], Status | None],
        interrupt: Callable[[int], None],
    ) -> None:
        """`workers`: xdist worker id -> pid, of those running; `status`: a worker's
        status record, by id; `interrupt`: ends the run, for a signal that is not a
        stray (SIGTERM, SIGHUP) from outside the workers."""
        self.receiver = receiver
        self.workers = workers
        self.status = status
        self.interrupt = interrupt
        self.lock = threading.Lock()
        self.notes: dict[str, list[str]] = {}  # nodeid -> why it fails at its teardown
        self.last: dict[str, str] = {}  # worker id -> the nodeid it ended last
        self.after: list[tuple[str, str, str]] = []  # (nodeid, why, worker id): ended before
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="syscalls-strays", daemon=True)
        self._thread.start()

    def ended(self, wid: str, nodeid: str) -> str | None:
        """The controller has test `nodeid`'s end, from worker `wid`: why it fails, if a
        stray was taken for it before."""
        with self.lock:
            self.last[wid] = nodeid
            notes = self.notes.pop(nodeid, None)
        return "\n".join(notes) if notes else None

    def late(self) -> list[tuple[str, str, str]]:
        with self.lock:
            found, self.after = self.after, []
        return found

    def stop(self) -> None:
        """The thread ended, and what arrived meanwhile taken: once the controller puts
        its signal mask back, one still pending would kill it with its default."""
        self._stop.set()
        self._thread.join(5)
        for stray in self.receiver.take():
            self._take(stray)
        self.receiver.close()

    def _run(self) -> None:
        fd = self.receiver.fd
        while not self._stop.is_set() and fd is not None:
            if select.select([fd], [], [], POLL)[0]:
                for stray in self.receiver.take():
                    self._take(stray)

    def _take(self, stray: strays.Stray) -> None:
        workers = self.workers()
        pid = strays.owner(stray.sender, workers.values())
        wid = next((w for w, p in workers.items() if p == pid), None)
        what = strays.what(stray.signum, stray.sender)
        if wid is None and stray.signum not in strays.STRAYS:  # `kill` from outside
            self.interrupt(stray.signum)
            return
        if wid is None:
            print(f"syscalls: the controller ignored {what}", file=sys.stderr)
            return
        reached = f"the run's controller (pid {os.getpid()}), which ignored it"
        note = strays.told(stray.signum, stray.sender, workers[wid], reached) + (
            " Sent by this test, or by one just before it on this worker: the controller"
            " took it a little after it was sent"
        )
        status = self.status(wid)
        test = (status.nodeid or status.last) if status is not None else ""
        with self.lock:
            if not test:
                test = self.last.get(wid, "")
            if test and self.last.get(wid) == test:  # the controller has its end already
                self.after.append((test, note, wid))
            elif test:  # for its end, when the controller has it
                self.notes.setdefault(test, []).append(note)
        if not test:  # before its worker's first test
            print(f"syscalls: the controller ignored {what}", file=sys.stderr)
