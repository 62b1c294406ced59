"""select(2) and pselect6(2) on pipes and a socket: fd sets and their count, EBADF,
timeouts, the signal mask.

fd sets are arrays of C longs, fd n being bit n % bits-per-long of word n / bits-per-long
(include/uapi/linux/posix_types.h); building them from longs keeps the bit order right
on either endianness. select's rewriting of the timeout with the time left and
pselect6's sigmask argument are Linux's and marked so.
"""

import signal
import time
from typing import Any

import pytest

from syscalls.kernel import Kernel

FD_SETSIZE = 1024
SIGSET_BYTES = 8  # the kernel's sigset_t: _NSIG = 64 bits


def _fdset(kernel: Kernel, *fds: int) -> Any:
    bits = kernel.ffi.sizeof("long") * 8
    words = kernel.new("unsigned long[]", FD_SETSIZE // bits)
    for fd in fds:
        words[fd // bits] |= 1 << (fd % bits)
    return words


def _isset(kernel: Kernel, words: Any, fd: int) -> bool:
    bits = kernel.ffi.sizeof("long") * 8
    return bool(words[fd // bits] >> (fd % bits) & 1)


def _sigmask_arg(kernel: Kernel, mask: Any) -> Any:
    """pselect6's sixth argument: {const sigset_t *ss; size_t ss_len} (fs/select.c)."""
    arg = kernel.new("void *[2]")
    arg[0] = mask
    arg[1] = kernel.ffi.cast("void *", SIGSET_BYTES)
    return arg


def test_select_reports_readable_pipe(kernel: Kernel, fds) -> None:
    r, w = fds.pipe()
    kernel.write(w, b"x", 1).unwrap()
    rset = _fdset(kernel, r)
    tv = kernel.new("struct timeval *", (0, 0))
    assert kernel.select(r + 1, rset, None, None, tv).unwrap() == 1
    assert _isset(kernel, rset, r)


def test_select_empty_pipe_times_out_and_clears_its_bit(kernel: Kernel, fds) -> None:
    r, _ = fds.pipe()
    rset = _fdset(kernel, r)
    tv = kernel.new("struct timeval *", (0, 0))
    assert kernel.select(r + 1, rset, None, None, tv).unwrap() == 0
    assert not _isset(kernel, rset, r)


def test_select_reports_writable_pipe(kernel: Kernel, fds) -> None:
    r, w = fds.pipe()
    rset, wset = _fdset(kernel, r), _fdset(kernel, w)
    tv = kernel.new("struct timeval *", (0, 0))
    assert kernel.select(max(r, w) + 1, rset, wset, None, tv).unwrap() == 1
    assert _isset(kernel, wset, w)
    assert not _isset(kernel, rset, r)


def test_select_counts_each_bit_set_not_each_descriptor(kernel: Kernel, fds) -> None:
    """A socket holding data is both readable and writable: select returns the number of
    bits set in all three sets (POSIX), 2 for that one descriptor."""
    a, b = fds.socketpair()
    kernel.write(a, b"x", 1).unwrap()
    rset, wset = _fdset(kernel, b), _fdset(kernel, b)
    tv = kernel.new("struct timeval *", (0, 0))
    assert kernel.select(b + 1, rset, wset, None, tv).unwrap() == 2
    assert _isset(kernel, rset, b) and _isset(kernel, wset, b)


def test_select_read_end_after_writer_closes_is_readable(kernel: Kernel, fds) -> None:
    r, w = fds.pipe()
    fds.close(w)
    rset = _fdset(kernel, r)
    tv = kernel.new("struct timeval *", (0, 0))
    assert kernel.select(r + 1, rset, None, None, tv).unwrap() == 1


def test_select_closed_fd_in_set_is_ebadf(kernel: Kernel, fds) -> None:
    r, _ = fds.pipe()
    fds.close(r)
    tv = kernel.new("struct timeval *", (0, 0))
    assert kernel.select(r + 1, _fdset(kernel, r), None, None, tv).errno == "EBADF"


def test_select_negative_nfds_is_einval(kernel: Kernel) -> None:
    tv = kernel.new("struct timeval *", (0, 0))
    assert kernel.select(-1, None, None, None, tv).errno == "EINVAL"


def test_select_negative_timeout_is_einval(kernel: Kernel, fds) -> None:
    r, _ = fds.pipe()
    tv = kernel.new("struct timeval *", (-1, 0))
    assert kernel.select(r + 1, _fdset(kernel, r), None, None, tv).errno == "EINVAL"


@pytest.mark.os("linux")
def test_select_rewrites_timeout_with_time_left(kernel: Kernel, fds) -> None:
    r, w = fds.pipe()
    kernel.write(w, b"x", 1).unwrap()
    tv = kernel.new("struct timeval *", (5, 0))
    assert kernel.select(r + 1, _fdset(kernel, r), None, None, tv).unwrap() == 1
    left = tv.tv_sec + tv.tv_usec / 1e6
    assert 4.0 < left <= 5.0


def test_select_waits_at_least_its_timeout(kernel: Kernel, fds, in_child) -> None:
    r, _ = fds.pipe()

    def wait() -> tuple[int, float]:
        tv = kernel.new("struct timeval *", (0, 20_000))
        start = time.monotonic()
        n = kernel.select(r + 1, _fdset(kernel, r), None, None, tv).unwrap()
        return n, time.monotonic() - start

    n, elapsed = in_child(wait)
    assert n == 0
    assert elapsed >= 0.02


@pytest.mark.os("linux")
def test_pselect6_reports_readable_pipe(kernel: Kernel, fds) -> None:
    r, w = fds.pipe()
    kernel.write(w, b"x", 1).unwrap()
    rset = _fdset(kernel, r)
    ts = kernel.new("struct timespec *", (0, 0))
    assert kernel.pselect6(r + 1, rset, None, None, ts, None).unwrap() == 1
    assert _isset(kernel, rset, r)


@pytest.mark.os("linux")
def test_pselect6_nsec_out_of_range_is_einval(kernel: Kernel, fds) -> None:
    r, _ = fds.pipe()
    ts = kernel.new("struct timespec *", (0, 1_000_000_000))
    assert kernel.pselect6(r + 1, _fdset(kernel, r), None, None, ts, None).errno == "EINVAL"


@pytest.mark.os("linux")
def test_pselect6_sigmask_unblocks_pending_signal_as_eintr(kernel: Kernel, fds, in_child) -> None:
    r, _ = fds.pipe()

    def wait() -> tuple[str, list[int]]:
        caught: list[int] = []
        signal.signal(signal.SIGUSR1, lambda s, f: caught.append(s))
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
        signal.raise_signal(signal.SIGUSR1)
        ts = kernel.new("struct timespec *", (5, 0))
        empty = kernel.new("uint64_t *", 0)
        res = kernel.pselect6(r + 1, _fdset(kernel, r), None, None, ts, _sigmask_arg(kernel, empty))
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR1})
        return res.outcome, caught

    outcome, caught = in_child(wait)
    assert outcome == "EINTR"
    assert caught == [signal.SIGUSR1]


def test_select_ignores_descriptors_at_or_above_nfds(kernel: Kernel, fds) -> None:
    r, w = fds.pipe()
    kernel.write(w, b"x", 1).unwrap()
    rset = _fdset(kernel, r)
    tv = kernel.new("struct timeval *", (0, 0))
    assert kernel.select(r, rset, None, None, tv).unwrap() == 0  # r itself is not below r


@pytest.mark.os("linux")
def test_pselect6_sigset_of_another_size_is_einval(kernel: Kernel, fds) -> None:
    r, _ = fds.pipe()
    arg = _sigmask_arg(kernel, kernel.new("uint64_t *", 0))
    arg[1] = kernel.ffi.cast("void *", 4)
    ts = kernel.new("struct timespec *", (0, 0))
    assert kernel.pselect6(r + 1, _fdset(kernel, r), None, None, ts, arg).errno == "EINVAL"


@pytest.mark.os("linux")
def test_pselect6_writes_back_no_time_left_after_timing_out(kernel: Kernel, fds) -> None:
    r, _ = fds.pipe()
    ts = kernel.new("struct timespec *", (0, 1_000_000))
    assert kernel.pselect6(r + 1, _fdset(kernel, r), None, None, ts, None).unwrap() == 0
    assert (ts.tv_sec, ts.tv_nsec) == (0, 0)
