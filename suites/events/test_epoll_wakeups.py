"""epoll wake-ups: who is woken by one event (LTP epoll_wait15, epoll_wait16), the
ready list's rotation (epoll_wait14), signals, and timeouts (Linux only).

fs/eventpoll.c: each epoll instance watching a file hooks the file's wait queue. An
event runs every instance's callback in turn, which queues the item on the instance's
ready list and wakes its waiters; with EPOLLEXCLUSIVE the walk stops at the first
instance that had a waiter blocked in epoll_wait, so one event wakes one waiter, and
the instances after it get nothing queued (an instance with no waiter does not stop the
walk). Level-triggered items go back to the tail of the ready list once reported, so
a caller asking for fewer events than are ready sees all of them in turn.

epoll_wait never restarts: a handled signal ends it with EINTR, SA_RESTART or not, and
so does a stop and continue (signal(7)). Its int timeout is milliseconds, any negative
value meaning no limit; epoll_pwait2 takes a timespec, NULL meaning no limit, and adds
it to the clock saturating, so a huge one waits rather than overflowing. Waits here use
epoll_pwait (NULL mask: epoll_wait's behaviour), which every arch's table has.
"""

import os
import queue
import signal
import time

import pytest

from syscalls import forking, procstate
from syscalls.kernel import Kernel
from syscalls.threads import Waiter

pytestmark = pytest.mark.os("linux")

WAITS = ("epoll_wait", "epoll_pwait", "epoll_pwait2")
N = 4  # waiters


def _add(kernel: Kernel, ep: int, fd: int, events: int, data: int = 0) -> None:
    ev = kernel.new("struct epoll_event *")
    ev.events, ev.data = events, data
    kernel.epoll_ctl(ep, kernel.EPOLL_CTL_ADD, fd, ev).unwrap()


def _wait(kernel: Kernel, ep: int, n: int = 1, timeout: int = 0):
    events = kernel.new("struct epoll_event[]", n)
    return kernel.epoll_pwait(ep, events, n, timeout, None, 8), events


def _ready(kernel: Kernel, ep: int, n: int = 1, timeout: int = 0) -> list[int]:
    r, events = _wait(kernel, ep, n, timeout)
    return [events[i].data for i in range(r.unwrap())]


def _instances(kernel: Kernel, fds, fd: int, events: int) -> list[int]:
    eps = [fds(kernel.epoll_create1(0)) for _ in range(N)]
    for i, ep in enumerate(eps):
        _add(kernel, ep, fd, events, i)
    return eps


def _blocked_waiters(kernel: Kernel, eps: list[int], done: queue.Queue) -> list:
    """A thread per instance in epoll_pwait (5 s), each putting its index on `done`."""
    threads = []
    for i, ep in enumerate(eps):

        def wait(i: int = i, ep: int = ep) -> None:
            done.put((i, _ready(kernel, ep, timeout=5000)))

        threads.append(Waiter(wait))
    for t, ep in zip(threads, eps, strict=True):
        procstate.wait_blocked(kernel, t.tid, WAITS, arg0=ep)
    return threads


@pytest.mark.min_kernel("4.5")
@pytest.mark.parametrize("trigger", ["EPOLLIN", "EPOLLET"])
def test_epoll_exclusive_event_wakes_one_waiter_of_many(
    kernel: Kernel, fds, in_child, trigger: str
) -> None:
    def run() -> list[list[int]]:
        r, w = fds.pipe()
        flags = kernel.EPOLLIN | kernel.EPOLLEXCLUSIVE | getattr(kernel, trigger)
        eps = _instances(kernel, fds, r, flags)
        done: queue.Queue = queue.Queue()
        threads = _blocked_waiters(kernel, eps, done)
        finished: set[int] = set()
        queued_elsewhere = []
        for _ in range(N):
            kernel.write(w, b"x", 1).unwrap()
            i, got = done.get(timeout=5)
            assert got == [i]
            finished.add(i)
            # Instances whose waiter still sleeps got nothing queued by this event.
            queued_elsewhere.append(
                [j for j, ep in enumerate(eps) if j not in finished and _ready(kernel, ep)]
            )
        for t in threads:
            t.join()
        return queued_elsewhere

    assert in_child(run) == [[]] * N


@pytest.mark.parametrize("trigger", ["EPOLLIN", "EPOLLET"])
def test_epoll_event_wakes_every_instance_watching_the_fd(
    kernel: Kernel, fds, in_child, trigger: str
) -> None:
    def run() -> list[tuple[int, list[int]]]:
        r, w = fds.pipe()
        eps = _instances(kernel, fds, r, kernel.EPOLLIN | getattr(kernel, trigger))
        done: queue.Queue = queue.Queue()
        threads = _blocked_waiters(kernel, eps, done)
        kernel.write(w, b"x", 1).unwrap()
        got = sorted(done.get(timeout=5) for _ in range(N))
        for t in threads:
            t.join()
        return got

    assert in_child(run) == [(i, [i]) for i in range(N)]


@pytest.mark.min_kernel("4.5")
def test_epoll_exclusive_without_waiters_queues_the_event_everywhere(kernel: Kernel, fds) -> None:
    r, w = fds.pipe()
    eps = _instances(kernel, fds, r, kernel.EPOLLIN | kernel.EPOLLEXCLUSIVE)
    kernel.write(w, b"x", 1).unwrap()
    assert [_ready(kernel, ep) for ep in eps] == [[i] for i in range(N)]


READY = 13  # not a multiple of either maxevents


@pytest.mark.parametrize("maxevents", [1, 3])
def test_epoll_level_triggered_ready_list_rotates_through_every_fd(
    kernel: Kernel, fds, maxevents: int
) -> None:
    ep = fds(kernel.epoll_create1(0))
    for i in range(READY):
        _, w = fds.pipe()
        _add(kernel, ep, w, kernel.EPOLLOUT, i)  # writable, and stays so
    seen: list[int] = []
    while len(seen) < 4 * READY:
        got = _ready(kernel, ep, maxevents)
        assert len(got) == maxevents
        seen += got
    counts = [seen[: 4 * READY].count(i) for i in range(READY)]
    assert counts == [4] * READY


def test_epoll_edge_triggered_items_are_reported_once_across_calls(kernel: Kernel, fds) -> None:
    ep = fds(kernel.epoll_create1(0))
    for i in range(READY):
        _, w = fds.pipe()
        _add(kernel, ep, w, kernel.EPOLLOUT | kernel.EPOLLET, i)
    seen: list[int] = []
    for _ in range(READY):
        seen += _ready(kernel, ep, 3)
    assert sorted(seen) == list(range(READY))  # each once; nothing after


@pytest.mark.parametrize("sa_restart", [False, True])
@pytest.mark.parametrize(
    "call", ["epoll_pwait", pytest.param("epoll_pwait2", marks=pytest.mark.min_kernel("5.11"))]
)
def test_epoll_wait_interrupted_by_a_handled_signal_is_eintr(
    kernel: Kernel, fds, in_child, call: str, sa_restart: bool
) -> None:
    def run() -> str:
        signal.signal(signal.SIGUSR1, lambda *_: None)
        signal.siginterrupt(signal.SIGUSR1, not sa_restart)
        ep = fds(kernel.epoll_create1(0))
        r, _ = fds.pipe()
        _add(kernel, ep, r, kernel.EPOLLIN)
        events = kernel.new("struct epoll_event[1]")
        if call == "epoll_pwait":
            blocking = lambda: kernel.epoll_pwait(ep, events, 1, -1, None, 8)  # noqa: E731
        else:
            blocking = lambda: kernel.epoll_pwait2(ep, events, 1, None, None, 8)  # noqa: E731
        waiter = Waiter(lambda: blocking().outcome)
        procstate.wait_blocked(kernel, waiter.tid, WAITS, arg0=ep)
        kernel.tgkill(os.getpid(), waiter.tid, signal.SIGUSR1).unwrap()
        return waiter.join()

    assert in_child(run) == "EINTR"


def test_epoll_wait_stopped_and_continued_is_eintr(kernel: Kernel, fds, in_child) -> None:
    def run() -> tuple[bool, int]:
        ep = fds(kernel.epoll_create1(0))
        r, _ = fds.pipe()
        _add(kernel, ep, r, kernel.EPOLLIN)
        pid = forking.fork(
            kernel, lambda: 0 if _wait(kernel, ep, timeout=-1)[0].errno == "EINTR" else 1
        )
        procstate.wait_blocked(kernel, pid, WAITS, arg0=ep)
        kernel.kill(pid, signal.SIGSTOP).unwrap()
        stopped = os.WIFSTOPPED(forking.wait(kernel, pid, kernel.WUNTRACED))
        kernel.kill(pid, signal.SIGCONT).unwrap()
        return stopped, forking.exit_code(kernel, pid)

    assert in_child(run) == (True, 0)


def _blocks_until_written(kernel: Kernel, fds, call) -> tuple[bool, list[int]]:
    """Run call(ep, events) in a thread on an empty pipe; once it sleeps in the wait,
    write a byte. (whether it slept, the data of what it returned)."""
    ep = fds(kernel.epoll_create1(0))
    r, w = fds.pipe()
    _add(kernel, ep, r, kernel.EPOLLIN, 7)
    events = kernel.new("struct epoll_event[1]")
    waiter = Waiter(lambda: call(ep, events).unwrap())
    procstate.wait_blocked(kernel, waiter.tid, WAITS, arg0=ep)
    kernel.write(w, b"x", 1).unwrap()
    return True, [events[i].data for i in range(waiter.join())]


@pytest.mark.parametrize("timeout", [2147483647, 2147483646, -1, -2, -2147483647])
def test_epoll_wait_long_or_negative_timeout_waits_for_the_event(
    kernel: Kernel, fds, in_child, timeout: int
) -> None:
    def run() -> tuple[bool, list[int]]:
        call = lambda ep, ev: kernel.epoll_pwait(ep, ev, 1, timeout, None, 8)  # noqa: E731
        return _blocks_until_written(kernel, fds, call)

    assert in_child(run) == (True, [7])


@pytest.mark.min_kernel("5.11")
@pytest.mark.parametrize("sec", [None, 2147483648, 4611686018427387904, 9223372036854775807])
def test_epoll_pwait2_no_or_huge_timeout_waits_for_the_event(
    kernel: Kernel, fds, in_child, sec
) -> None:
    def run() -> tuple[bool, list[int]]:
        ts = None if sec is None else kernel.new("struct __kernel_timespec *", (sec, 0))
        call = lambda ep, ev: kernel.epoll_pwait2(ep, ev, 1, ts, None, 8)  # noqa: E731
        return _blocks_until_written(kernel, fds, call)

    assert in_child(run) == (True, [7])


def test_epoll_wait_short_timeout_returns_no_events_after_it(kernel: Kernel, fds, in_child) -> None:
    def run() -> tuple[int, bool]:
        ep = fds(kernel.epoll_create1(0))
        r, _ = fds.pipe()
        _add(kernel, ep, r, kernel.EPOLLIN)
        start = time.monotonic_ns()
        n = _wait(kernel, ep, timeout=20)[0].unwrap()
        return n, time.monotonic_ns() - start >= 20_000_000

    assert in_child(run) == (0, True)


@pytest.mark.min_kernel("5.11")
@pytest.mark.parametrize("nsec", [1, 20_000_000])
def test_epoll_pwait2_timespec_returns_no_events_at_its_deadline(
    kernel: Kernel, fds, in_child, nsec: int
) -> None:
    def run() -> tuple[int, bool]:
        ep = fds(kernel.epoll_create1(0))
        r, _ = fds.pipe()
        _add(kernel, ep, r, kernel.EPOLLIN)
        events = kernel.new("struct epoll_event[1]")
        ts = kernel.new("struct __kernel_timespec *", (0, nsec))
        start = time.monotonic_ns()
        n = kernel.epoll_pwait2(ep, events, 1, ts, None, 8).unwrap()
        return n, time.monotonic_ns() - start >= nsec

    assert in_child(run) == (0, True)


@pytest.mark.min_kernel("5.11")
@pytest.mark.parametrize(("sec", "nsec"), [(-1, 0), (0, -1), (-9223372036854775808, 0)])
def test_epoll_pwait2_negative_timespec_is_einval(kernel: Kernel, fds, sec: int, nsec: int) -> None:
    ep = fds(kernel.epoll_create1(0))
    r, w = fds.pipe()  # ready: a kernel that takes the timeout for "for ever" answers 1
    kernel.write(w, b"x", 1).unwrap()  # at once, instead of blocking the test
    _add(kernel, ep, r, kernel.EPOLLIN)
    events = kernel.new("struct epoll_event[1]")
    ts = kernel.new("struct __kernel_timespec *", (sec, nsec))
    assert kernel.epoll_pwait2(ep, events, 1, ts, None, 8).errno == "EINVAL"
