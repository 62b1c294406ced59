"""pause(2): sleep until a signal is delivered; it returns EINTR once a handler ran, and
a signal whose default action ends the process ends it there (x86 only: arm64 and
riscv have no pause, and those skip). Always in a child.

The signal must come after the child is asleep in pause: a helper thread sends it
again every millisecond until pause has returned, so no sending can be lost to a race.
"""

import os
import signal
import threading
import time

import pytest

from syscalls import forking, procstate
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")


@pytest.fixture(autouse=True)
def has_pause(kernel: Kernel) -> None:
    forking.need(kernel, "pause")  # a forked child below calls it


def test_pause_returns_eintr_after_a_handler_ran(kernel: Kernel, in_child) -> None:
    def run() -> tuple[str, bool]:
        hits: list[int] = []
        signal.signal(signal.SIGUSR1, lambda *_: hits.append(1))
        done = threading.Event()
        main = threading.get_native_id()

        def poke() -> None:
            while not done.wait(0.001):
                signal.pthread_kill(threading.main_thread().ident, signal.SIGUSR1)

        assert main == kernel.gettid().unwrap()
        t = threading.Thread(target=poke)
        t.start()
        r = kernel.pause()
        done.set()
        t.join()
        return r.outcome, bool(hits)

    assert in_child(run) == ("EINTR", True)


def test_pause_ended_by_a_fatal_signal_ends_the_process(kernel: Kernel, in_child) -> None:
    def run() -> int:
        pid = forking.fork(kernel, lambda: kernel.pause() and 0)
        procstate.wait_blocked(kernel, pid, "pause")
        os.kill(pid, signal.SIGTERM)
        status = forking.wait(kernel, pid)
        return os.WTERMSIG(status) if os.WIFSIGNALED(status) else -1

    assert in_child(run) == signal.SIGTERM


def test_pause_is_not_ended_by_an_ignored_signal(kernel: Kernel, in_child) -> None:
    """SIGCHLD is ignored by default: a child exiting does not end its parent's pause;
    only the handled SIGUSR1 that follows does."""

    def run() -> tuple[str, list[int]]:
        order: list[int] = []
        signal.signal(signal.SIGUSR1, lambda *_: order.append(signal.SIGUSR1))
        pid = forking.fork(kernel)  # its exit sends the ignored SIGCHLD
        done = threading.Event()

        def poke() -> None:
            forking.wait(kernel, pid)
            order.append(signal.SIGCHLD)
            time.sleep(0.005)
            while not done.wait(0.001):
                signal.pthread_kill(threading.main_thread().ident, signal.SIGUSR1)

        t = threading.Thread(target=poke)
        t.start()
        r = kernel.pause()
        done.set()
        t.join()
        return r.outcome, order[:2]

    outcome, order = in_child(run)
    assert outcome == "EINTR"
    assert order == [signal.SIGCHLD, signal.SIGUSR1]
