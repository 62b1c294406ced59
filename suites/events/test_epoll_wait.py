"""epoll_wait(2), epoll_pwait(2), epoll_pwait2(2): level and edge triggering, one-shot,
hang-ups, the data field, and the signal mask (Linux only).

struct epoll_event is packed on x86_64 (platforms/linux/x86_64-packed.h), so the 64-bit
data field must round-trip intact at offset 4. epoll_pwait2 arrived in Linux 5.11.
"""

import signal
import time

import pytest

from syscalls import forking
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

SIGSET_BYTES = 8  # the kernel's sigset_t: _NSIG = 64 bits


def _add(kernel: Kernel, ep: int, fd: int, events: int, data: int = 0) -> None:
    ev = kernel.new("struct epoll_event *")
    ev.events, ev.data = events, data
    kernel.epoll_ctl(ep, kernel.EPOLL_CTL_ADD, fd, ev).unwrap()


def _wait(kernel: Kernel, ep: int, n: int = 4, timeout: int = 0) -> list[tuple[int, int]]:
    events = kernel.new("struct epoll_event[]", n)
    got = kernel.epoll_wait(ep, events, n, timeout).unwrap()
    return [(events[i].events, events[i].data) for i in range(got)]


@pytest.fixture
def ep(kernel: Kernel, fds) -> int:
    return fds(kernel.epoll_create1(kernel.EPOLL_CLOEXEC))


def _drain(kernel: Kernel, fd: int) -> None:
    buf = kernel.buf(64)
    kernel.read(fd, buf, 64).unwrap()


@pytest.mark.smoke
def test_epoll_wait_level_triggered_reports_again_until_drained(
    kernel: Kernel, fds, ep: int
) -> None:
    r, w = fds.pipe()
    _add(kernel, ep, r, kernel.EPOLLIN)
    kernel.write(w, b"x", 1).unwrap()
    assert _wait(kernel, ep) == [(kernel.EPOLLIN, 0)]
    assert _wait(kernel, ep) == [(kernel.EPOLLIN, 0)]
    _drain(kernel, r)
    assert _wait(kernel, ep) == []


@pytest.mark.smoke
def test_epoll_wait_edge_triggered_reports_once_per_edge(kernel: Kernel, fds, ep: int) -> None:
    r, w = fds.pipe()
    _add(kernel, ep, r, kernel.EPOLLIN | kernel.EPOLLET)
    kernel.write(w, b"x", 1).unwrap()
    assert _wait(kernel, ep) == [(kernel.EPOLLIN, 0)]
    assert _wait(kernel, ep) == []  # still readable, but no new edge
    kernel.write(w, b"y", 1).unwrap()
    assert _wait(kernel, ep) == [(kernel.EPOLLIN, 0)]


@pytest.mark.smoke
def test_epoll_wait_oneshot_disarms_until_mod(kernel: Kernel, fds, ep: int) -> None:
    r, w = fds.pipe()
    _add(kernel, ep, r, kernel.EPOLLIN | kernel.EPOLLONESHOT, 9)
    kernel.write(w, b"x", 1).unwrap()
    assert _wait(kernel, ep) == [(kernel.EPOLLIN, 9)]
    kernel.write(w, b"y", 1).unwrap()
    assert _wait(kernel, ep) == []
    ev = kernel.new("struct epoll_event *")
    ev.events, ev.data = kernel.EPOLLIN | kernel.EPOLLONESHOT, 10
    kernel.epoll_ctl(ep, kernel.EPOLL_CTL_MOD, r, ev).unwrap()
    assert _wait(kernel, ep) == [(kernel.EPOLLIN, 10)]


@pytest.mark.parametrize("data", [0x1122334455667788, 0xFFFFFFFFFFFFFFFF, 1 << 32])
def test_epoll_wait_data_field_round_trips(kernel: Kernel, fds, ep: int, data: int) -> None:
    _, w = fds.pipe()
    _add(kernel, ep, w, kernel.EPOLLOUT, data)
    assert _wait(kernel, ep) == [(kernel.EPOLLOUT, data)]


@pytest.mark.smoke
def test_epoll_wait_reports_hangup_without_asking(kernel: Kernel, fds, ep: int) -> None:
    r, w = fds.pipe()
    _add(kernel, ep, r, kernel.EPOLLIN)
    fds.close(w)
    [(events, _)] = _wait(kernel, ep)
    assert events & kernel.EPOLLHUP


def test_epoll_wait_rdhup_after_peer_shuts_down_writing(kernel: Kernel, fds, ep: int) -> None:
    a, b = fds.socketpair()
    _add(kernel, ep, a, kernel.EPOLLIN | kernel.EPOLLRDHUP)
    assert _wait(kernel, ep) == []
    kernel.shutdown(b, kernel.SHUT_WR).unwrap()
    [(events, _)] = _wait(kernel, ep)
    assert events & kernel.EPOLLRDHUP
    assert events & kernel.EPOLLIN


def test_epoll_wait_returns_at_most_maxevents(kernel: Kernel, fds, ep: int) -> None:
    for i in range(3):
        _, w = fds.pipe()
        _add(kernel, ep, w, kernel.EPOLLOUT, i)
    assert len(_wait(kernel, ep, n=2)) == 2
    assert len(_wait(kernel, ep, n=4)) == 3


@pytest.mark.smoke
def test_epoll_wait_zero_maxevents_is_einval(kernel: Kernel, ep: int) -> None:
    events = kernel.new("struct epoll_event[1]")
    assert kernel.epoll_wait(ep, events, 0, 0).errno == "EINVAL"


def test_epoll_wait_on_a_pipe_is_einval(kernel: Kernel, fds) -> None:
    r, _ = fds.pipe()
    events = kernel.new("struct epoll_event[1]")
    assert kernel.epoll_wait(r, events, 1, 0).errno == "EINVAL"


def test_epoll_wait_times_out_after_at_least_its_timeout(
    kernel: Kernel, fds, ep: int, in_child
) -> None:
    r, _ = fds.pipe()
    _add(kernel, ep, r, kernel.EPOLLIN)

    def wait() -> tuple[int, float]:
        start = time.monotonic()
        n = len(_wait(kernel, ep, timeout=20))
        return n, time.monotonic() - start

    n, elapsed = in_child(wait)
    assert n == 0
    assert elapsed >= 0.02


@pytest.mark.smoke
def test_epoll_wait_wakes_when_a_forked_writer_writes(
    kernel: Kernel, fds, ep: int, in_child
) -> None:
    r, w = fds.pipe()
    _add(kernel, ep, r, kernel.EPOLLIN, 4)

    def wait() -> list[tuple[int, int]]:
        def writer() -> None:
            time.sleep(0.02)
            kernel.write(w, b"x", 1).unwrap()

        pid = forking.fork(kernel, writer)
        got = _wait(kernel, ep, timeout=5000)
        assert forking.exit_code(kernel, pid) == 0
        return got

    assert in_child(wait) == [(kernel.EPOLLIN, 4)]


def test_epoll_pwait_sigmask_unblocks_pending_signal_as_eintr(
    kernel: Kernel, fds, ep: int, in_child
) -> None:
    r, _ = fds.pipe()
    _add(kernel, ep, r, kernel.EPOLLIN)

    def wait() -> tuple[str, list[int]]:
        caught: list[int] = []
        signal.signal(signal.SIGUSR1, lambda s, f: caught.append(s))
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
        signal.raise_signal(signal.SIGUSR1)
        events = kernel.new("struct epoll_event[1]")
        empty = kernel.new("uint64_t *", 0)
        res = kernel.epoll_pwait(ep, events, 1, 5000, empty, SIGSET_BYTES)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR1})
        return res.outcome, caught

    outcome, caught = in_child(wait)
    assert outcome == "EINTR"
    assert caught == [signal.SIGUSR1]


def test_epoll_pwait_null_sigmask_acts_as_epoll_wait(kernel: Kernel, fds, ep: int) -> None:
    _, w = fds.pipe()
    _add(kernel, ep, w, kernel.EPOLLOUT, 6)
    events = kernel.new("struct epoll_event[1]")
    assert kernel.epoll_pwait(ep, events, 1, 0, None, SIGSET_BYTES).unwrap() == 1
    assert events[0].data == 6


@pytest.mark.min_kernel("5.11")
def test_epoll_pwait2_zero_timespec_returns_at_once(kernel: Kernel, fds, ep: int) -> None:
    r, _ = fds.pipe()
    _add(kernel, ep, r, kernel.EPOLLIN)
    events = kernel.new("struct epoll_event[1]")
    ts = kernel.new("struct __kernel_timespec *", (0, 0))
    assert kernel.epoll_pwait2(ep, events, 1, ts, None, SIGSET_BYTES).unwrap() == 0


@pytest.mark.min_kernel("5.11")
def test_epoll_pwait2_bad_nsec_is_einval(kernel: Kernel, fds, ep: int) -> None:
    events = kernel.new("struct epoll_event[1]")
    ts = kernel.new("struct __kernel_timespec *", (0, 1_000_000_000))
    assert kernel.epoll_pwait2(ep, events, 1, ts, None, SIGSET_BYTES).errno == "EINVAL"


def _pwait(kernel: Kernel, ep: int, events, n: int = 1, mask=None, size: int = SIGSET_BYTES):
    return kernel.epoll_pwait(ep, events, n, 0, mask, size)


@pytest.mark.requires("fault_handler")
def test_epoll_pwait_unmapped_sigmask_is_efault(kernel: Kernel, ep: int, bad_memory) -> None:
    events = kernel.new("struct epoll_event[1]")
    assert _pwait(kernel, ep, events, mask=bad_memory.unmapped()).errno == "EFAULT"


@pytest.mark.parametrize("size", [4, 16])
def test_epoll_pwait_sigset_of_another_size_is_einval(kernel: Kernel, ep: int, size: int) -> None:
    events = kernel.new("struct epoll_event[1]")
    empty = kernel.new("uint64_t[2]")
    assert _pwait(kernel, ep, events, mask=empty, size=size).errno == "EINVAL"


@pytest.mark.min_kernel("5.11")
@pytest.mark.requires("fault_handler")
def test_epoll_pwait2_unmapped_timespec_is_efault(kernel: Kernel, ep: int, bad_memory) -> None:
    events = kernel.new("struct epoll_event[1]")
    r = kernel.epoll_pwait2(ep, events, 1, bad_memory.unmapped(), None, SIGSET_BYTES)
    assert r.errno == "EFAULT"


@pytest.mark.requires("fault_handler")
def test_epoll_pwait_events_above_user_space_is_efault_before_waiting(
    kernel: Kernel, ep: int, bad_memory
) -> None:
    """access_ok() on the whole array comes first: EFAULT with nothing ready."""
    addr = bad_memory.above_user()
    if addr is None:
        pytest.skip("a 32-bit arch has no address above user space to name")
    assert _pwait(kernel, ep, addr).errno == "EFAULT"


@pytest.mark.requires("fault_handler")
@pytest.mark.parametrize(("ready", "outcome"), [(True, "EFAULT"), (False, "ok")])
def test_epoll_pwait_unmapped_events_fault_only_when_an_event_is_copied(
    kernel: Kernel, fds, ep: int, bad_memory, ready: bool, outcome: str
) -> None:
    r, w = fds.pipe()
    _add(kernel, ep, w if ready else r, kernel.EPOLLOUT if ready else kernel.EPOLLIN)
    assert _pwait(kernel, ep, bad_memory.unmapped()).outcome == outcome


@pytest.mark.parametrize("maxevents", [-1, "EP_MAX_EVENTS+1"])
def test_epoll_pwait_maxevents_out_of_range_is_einval(kernel: Kernel, ep: int, maxevents) -> None:
    """EP_MAX_EVENTS is INT_MAX / sizeof(struct epoll_event) (fs/eventpoll.c)."""
    if maxevents != -1:
        maxevents = (2**31 - 1) // kernel.ffi.sizeof("struct epoll_event") + 1
    events = kernel.new("struct epoll_event[1]")
    assert _pwait(kernel, ep, events, n=maxevents).errno == "EINVAL"


def test_epoll_wait_on_a_closed_fd_is_ebadf(kernel: Kernel, fds) -> None:
    ep = kernel.epoll_create1(0).unwrap()
    kernel.close(ep).unwrap()
    events = kernel.new("struct epoll_event[]", 1)
    assert kernel.epoll_wait(ep, events, 1, 0).errno == "EBADF"
