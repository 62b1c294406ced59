"""A test's fork that returned into pytest: stopped, and named on the test.

A test whose forked child does not end with os._exit() -- it returns, or raises, from
the test function -- leaves two processes running pytest. The child would go on to the
test's teardown (its fixtures' finalizers a second time: the test's directory removed
under its parent, its processes killed) and then run the tests after it, beside its
parent. The runner's hooks ask whether they run in the process that began the test;
in a copy they write a line to the process that runs the tests and end the copy at
once. That process reads the line when the test ends and fails the test, naming it.
(Before, such a test passed; under xdist the run hung until pytest-timeout's limit.)
"""

from __future__ import annotations

import contextlib
import os

import pytest

from syscalls.runner.highfd import out_of_the_way

COPY_STATUS = 70  # a stopped copy's exit status (EX_SOFTWARE), as a dying worker's
_LINE = 512  # bytes of one copy's line, at most: one write, never split (PIPE_BUF)


def is_copy(pid: int, ppid: int) -> bool:
    """Whether this process is a fork of the one whose pid and parent's pid were these:
    both differ. A kernel whose getpid() answers inconsistently (a regression under
    test) would otherwise make the process look like a copy of itself."""
    return os.getpid() != pid and os.getppid() != ppid


class Copies:
    """pytest plugin, made in the process that runs the tests (by TestProcess, whose
    hooks call stop() too)."""

    def __init__(self) -> None:
        self.pid, self.ppid = os.getpid(), os.getppid()
        r, w = os.pipe()
        self.r, self.w = out_of_the_way(r), out_of_the_way(w)
        os.set_blocking(self.r, False)
        os.set_blocking(self.w, False)  # a full pipe never holds a copy back

    def stop(self, nodeid: str | None, where: str) -> None:
        """Nothing in the process that runs the tests; in a copy of it made by a test
        (`nodeid`), which has come back into pytest `where`, a line and _exit()."""
        if not is_copy(self.pid, self.ppid):
            return
        line = f"{os.getpid()}\t{where}\t{nodeid or ''}".replace("\n", " ")
        with contextlib.suppress(OSError):
            os.write(self.w, line.encode(errors="replace")[: _LINE - 1] + b"\n")
        os._exit(COPY_STATUS)

    def found(self, nodeid: str) -> list[str]:
        """What the copies made by test `nodeid` said so far, each as a sentence; the
        lines of copies of other tests are dropped (their tests have ended)."""
        said = []
        while True:
            try:
                chunk = os.read(self.r, 65536)
            except (BlockingIOError, OSError):
                break
            if not chunk:
                break
            said.append(chunk)
        found = []
        for line in b"".join(said).decode(errors="replace").splitlines():
            pid, where, test = [*line.split("\t", 2), "", ""][:3]
            if test == nodeid:
                found.append(
                    f"a process it forked (pid {pid}) returned into pytest instead of "
                    f"ending with os._exit(): stopped {where}, with status {COPY_STATUS}"
                )
        return found

    # Before any report of the phase is made (under xdist the copy's would reach the
    # controller) and, after setup or the call, before any fixture's finalizer runs.
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> None:
        self.stop(item.nodeid, f"at the end of the test's {call.when}")

    def close(self) -> None:
        if os.getpid() == self.pid:
            for fd in (self.r, self.w):
                with contextlib.suppress(OSError):
                    os.close(fd)
