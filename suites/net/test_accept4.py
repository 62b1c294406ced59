"""accept4(2): flags applied to the accepted socket, and its refusals."""

import pytest

from syscalls.kernel import Kernel


def _queued(kernel: Kernel, inet) -> int:
    """A listener with one connection waiting in its queue."""
    lfd, port = inet.listener()
    client = inet.socket(kernel.SOCK_STREAM)
    kernel.connect(client, *inet.addr(port)).unwrap()
    return lfd


def test_accept4_cloexec_sets_fd_flag(kernel: Kernel, inet) -> None:
    fd = inet.fds(kernel.accept4(_queued(kernel, inet), None, None, kernel.SOCK_CLOEXEC))
    assert kernel.fcntl(fd, kernel.F_GETFD, 0).unwrap() & kernel.FD_CLOEXEC


def test_accept4_nonblock_sets_status_flag(kernel: Kernel, inet) -> None:
    fd = inet.fds(kernel.accept4(_queued(kernel, inet), None, None, kernel.SOCK_NONBLOCK))
    assert kernel.fcntl(fd, kernel.F_GETFL, 0).unwrap() & kernel.O_NONBLOCK


def test_accept4_without_flags_gives_plain_fd(kernel: Kernel, inet) -> None:
    fd = inet.fds(kernel.accept4(_queued(kernel, inet), None, None, 0))
    assert kernel.fcntl(fd, kernel.F_GETFD, 0).unwrap() & kernel.FD_CLOEXEC == 0
    assert kernel.fcntl(fd, kernel.F_GETFL, 0).unwrap() & kernel.O_NONBLOCK == 0


@pytest.mark.os("linux")
def test_accept4_unknown_flag_is_einval(kernel: Kernel, inet) -> None:
    assert kernel.accept4(_queued(kernel, inet), None, None, 1).errno == "EINVAL"


def test_accept4_on_empty_nonblocking_listener_is_eagain(kernel: Kernel, inet) -> None:
    lfd, _ = inet.listener()
    kernel.fcntl(lfd, kernel.F_SETFL, kernel.O_NONBLOCK).unwrap()
    assert kernel.accept4(lfd, None, None, 0).errno == "EAGAIN"


def test_accept4_on_a_pipe_is_enotsock(kernel: Kernel, fds) -> None:
    r, _ = fds.pipe()
    assert kernel.accept4(r, None, None, 0).errno == "ENOTSOCK"


def test_accept4_on_udp_socket_is_eopnotsupp(kernel: Kernel, inet) -> None:
    fd, _ = inet.bound(kernel.SOCK_DGRAM)
    assert kernel.accept4(fd, None, None, 0).errno == "EOPNOTSUPP"
