"""Interrupted system calls: a handler without SA_RESTART makes a blocking read fail
with EINTR; with SA_RESTART the read resumes. rt_sigsuspend always returns EINTR.

Handlers are Python's (signal.siginterrupt chooses SA_RESTART); the signal is aimed at
the blocked thread with tgkill from a helper thread, which itself never takes it.
"""

import os
import signal
import threading
import time

import pytest

from syscalls import procstate
from syscalls.child import TIME_SCALE
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

USR1 = signal.SIGUSR1


def _read_while_signalled(kernel: Kernel, sigs, restart: bool) -> tuple[str, int, int]:
    """Block in read() on an empty pipe; a helper thread signals this thread once it
    sleeps there. With SA_RESTART the read sleeps again after the handler, and the
    helper's byte ends it. Without, the read must fail at once: the byte comes only if
    it did not, after a while, so that a kernel that ignores the signal fails the test
    instead of hanging it. What read answered, SA_RESTART as installed, handler runs."""
    hits: list[int] = []
    signal.signal(USR1, lambda *_: hits.append(1))
    signal.siginterrupt(USR1, not restart)
    flags = sigs.action(USR1)[1].flags
    r, w = os.pipe()
    tid = kernel.gettid().unwrap()
    done = threading.Event()

    def helper() -> None:
        sigs.block(USR1)
        procstate.wait_blocked(kernel, tid, "read", r)  # a signal sent sooner meets no read
        kernel.tgkill(os.getpid(), tid, USR1).unwrap()
        deadline = time.monotonic() + procstate.WAIT_S * TIME_SCALE
        while not done.is_set() and time.monotonic() < deadline:
            if restart and procstate.blocked_in(kernel, tid, "read", r):
                break  # the handler ran, and read() sleeps again
            time.sleep(0.0005)
        os.write(w, b"x")

    t = threading.Thread(target=helper)
    t.start()
    got = kernel.read(r, kernel.buf(1), 1)
    done.set()
    t.join()
    return got.outcome, flags & kernel.SA_RESTART, len(hits)


def test_read_interrupted_by_handler_without_sa_restart_is_eintr(
    kernel: Kernel, sigs, in_child
) -> None:
    outcome, restart_flag, hits = in_child(lambda: _read_while_signalled(kernel, sigs, False))
    assert restart_flag == 0
    assert outcome == "EINTR"
    assert hits == 1


def test_read_interrupted_by_handler_with_sa_restart_resumes(
    kernel: Kernel, sigs, in_child
) -> None:
    outcome, restart_flag, hits = in_child(lambda: _read_while_signalled(kernel, sigs, True))
    assert restart_flag == kernel.SA_RESTART
    assert outcome == "ok"
    assert hits == 1


def test_rt_sigsuspend_returns_eintr_after_a_handler_ran(kernel: Kernel, sigs, in_child) -> None:
    def run() -> tuple[str, int, set[int]]:
        hits: list[int] = []
        signal.signal(USR1, lambda *_: hits.append(1))
        sigs.block(USR1)
        kernel.kill(os.getpid(), USR1).unwrap()  # pending until the suspend mask allows it
        empty = kernel.new("uint64_t *", 0)
        outcome = kernel.rt_sigsuspend(empty, 8).outcome
        return outcome, len(hits), sigs.blocked()

    outcome, hits, blocked = in_child(run)
    assert outcome == "EINTR"
    assert hits == 1
    assert USR1 in blocked  # the old mask is back once rt_sigsuspend returns


def test_rt_sigsuspend_wrong_sigset_size_is_einval(kernel: Kernel, in_child) -> None:
    """Refused before it sleeps: the call returns at once rather than suspending."""
    empty = kernel.new("uint64_t[2]")
    assert in_child(lambda: kernel.rt_sigsuspend(empty, 16).outcome) == "EINVAL"
