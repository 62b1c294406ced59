"""paccept(2), NetBSD's accept with a signal mask and flags (its accept4): SOCK_CLOEXEC,
SOCK_NONBLOCK and SOCK_NOSIGPIPE give the new descriptor those flags, and, unlike
accept, it does not take the listener's O_NONBLOCK (sys/kern/uipc_syscalls.c,
sys_paccept: do_sys_accept clearing FNONBLOCK). Verified on NetBSD (the rump kernel)
and marked for it alone.
"""

from pathlib import Path

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("netbsd")


@pytest.fixture
def queued(kernel: Kernel, tmp: Path, fds) -> int:
    """A unix stream listener with one connection waiting."""
    sun = kernel.new("struct sockaddr_un *", {"sun_family": kernel.AF_UNIX})
    sun.sun_path = bytes(tmp / "sock")
    lfd = fds(kernel.socket(kernel.AF_UNIX, kernel.SOCK_STREAM, 0))
    kernel.bind(lfd, sun, kernel.ffi.sizeof(sun[0])).unwrap()
    kernel.listen(lfd, 1).unwrap()
    client = fds(kernel.socket(kernel.AF_UNIX, kernel.SOCK_STREAM, 0))
    kernel.connect(client, sun, kernel.ffi.sizeof(sun[0])).unwrap()
    return lfd


def _paccept(kernel: Kernel, fds, lfd: int, flags: int) -> int:
    return fds(kernel.paccept(lfd, None, None, None, flags))


def test_paccept_without_flags_is_a_plain_descriptor(kernel: Kernel, fds, queued) -> None:
    fd = _paccept(kernel, fds, queued, 0)
    assert kernel.fcntl(fd, kernel.F_GETFD, 0).unwrap() & kernel.FD_CLOEXEC == 0
    assert kernel.fcntl(fd, kernel.F_GETFL, 0).unwrap() & kernel.O_NONBLOCK == 0
    assert kernel.fcntl(fd, kernel.F_GETNOSIGPIPE, 0).unwrap() == 0


def test_paccept_cloexec_sets_the_fd_flag(kernel: Kernel, fds, queued) -> None:
    fd = _paccept(kernel, fds, queued, kernel.SOCK_CLOEXEC)
    assert kernel.fcntl(fd, kernel.F_GETFD, 0).unwrap() & kernel.FD_CLOEXEC


def test_paccept_nonblock_sets_o_nonblock(kernel: Kernel, fds, queued) -> None:
    fd = _paccept(kernel, fds, queued, kernel.SOCK_NONBLOCK)
    assert kernel.fcntl(fd, kernel.F_GETFL, 0).unwrap() & kernel.O_NONBLOCK
    assert kernel.read(fd, kernel.buf(1), 1).errno == "EAGAIN"


def test_paccept_nosigpipe_shows_in_f_getnosigpipe(kernel: Kernel, fds, queued) -> None:
    fd = _paccept(kernel, fds, queued, kernel.SOCK_NOSIGPIPE)
    assert kernel.fcntl(fd, kernel.F_GETNOSIGPIPE, 0).unwrap() == 1


def test_paccept_does_not_take_the_listeners_o_nonblock(kernel: Kernel, fds, queued) -> None:
    kernel.fcntl(queued, kernel.F_SETFL, kernel.O_NONBLOCK).unwrap()
    fd = _paccept(kernel, fds, queued, 0)
    assert kernel.fcntl(fd, kernel.F_GETFL, 0).unwrap() & kernel.O_NONBLOCK == 0


def test_paccept_on_an_empty_nonblocking_listener_is_eagain(kernel: Kernel, fds, queued) -> None:
    _paccept(kernel, fds, queued, 0)  # takes the one waiting connection
    kernel.fcntl(queued, kernel.F_SETFL, kernel.O_NONBLOCK).unwrap()
    assert kernel.paccept(queued, None, None, None, 0).errno == "EAGAIN"


def test_paccept_on_a_pipe_is_enotsock(kernel: Kernel, fds) -> None:
    r, _ = fds.pipe()
    assert kernel.paccept(r, None, None, None, 0).errno == "ENOTSOCK"
