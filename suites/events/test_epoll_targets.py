"""epoll_ctl(2) on each kind of file, and what each reports at once (Linux only).

fs/eventpoll.c do_epoll_ctl: a file without a poll method (regular files, directories,
/dev/null and /dev/zero, memfd: shmem has none) is EPERM; an O_PATH descriptor is no
file for epoll at all, EBADF. What an added file reports is its poll method's answer
masked by the events asked for, plus EPOLLERR and EPOLLHUP, which are always reported:
asked for EPOLLIN|EPOLLOUT, an empty pipe's read end says nothing, its write end
EPOLLOUT (pipe_poll), /proc/self/mounts EPOLLIN (mounts_poll), an unconnected TCP
socket EPOLLOUT|EPOLLHUP (tcp_poll: TCP_CLOSE hangs up), and so on. A pipe's write end
whose reader is gone reports EPOLLERR, asked or not.
"""

import signal
import time

import pytest

from syscalls.fds import make_fifo
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")


def _fifo(k: Kernel, fds, tmp) -> int:
    make_fifo(k, tmp / "fifo")
    return fds.open(tmp / "fifo", k.O_RDWR | k.O_NONBLOCK)


def _signalfd(k: Kernel, fds, tmp) -> int:
    mask = k.new("uint64_t *", 1 << (signal.SIGUSR2 - 1))
    return fds(k.signalfd4(-1, mask, 8, 0))


def _file(k: Kernel, fds, tmp) -> int:
    return fds.file(tmp / "f", b"data")


MAKERS = {
    "pipe_read": lambda k, fds, tmp: fds.pipe()[0],
    "pipe_write": lambda k, fds, tmp: fds.pipe()[1],
    "fifo": _fifo,
    "unix_stream": lambda k, fds, tmp: fds.socketpair()[0],
    "unix_dgram": lambda k, fds, tmp: fds.socketpair(k.SOCK_DGRAM)[0],
    "udp": lambda k, fds, tmp: fds(k.socket(k.AF_INET, k.SOCK_DGRAM, 0)),
    "tcp_unconnected": lambda k, fds, tmp: fds(k.socket(k.AF_INET, k.SOCK_STREAM, 0)),
    "eventfd": lambda k, fds, tmp: fds(k.eventfd2(0, 0)),
    "timerfd": lambda k, fds, tmp: fds(k.timerfd_create(time.CLOCK_MONOTONIC, 0)),
    "signalfd": _signalfd,
    "epoll": lambda k, fds, tmp: fds(k.epoll_create1(0)),
    "inotify": lambda k, fds, tmp: fds(k.inotify_init1(0)),
    "pidfd": lambda k, fds, tmp: fds(k.pidfd_open(k.getpid().unwrap(), 0)),
    "proc_mounts": lambda k, fds, tmp: fds.open("/proc/self/mounts", k.O_RDONLY),
    "regular_file": _file,
    "directory": lambda k, fds, tmp: fds.open(tmp, k.O_RDONLY | k.O_DIRECTORY),
    "dev_null": lambda k, fds, tmp: fds.open("/dev/null", k.O_RDONLY),
    "dev_zero": lambda k, fds, tmp: fds.open("/dev/zero", k.O_RDONLY),
    "memfd": lambda k, fds, tmp: fds(k.memfd_create(b"epoll", 0)),
    "o_path": lambda k, fds, tmp: fds.open(tmp, k.O_PATH),
}

# (kind, what EPOLL_CTL_ADD answers, what it reports at once: names of EPOLL* bits)
CASES = [
    ("pipe_read", "ok", []),
    ("pipe_write", "ok", ["EPOLLOUT"]),
    ("fifo", "ok", ["EPOLLOUT"]),
    ("unix_stream", "ok", ["EPOLLOUT"]),
    ("unix_dgram", "ok", ["EPOLLOUT"]),
    ("udp", "ok", ["EPOLLOUT"]),
    ("tcp_unconnected", "ok", ["EPOLLOUT", "EPOLLHUP"]),
    ("eventfd", "ok", ["EPOLLOUT"]),  # count 0: writable, not readable
    ("timerfd", "ok", []),  # unarmed
    ("signalfd", "ok", []),  # nothing pending
    ("epoll", "ok", []),  # empty
    ("inotify", "ok", []),
    ("pidfd", "ok", []),  # this process: still running
    ("proc_mounts", "ok", ["EPOLLIN"]),
    ("regular_file", "EPERM", None),
    ("directory", "EPERM", None),
    ("dev_null", "EPERM", None),
    ("dev_zero", "EPERM", None),
    ("memfd", "EPERM", None),
    ("o_path", "EBADF", None),
]


@pytest.mark.parametrize(("kind", "outcome", "ready"), CASES)
def test_epoll_ctl_add_on_each_kind_of_file(
    kernel: Kernel, fds, tmp, kind: str, outcome: str, ready
) -> None:
    fd = MAKERS[kind](kernel, fds, tmp)
    ep = fds(kernel.epoll_create1(0))
    ev = kernel.new("struct epoll_event *")
    ev.events = kernel.EPOLLIN | kernel.EPOLLOUT
    assert kernel.epoll_ctl(ep, kernel.EPOLL_CTL_ADD, fd, ev).outcome == outcome
    if ready is not None:
        assert _reported(kernel, ep) == sum(getattr(kernel, name) for name in ready)


def _reported(kernel: Kernel, ep: int) -> int:
    events = kernel.new("struct epoll_event[1]")
    n = kernel.epoll_pwait(ep, events, 1, 0, None, 8).unwrap()
    return events[0].events if n else 0


@pytest.mark.parametrize(("asked", "reported"), [("EPOLLOUT", "EPOLLOUT"), (None, None)])
def test_epoll_pipe_write_end_without_a_reader_reports_epollerr(
    kernel: Kernel, fds, asked, reported
) -> None:
    r, w = fds.pipe()
    ep = fds(kernel.epoll_create1(0))
    ev = kernel.new("struct epoll_event *")
    ev.events = getattr(kernel, asked) if asked else 0
    kernel.epoll_ctl(ep, kernel.EPOLL_CTL_ADD, w, ev).unwrap()
    assert _reported(kernel, ep) == (getattr(kernel, reported) if reported else 0)
    fds.close(r)
    expected = kernel.EPOLLERR | (getattr(kernel, reported) if reported else 0)
    assert _reported(kernel, ep) == expected
