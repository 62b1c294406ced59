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


# --- Verified on NetBSD (the rump kernel) alone, and marked so until they run on FreeBSD
# and OpenBSD: filters on sockets, files and kqueues, the vnode notes, timer details,
# EV_RECEIPT and EV_DISPATCH. NetBSD 7.99 has no EVFILT_USER (NetBSD 10 added it).
NETBSD = pytest.mark.os("netbsd")


@NETBSD
def test_kevent_read_filter_on_a_socket_reports_bytes_queued(kernel: Kernel, fds, kq) -> None:
    a, b = fds.socketpair()
    _ctl(kernel, kq, b, kernel.EVFILT_READ, kernel.EV_ADD)
    assert _wait(kernel, kq) == []
    kernel.write(a, b"hello", 5).unwrap()
    [ev] = _wait(kernel, kq)  # sys/kern/uipc_socket.c, filt_soread: so_rcv.sb_cc
    assert (ev.ident, ev.filter, ev.data) == (b, kernel.EVFILT_READ, 5)
    assert not ev.flags & kernel.EV_EOF


@NETBSD
def test_kevent_read_filter_on_a_socket_whose_peer_closed_sets_ev_eof(
    kernel: Kernel, fds, kq
) -> None:
    a, b = fds.socketpair()
    _ctl(kernel, kq, b, kernel.EVFILT_READ, kernel.EV_ADD)
    fds.close(a)
    [ev] = _wait(kernel, kq)
    assert (ev.ident, ev.data) == (b, 0)
    assert ev.flags & kernel.EV_EOF


@NETBSD
def test_kevent_write_filter_on_a_socket_reports_send_space(kernel: Kernel, fds, kq) -> None:
    a, _ = fds.socketpair()
    _ctl(kernel, kq, a, kernel.EVFILT_WRITE, kernel.EV_ADD)
    [ev] = _wait(kernel, kq)  # filt_sowrite: sbspace(&so->so_snd)
    assert (ev.ident, ev.filter) == (a, kernel.EVFILT_WRITE)
    assert ev.data > 0


@NETBSD
def test_kevent_read_filter_on_a_file_reports_the_bytes_past_the_offset(
    kernel: Kernel, fds, kq, tmp
) -> None:
    fd = fds.file(tmp / "f", b"0123456789")
    kernel.lseek(fd, 4, kernel.SEEK_SET).unwrap()
    _ctl(kernel, kq, fd, kernel.EVFILT_READ, kernel.EV_ADD)
    [ev] = _wait(kernel, kq)  # sys/miscfs/genfs/genfs_vnops.c, filt_genfsread
    assert (ev.ident, ev.filter, ev.data) == (fd, kernel.EVFILT_READ, 6)
    kernel.lseek(fd, 0, kernel.SEEK_END).unwrap()
    assert _wait(kernel, kq) == []  # at the end: nothing to read, no event


@NETBSD
def test_kevent_read_filter_on_a_kqueue_counts_its_pending_events(kernel: Kernel, fds, kq) -> None:
    inner = fds(kernel.kqueue())
    _, w1 = fds.pipe()
    _, w2 = fds.pipe()
    _ctl(kernel, inner, w1, kernel.EVFILT_WRITE, kernel.EV_ADD)
    _ctl(kernel, inner, w2, kernel.EVFILT_WRITE, kernel.EV_ADD)
    _ctl(kernel, kq, inner, kernel.EVFILT_READ, kernel.EV_ADD)
    [ev] = _wait(kernel, kq)  # sys/kern/kern_event.c, filt_kqueue: kq_count
    assert (ev.ident, ev.filter, ev.data) == (inner, kernel.EVFILT_READ, 2)


# tmpfs raises these notes: sys/fs/tmpfs/tmpfs_subr.c (tmpfs_dir_detach: NOTE_DELETE for
# the last name, NOTE_LINK otherwise; tmpfs_dir_attach: NOTE_LINK; tmpfs_reg_resize:
# NOTE_EXTEND; tmpfs_chmod: NOTE_ATTRIB) and tmpfs_rename.c (tmpfs_gro_rename:
# NOTE_RENAME).
VNODE_NOTES = ["NOTE_DELETE", "NOTE_LINK", "NOTE_EXTEND", "NOTE_ATTRIB", "NOTE_RENAME"]


def _vnode_change(kernel: Kernel, note: str, tmp, fd: int) -> None:
    """Do to tmp/f (open as fd) what raises `note`."""
    at = kernel.AT_FDCWD
    if note == "NOTE_DELETE":
        kernel.unlinkat(at, tmp / "f", 0).unwrap()
    elif note == "NOTE_LINK":
        kernel.linkat(at, tmp / "f", at, tmp / "g", 0).unwrap()
    elif note == "NOTE_EXTEND":
        kernel.ftruncate(fd, 100).unwrap()
    elif note == "NOTE_ATTRIB":
        kernel.fchmod(fd, 0o600).unwrap()
    else:
        kernel.renameat(at, tmp / "f", at, tmp / "g").unwrap()


@NETBSD
@pytest.mark.parametrize("note", VNODE_NOTES)
def test_kevent_vnode_note_fires_on_its_change_alone(
    kernel: Kernel, fds, kq, tmp, note: str
) -> None:
    fd = fds.file(tmp / "f", b"abc")
    every = 0
    for name in VNODE_NOTES:
        every |= getattr(kernel, name)
    _ctl(kernel, kq, fd, kernel.EVFILT_VNODE, kernel.EV_ADD | kernel.EV_CLEAR, every)
    assert _wait(kernel, kq) == []
    _vnode_change(kernel, note, tmp, fd)
    [ev] = _wait(kernel, kq)
    assert (ev.ident, ev.filter) == (fd, kernel.EVFILT_VNODE)
    assert ev.fflags == getattr(kernel, note)
    assert _wait(kernel, kq) == []  # EV_CLEAR: reported once


@NETBSD
def test_kevent_vnode_reports_only_the_notes_asked_for(kernel: Kernel, fds, kq, tmp) -> None:
    fd = fds.file(tmp / "f", b"abc")
    _ctl(kernel, kq, fd, kernel.EVFILT_VNODE, kernel.EV_ADD | kernel.EV_CLEAR, kernel.NOTE_DELETE)
    kernel.fchmod(fd, 0o600).unwrap()  # NOTE_ATTRIB, not asked for
    assert _wait(kernel, kq) == []


@NETBSD
def test_kevent_timer_oneshot_fires_once_and_is_removed(kernel: Kernel, kq) -> None:
    _ctl(kernel, kq, 7, kernel.EVFILT_TIMER, kernel.EV_ADD | kernel.EV_ONESHOT, data=10)
    [ev] = _wait(kernel, kq, sec=1)
    assert (ev.ident, ev.filter, ev.data) == (7, kernel.EVFILT_TIMER, 1)
    kevs = _changes(kernel, (7, kernel.EVFILT_TIMER, kernel.EV_DELETE, 0, 0, 0))
    assert kernel.kevent(kq, kevs, 1, None, 0, _timeout(kernel)).errno == "ENOENT"


@NETBSD
def test_kevent_timer_is_edge_triggered_on_its_own(kernel: Kernel, kq) -> None:
    _ctl(kernel, kq, 1, kernel.EVFILT_TIMER, kernel.EV_ADD, data=10)
    [ev] = _wait(kernel, kq, sec=1)
    # kern_event.c, filt_timerattach sets EV_CLEAR: each retrieval resets the count
    assert ev.flags & kernel.EV_CLEAR
    assert ev.data >= 1


@NETBSD
def test_kevent_timer_of_zero_milliseconds_is_einval(kernel: Kernel, kq) -> None:
    kevs = _changes(kernel, (1, kernel.EVFILT_TIMER, kernel.EV_ADD, 0, 0, 0))
    assert kernel.kevent(kq, kevs, 1, None, 0, _timeout(kernel)).errno == "EINVAL"


@NETBSD
def test_kevent_deleted_timer_fires_no_more(kernel: Kernel, kq) -> None:
    _ctl(kernel, kq, 1, kernel.EVFILT_TIMER, kernel.EV_ADD, data=10)
    _ctl(kernel, kq, 1, kernel.EVFILT_TIMER, kernel.EV_DELETE)
    assert _wait(kernel, kq, sec=0) == []
    out = kernel.new("struct kevent[]", 1)
    assert kernel.kevent(kq, None, 0, out, 1, _timeout(kernel, 0, 50_000_000)).unwrap() == 0


@NETBSD
def test_kevent_unknown_filter_is_einval(kernel: Kernel, fds, kq) -> None:
    r, _ = fds.pipe()
    kevs = _changes(kernel, (r, kernel.EVFILT_SYSCOUNT + 100, kernel.EV_ADD, 0, 0, 0))
    assert kernel.kevent(kq, kevs, 1, None, 0, _timeout(kernel)).errno == "EINVAL"


@NETBSD
def test_kevent_receipt_answers_each_change_with_ev_error_and_its_result(
    kernel: Kernel, fds, kq
) -> None:
    r, w = fds.pipe()
    kernel.write(w, b"x", 1).unwrap()
    receipt = kernel.EV_ADD | kernel.EV_RECEIPT
    kevs = _changes(
        kernel,
        (r, kernel.EVFILT_READ, receipt, 0, 0, 1),
        (r, kernel.EVFILT_WRITE, kernel.EV_DELETE | kernel.EV_RECEIPT, 0, 0, 2),
    )
    out = kernel.new("struct kevent[]", 4)
    # kern_event.c, kevent1: a change with EV_RECEIPT is put back as EV_ERROR with its
    # error (0 for success), and no pending event is collected in that call.
    assert kernel.kevent(kq, kevs, 2, out, 4, _timeout(kernel)).unwrap() == 2
    got = [(out[i].udata, out[i].flags, out[i].data) for i in range(2)]
    assert got == [(1, kernel.EV_ERROR, 0), (2, kernel.EV_ERROR, kernel.ENOENT)]
    [ev] = _wait(kernel, kq)  # the read filter was registered and is ready
    assert (ev.ident, ev.filter, ev.udata) == (r, kernel.EVFILT_READ, 1)


@NETBSD
def test_kevent_dispatch_disables_after_one_delivery_until_enabled_and_changed(
    kernel: Kernel, fds, kq
) -> None:
    r, w = fds.pipe()
    _ctl(kernel, kq, r, kernel.EVFILT_READ, kernel.EV_ADD | kernel.EV_DISPATCH)
    kernel.write(w, b"x", 1).unwrap()
    [ev] = _wait(kernel, kq)
    assert ev.ident == r
    assert _wait(kernel, kq) == []  # still readable, but disabled (kqueue_scan)
    # kern_event.c, knote_enqueue: EV_ENABLE queues a knote only if it was activated
    # since; the delivery left it inactive, so the next write is what reports again.
    _ctl(kernel, kq, r, kernel.EVFILT_READ, kernel.EV_ENABLE)
    assert _wait(kernel, kq) == []
    kernel.write(w, b"y", 1).unwrap()
    [ev] = _wait(kernel, kq)
    assert (ev.ident, ev.data) == (r, 2)


@NETBSD
def test_kevent_add_of_a_registered_filter_replaces_its_udata(kernel: Kernel, fds, kq) -> None:
    _, w = fds.pipe()
    for udata in (1, 2):
        kevs = _changes(kernel, (w, kernel.EVFILT_WRITE, kernel.EV_ADD, 0, 0, udata))
        assert kernel.kevent(kq, kevs, 1, None, 0, _timeout(kernel)).unwrap() == 0
    [ev] = _wait(kernel, kq)  # one knote, the second registration's udata
    assert ev.udata == 2
