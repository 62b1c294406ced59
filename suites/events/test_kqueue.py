"""kqueue(2) and kevent(2) on the BSDs: read/write filters on pipes, EOF, one-shot,
clear, disable/enable, errors in the eventlist, timers, vnode notes, and udata.

Semantics from kqueue(2) and NetBSD sys/kern/kern_event.c (kqueue_register, kqueue_scan,
filt_timer) and sys/kern/sys_pipe.c (filt_piperead, filt_pipewrite).
"""

from typing import Any, NamedTuple

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("freebsd", "netbsd", "openbsd")


class Ev(NamedTuple):
    ident: int
    filter: int
    flags: int
    fflags: int
    data: int
    udata: int


def _changes(kernel: Kernel, *entries: tuple[int, int, int, int, int, int]) -> Any:
    kevs = kernel.new("struct kevent[]", len(entries))
    for kev, (ident, filt, flags, fflags, data, udata) in zip(kevs, entries, strict=True):
        kev.ident, kev.filter, kev.flags = ident, filt, flags
        kev.fflags, kev.data, kev.udata = fflags, data, udata
    return kevs


def _timeout(kernel: Kernel, sec: int = 0, nsec: int = 0) -> Any:
    return kernel.new("struct timespec *", (sec, nsec))


def _ctl(
    kernel: Kernel, kq: int, ident: int, filt: int, flags: int, fflags: int = 0, data: int = 0
) -> None:
    """Register one change, with no eventlist: any error fails the call."""
    kevs = _changes(kernel, (ident, filt, flags, fflags, data, 0))
    assert kernel.kevent(kq, kevs, 1, None, 0, _timeout(kernel)).unwrap() == 0


def _wait(kernel: Kernel, kq: int, n: int = 4, sec: int = 0) -> list[Ev]:
    out = kernel.new("struct kevent[]", n)
    got = kernel.kevent(kq, None, 0, out, n, _timeout(kernel, sec)).unwrap()
    return [
        Ev(e.ident, e.filter, e.flags, e.fflags, e.data, e.udata)
        for e in (out[i] for i in range(got))
    ]


def _drain(kernel: Kernel, fd: int) -> None:
    buf = kernel.buf(64)
    kernel.read(fd, buf, 64).unwrap()


@pytest.fixture
def kq(kernel: Kernel, fds) -> int:
    return fds(kernel.kqueue())


def test_kqueue_returns_an_fd_that_close_accepts(kernel: Kernel) -> None:
    fd = kernel.kqueue().unwrap()
    assert fd >= 0
    assert kernel.close(fd).ok


def test_kevent_read_filter_on_empty_pipe_returns_no_events(kernel: Kernel, fds, kq) -> None:
    r, _ = fds.pipe()
    _ctl(kernel, kq, r, kernel.EVFILT_READ, kernel.EV_ADD)
    assert _wait(kernel, kq) == []


def test_kevent_read_filter_reports_bytes_available(kernel: Kernel, fds, kq, observe) -> None:
    r, w = fds.pipe()
    _ctl(kernel, kq, r, kernel.EVFILT_READ, kernel.EV_ADD)
    kernel.write(w, b"hello", 5).unwrap()
    [ev] = _wait(kernel, kq)
    observe("flags", hex(ev.flags))
    assert (ev.ident, ev.filter, ev.data) == (r, kernel.EVFILT_READ, 5)
    assert not ev.flags & (kernel.EV_EOF | kernel.EV_ERROR)


def test_kevent_read_filter_reports_again_until_drained(kernel: Kernel, fds, kq) -> None:
    r, w = fds.pipe()
    _ctl(kernel, kq, r, kernel.EVFILT_READ, kernel.EV_ADD)
    kernel.write(w, b"x", 1).unwrap()
    assert len(_wait(kernel, kq)) == 1
    assert len(_wait(kernel, kq)) == 1
    _drain(kernel, r)
    assert _wait(kernel, kq) == []


def test_kevent_write_filter_on_empty_pipe_reports_free_space(
    kernel: Kernel, fds, kq, observe
) -> None:
    _, w = fds.pipe()
    _ctl(kernel, kq, w, kernel.EVFILT_WRITE, kernel.EV_ADD)
    [ev] = _wait(kernel, kq)
    observe("data", ev.data)
    assert (ev.ident, ev.filter) == (w, kernel.EVFILT_WRITE)
    assert ev.data > 0


def test_kevent_read_filter_after_writer_closes_sets_ev_eof(
    kernel: Kernel, fds, kq, observe
) -> None:
    r, w = fds.pipe()
    _ctl(kernel, kq, r, kernel.EVFILT_READ, kernel.EV_ADD)
    fds.close(w)
    [ev] = _wait(kernel, kq)
    observe("flags", hex(ev.flags))
    assert (ev.ident, ev.filter, ev.data) == (r, kernel.EVFILT_READ, 0)
    assert ev.flags & kernel.EV_EOF


def test_kevent_oneshot_fires_once_then_is_removed(kernel: Kernel, fds, kq) -> None:
    r, w = fds.pipe()
    _ctl(kernel, kq, r, kernel.EVFILT_READ, kernel.EV_ADD | kernel.EV_ONESHOT)
    kernel.write(w, b"x", 1).unwrap()
    [ev] = _wait(kernel, kq)
    assert ev.flags & kernel.EV_ONESHOT
    assert _wait(kernel, kq) == []  # still readable, but the knote is gone
    kevs = _changes(kernel, (r, kernel.EVFILT_READ, kernel.EV_DELETE, 0, 0, 0))
    assert kernel.kevent(kq, kevs, 1, None, 0, _timeout(kernel)).errno == "ENOENT"


def test_kevent_clear_reports_once_per_change(kernel: Kernel, fds, kq) -> None:
    r, w = fds.pipe()
    _ctl(kernel, kq, r, kernel.EVFILT_READ, kernel.EV_ADD | kernel.EV_CLEAR)
    kernel.write(w, b"x", 1).unwrap()
    [ev] = _wait(kernel, kq)
    assert ev.data == 1
    assert _wait(kernel, kq) == []  # still readable, but the state was reset
    kernel.write(w, b"yz", 2).unwrap()
    [ev] = _wait(kernel, kq)
    assert ev.data == 3


def test_kevent_disable_suppresses_and_enable_rearms(kernel: Kernel, fds, kq) -> None:
    r, w = fds.pipe()
    _ctl(kernel, kq, r, kernel.EVFILT_READ, kernel.EV_ADD)
    _ctl(kernel, kq, r, kernel.EVFILT_READ, kernel.EV_DISABLE)
    kernel.write(w, b"x", 1).unwrap()
    assert _wait(kernel, kq) == []
    _ctl(kernel, kq, r, kernel.EVFILT_READ, kernel.EV_ENABLE)
    [ev] = _wait(kernel, kq)
    assert (ev.ident, ev.data) == (r, 1)


def test_kevent_delete_of_unregistered_filter_fails_the_call_with_enoent(
    kernel: Kernel, fds, kq
) -> None:
    r, _ = fds.pipe()
    kevs = _changes(kernel, (r, kernel.EVFILT_READ, kernel.EV_DELETE, 0, 0, 0))
    assert kernel.kevent(kq, kevs, 1, None, 0, _timeout(kernel)).errno == "ENOENT"


def test_kevent_delete_of_unregistered_filter_with_room_is_ev_error_enoent(
    kernel: Kernel, fds, kq
) -> None:
    r, _ = fds.pipe()
    kevs = _changes(kernel, (r, kernel.EVFILT_READ, kernel.EV_DELETE, 0, 0, 7))
    out = kernel.new("struct kevent[]", 2)
    assert kernel.kevent(kq, kevs, 1, out, 2, _timeout(kernel)).unwrap() == 1
    assert (out[0].ident, out[0].filter, out[0].udata) == (r, kernel.EVFILT_READ, 7)
    assert out[0].flags & kernel.EV_ERROR
    assert out[0].data == kernel.ENOENT


def test_kevent_read_filter_on_closed_fd_is_ebadf(kernel: Kernel, fds, kq) -> None:
    r, _ = fds.pipe()
    fds.close(r)
    kevs = _changes(kernel, (r, kernel.EVFILT_READ, kernel.EV_ADD, 0, 0, 0))
    assert kernel.kevent(kq, kevs, 1, None, 0, _timeout(kernel)).errno == "EBADF"


def test_kevent_on_a_pipe_is_ebadf(kernel: Kernel, fds) -> None:
    r, _ = fds.pipe()
    out = kernel.new("struct kevent[]", 1)
    assert kernel.kevent(r, None, 0, out, 1, _timeout(kernel)).errno == "EBADF"


def test_kevent_timer_fires_within_its_timeout(kernel: Kernel, kq, observe) -> None:
    _ctl(kernel, kq, 1, kernel.EVFILT_TIMER, kernel.EV_ADD, data=10)  # every 10 ms
    [ev] = _wait(kernel, kq, sec=1)
    observe("expirations", ev.data)
    assert (ev.ident, ev.filter) == (1, kernel.EVFILT_TIMER)
    assert ev.data >= 1


@pytest.mark.parametrize(
    "udata", [0x1122334455667788, -1, 1 << 32], ids=["all-bytes", "minus-one", "bit-32"]
)
def test_kevent_udata_comes_back_unchanged(kernel: Kernel, fds, kq, udata: int) -> None:
    _, w = fds.pipe()
    kevs = _changes(kernel, (w, kernel.EVFILT_WRITE, kernel.EV_ADD, 0, 0, udata))
    assert kernel.kevent(kq, kevs, 1, None, 0, _timeout(kernel)).unwrap() == 0
    [ev] = _wait(kernel, kq)
    assert ev.udata == udata


def test_kevent_vnode_note_write_fires_after_write(kernel: Kernel, fds, kq, tmp) -> None:
    path = tmp / "f"
    fd = fds.file(path, b"abc")
    _ctl(kernel, kq, fd, kernel.EVFILT_VNODE, kernel.EV_ADD | kernel.EV_CLEAR, kernel.NOTE_WRITE)
    assert _wait(kernel, kq) == []
    kernel.write(fd, b"x", 1).unwrap()
    [ev] = _wait(kernel, kq)
    assert (ev.ident, ev.filter) == (fd, kernel.EVFILT_VNODE)
    assert ev.fflags & kernel.NOTE_WRITE
