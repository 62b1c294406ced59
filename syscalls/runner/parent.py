"""Whether a test left its worker's parent -- the run's controller -- stopped.

A test of kill() that sends SIGSTOP (or SIGTSTP, SIGTTIN, SIGTTOU) to getppid() stops
the controller, and its watchdog with it: under plain `pytest -n` nothing continued it,
and the run waited for ever. (`syscalls run`'s command continues its session's
controller too, but cannot name the test.) After each test the worker looks at its
parent's state, one pread() of a /proc file it keeps open; stopped, the parent is
continued and the test fails for it. A Ctrl-Z stops the worker as well, which then
looks at nothing until the terminal continues both.
"""

from __future__ import annotations

import contextlib
import os
import signal

from syscalls import processes
from syscalls.runner.highfd import out_of_the_way


class Parent:
    def __init__(self) -> None:
        self.pid = processes.parent_pid()
        try:
            self.fd: int | None = out_of_the_way(
                os.open(f"/proc/{self.pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
            )
        except OSError:  # no /proc: not watched
            self.fd = None

    def continued(self) -> bool:
        """Whether the parent was stopped by a signal, and is continued now."""
        if self.fd is None:
            return False
        try:
            stat = os.pread(self.fd, 512, 0)
        except OSError:  # gone, or the test closed the descriptor
            return False
        if stat.rpartition(b")")[2][1:2] != b"T":
            return False
        with contextlib.suppress(OSError):
            os.kill(self.pid, signal.SIGCONT)
        return True

    def close(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None
