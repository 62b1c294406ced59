"""poll(2) and ppoll(2) on pipes: readiness bits, hang-up, invalid fds, timeouts, masks.

POLLIN/POLLOUT/POLLHUP/POLLNVAL are POSIX and shared with the BSDs; ppoll's sigset
size argument and POLLERR on a pipe without readers are Linux's and marked so.
"""

import resource
import signal
import time
from typing import Any

import pytest

from syscalls.expect import ByOS
from syscalls.kernel import Kernel

# A pipe's write end once its reader is gone: Linux reports POLLERR (fs/pipe.c,
# pipe_poll); NetBSD POLLHUP, as for a read end without a writer (sys/kern/sys_pipe.c,
# pipe_poll: the other end gone or at EOF).
ORPHANED_WRITE_END = ByOS(default="POLLERR", netbsd="POLLHUP")

# The kernel's sigset_t: _NSIG = 64 bits (arch/x86/include/uapi/asm/signal.h).
SIGSET_BYTES = 8


def _pollfds(kernel: Kernel, *entries: tuple[int, int]) -> Any:
    pfds = kernel.new("struct pollfd[]", len(entries))
    for p, (fd, events) in zip(pfds, entries, strict=True):
        p.fd, p.events = fd, events
    return pfds


def _poll(kernel: Kernel, fd: int, events: int, timeout: int = 0) -> tuple[int, int]:
    pfds = _pollfds(kernel, (fd, events))
    n = kernel.poll(pfds, 1, timeout).unwrap()
    return n, pfds[0].revents


def _sigset(kernel: Kernel, *signals: int) -> Any:
    return kernel.new("uint64_t *", sum(1 << (s - 1) for s in signals))


@pytest.mark.smoke
def test_poll_empty_pipe_with_zero_timeout_returns_zero(kernel: Kernel, fds) -> None:
    r, _ = fds.pipe()
    assert _poll(kernel, r, kernel.POLLIN) == (0, 0)


@pytest.mark.smoke
def test_poll_pipe_holding_data_is_pollin(kernel: Kernel, fds) -> None:
    r, w = fds.pipe()
    kernel.write(w, b"x", 1).unwrap()
    assert _poll(kernel, r, kernel.POLLIN) == (1, kernel.POLLIN)


def test_poll_empty_pipe_write_end_is_pollout(kernel: Kernel, fds) -> None:
    _, w = fds.pipe()
    assert _poll(kernel, w, kernel.POLLOUT) == (1, kernel.POLLOUT)


@pytest.mark.smoke
def test_poll_read_end_after_writer_closes_is_pollhup(kernel: Kernel, fds, observe) -> None:
    r, w = fds.pipe()
    fds.close(w)
    n, revents = _poll(kernel, r, kernel.POLLIN)
    observe("revents", revents)
    assert n == 1
    assert revents & kernel.POLLHUP


def test_poll_reports_pollhup_even_when_not_requested(kernel: Kernel, fds) -> None:
    r, w = fds.pipe()
    fds.close(w)
    n, revents = _poll(kernel, r, 0)
    assert (n, revents) == (1, kernel.POLLHUP)


def test_poll_write_end_after_reader_closes_is_pollerr(kernel: Kernel, fds) -> None:
    r, w = fds.pipe()
    fds.close(r)
    n, revents = _poll(kernel, w, kernel.POLLOUT)
    assert n == 1
    assert revents & getattr(kernel, ORPHANED_WRITE_END[kernel.platform.os])


@pytest.mark.smoke
def test_poll_closed_fd_is_pollnval(kernel: Kernel, fds) -> None:
    r, _ = fds.pipe()
    fds.close(r)
    assert _poll(kernel, r, kernel.POLLIN) == (1, kernel.POLLNVAL)


def test_poll_negative_fd_is_ignored(kernel: Kernel, fds) -> None:
    r, w = fds.pipe()
    kernel.write(w, b"x", 1).unwrap()
    pfds = _pollfds(kernel, (-1, kernel.POLLIN), (r, kernel.POLLIN))
    assert kernel.poll(pfds, 2, 0).unwrap() == 1
    assert (pfds[0].revents, pfds[1].revents) == (0, kernel.POLLIN)


def test_poll_counts_ready_fds_not_events(kernel: Kernel, fds) -> None:
    r, w = fds.pipe()
    kernel.write(w, b"x", 1).unwrap()
    pfds = _pollfds(kernel, (r, kernel.POLLIN), (w, kernel.POLLOUT), (r, kernel.POLLIN))
    assert kernel.poll(pfds, 3, 0).unwrap() == 3


def test_poll_waits_at_least_its_timeout(kernel: Kernel, fds, in_child) -> None:
    r, _ = fds.pipe()

    def wait() -> tuple[int, float]:
        start = time.monotonic()
        n = kernel.poll(_pollfds(kernel, (r, kernel.POLLIN)), 1, 20).unwrap()
        return n, time.monotonic() - start

    n, elapsed = in_child(wait)
    assert n == 0
    assert elapsed >= 0.02


def test_poll_more_fds_than_nofile_limit_is_einval(kernel: Kernel) -> None:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert kernel.poll(None, soft + 1, 0).errno == "EINVAL"


@pytest.mark.requires("fault_handler")
def test_poll_unmapped_array_is_efault(kernel: Kernel) -> None:
    assert kernel.poll(8, 1, 0).errno == "EFAULT"


@pytest.mark.os("linux")
@pytest.mark.smoke
def test_ppoll_zero_timespec_returns_at_once(kernel: Kernel, fds) -> None:
    r, _ = fds.pipe()
    ts = kernel.new("struct timespec *", (0, 0))
    assert kernel.ppoll(_pollfds(kernel, (r, kernel.POLLIN)), 1, ts, None, 0).unwrap() == 0


# Linux writes the time left back through ppoll's timeout pointer, as select does with
# its timeval (fs/select.c, poll_select_finish): none once the timeout has run out.
@pytest.mark.os("linux")
def test_ppoll_writes_back_no_time_left_after_timing_out(kernel: Kernel, fds) -> None:
    r, _ = fds.pipe()
    ts = kernel.new("struct timespec *", (0, 10_000_000))  # 10 ms
    assert kernel.ppoll(_pollfds(kernel, (r, kernel.POLLIN)), 1, ts, None, 0).unwrap() == 0
    assert (ts.tv_sec, ts.tv_nsec) == (0, 0)


@pytest.mark.os("linux")
def test_ppoll_null_timespec_returns_ready_fd(kernel: Kernel, fds) -> None:
    r, w = fds.pipe()
    kernel.write(w, b"x", 1).unwrap()
    pfds = _pollfds(kernel, (r, kernel.POLLIN))
    assert kernel.ppoll(pfds, 1, None, None, 0).unwrap() == 1
    assert pfds[0].revents == kernel.POLLIN


@pytest.mark.os("linux")
def test_ppoll_negative_timespec_is_einval(kernel: Kernel, fds) -> None:
    r, _ = fds.pipe()
    ts = kernel.new("struct timespec *", (-1, 0))
    r2 = kernel.ppoll(_pollfds(kernel, (r, kernel.POLLIN)), 1, ts, None, 0)
    assert r2.errno == "EINVAL"


@pytest.mark.os("linux")
def test_ppoll_wrong_sigset_size_is_einval(kernel: Kernel, fds) -> None:
    r, _ = fds.pipe()
    ts = kernel.new("struct timespec *", (0, 0))
    mask = _sigset(kernel)
    r2 = kernel.ppoll(_pollfds(kernel, (r, kernel.POLLIN)), 1, ts, mask, SIGSET_BYTES // 2)
    assert r2.errno == "EINVAL"


@pytest.mark.os("linux")
def test_ppoll_sigmask_unblocks_pending_signal_as_eintr(kernel: Kernel, fds, in_child) -> None:
    r, _ = fds.pipe()

    def wait() -> tuple[str, list[int]]:
        caught: list[int] = []
        signal.signal(signal.SIGUSR1, lambda s, f: caught.append(s))
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
        signal.raise_signal(signal.SIGUSR1)  # stays pending while blocked
        ts = kernel.new("struct timespec *", (5, 0))
        pfds = _pollfds(kernel, (r, kernel.POLLIN))
        res = kernel.ppoll(pfds, 1, ts, _sigset(kernel), SIGSET_BYTES)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR1})
        return res.outcome, caught

    outcome, caught = in_child(wait)
    assert outcome == "EINTR"
    assert caught == [signal.SIGUSR1]


@pytest.mark.os("linux")
def test_ppoll_sigmask_keeps_signal_blocked_during_wait(kernel: Kernel, fds, in_child) -> None:
    r, _ = fds.pipe()

    def wait() -> int:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
        signal.raise_signal(signal.SIGUSR1)
        ts = kernel.new("struct timespec *", (0, 20_000_000))
        mask = _sigset(kernel, signal.SIGUSR1)
        pfds = _pollfds(kernel, (r, kernel.POLLIN))
        return kernel.ppoll(pfds, 1, ts, mask, SIGSET_BYTES).unwrap()

    assert in_child(wait) == 0


def test_poll_reports_only_the_events_asked_for(kernel: Kernel, fds) -> None:
    """A readable pipe polled for POLLOUT alone is not ready: revents is the ready set
    masked by events (plus POLLERR and POLLHUP, which are always reported)."""
    r, w = fds.pipe()
    kernel.write(w, b"x", 1).unwrap()
    assert _poll(kernel, r, kernel.POLLOUT) == (0, 0)


def test_poll_clears_revents_of_fds_not_ready(kernel: Kernel, fds) -> None:
    r, _ = fds.pipe()
    pfds = _pollfds(kernel, (r, kernel.POLLIN))
    pfds[0].revents = 0x7FFF
    assert kernel.poll(pfds, 1, 0).unwrap() == 0
    assert pfds[0].revents == 0


def test_poll_negative_fd_clears_its_revents(kernel: Kernel, fds) -> None:
    r, w = fds.pipe()
    kernel.write(w, b"x", 1).unwrap()
    pfds = _pollfds(kernel, (-1, kernel.POLLIN), (r, kernel.POLLIN))
    pfds[0].revents = 0x7FFF
    assert kernel.poll(pfds, 2, 0).unwrap() == 1
    assert (pfds[0].revents, pfds[1].revents) == (0, kernel.POLLIN)
