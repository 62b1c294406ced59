"""pytest plugin for the runner's tests: chosen tests crash, hang or leave processes.

`-p tests.runner_faults --fault NODEID=KIND` (repeatable), where KIND is
  segv, abort, exit3    the test's process dies: SIGSEGV, SIGABRT, os._exit(3)
  hang-blocked          SIGALRM blocked, then pause(): pytest-timeout cannot cut it
  hang-gil              a C call that never returns, holding the GIL (a second lock of
                        a plain pthread mutex: signals do not end the wait)
  sleep:S               the test sleeps S seconds (for time limits and signals)
  leave                 forks a child that sleeps (and holds every fd, xdist's pipes too)
  leave-setsid          starts a daemon: a double fork and setsid(), as daemons do
  leave-then-segv       forks a sleeper, then the test's process dies of SIGSEGV
  killpg                SIGKILL to the test's own process group (a test's kill(0, ...))
  spray                 garbage written to every descriptor from 3 to 511 (below the
                        runner's own, which blame the test when written to)
  fail                  an ordinary failure
Honoured only with SYSCALLS_RUNNER_FAULTS=1 in the environment, so never by accident.
With SYSCALLS_RUNNER_FAULTS_STARTED=DIR, a file DIR/KIND appears as a fault begins (a
test can wait for it before signalling the run). The processes started carry the
environment, so a test can find survivors by a marker in /proc/PID/environ.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--fault", action="append", default=[], metavar="NODEID=KIND")


def _sleeper() -> None:
    if os.fork() == 0:
        time.sleep(120)
        os._exit(0)


def _daemon() -> None:
    script = "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(120)\n"
    subprocess.run([sys.executable, "-c", script], check=True)  # its parent exits at once


def _hang_with_the_gil() -> None:
    libc = ctypes.PyDLL(None)  # PyDLL: the GIL stays held during the call
    mutex = ctypes.create_string_buffer(64)  # pthread_mutex_t, zeroed: a plain mutex
    libc.pthread_mutex_lock(mutex)
    libc.pthread_mutex_lock(mutex)  # deadlocks with itself


def _fault(kind: str) -> None:
    started = os.environ.get("SYSCALLS_RUNNER_FAULTS_STARTED")
    if started:
        with open(os.path.join(started, kind), "w"):
            pass
    if kind == "segv":
        ctypes.string_at(0)
    elif kind == "abort":
        os.abort()
    elif kind == "exit3":
        os._exit(3)
    elif kind == "hang-blocked":
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        signal.pause()
    elif kind == "hang-gil":
        _hang_with_the_gil()
    elif kind.startswith("sleep:"):
        time.sleep(float(kind.partition(":")[2]))
    elif kind == "leave":
        _sleeper()
    elif kind == "leave-setsid":
        _daemon()
    elif kind == "leave-then-segv":
        _sleeper()
        ctypes.string_at(0)
    elif kind == "killpg":
        os.killpg(os.getpgrp(), signal.SIGKILL)
    elif kind == "kill-parent":  # the process that forked this one: a worker's controller
        time.sleep(0.5)  # which has read the ends of the tests before by then
        os.kill(os.getppid(), signal.SIGKILL)
        time.sleep(5)
    elif kind == "spray":
        for fd in range(3, 512):
            with contextlib.suppress(OSError):
                os.write(fd, b"{garbage\n")
    elif kind == "fail":
        pytest.fail("deliberate failure (tests/runner_faults.py)")
    else:
        raise ValueError(f"unknown fault {kind!r}")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    if os.environ.get("SYSCALLS_RUNNER_FAULTS") != "1":
        return
    for spec in item.config.getoption("fault"):
        nodeid, _, kind = spec.rpartition("=")
        if nodeid == item.nodeid:
            _fault(kind)
