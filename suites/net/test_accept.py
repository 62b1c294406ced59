"""accept(2), the call without flags (accept4's are tested in test_accept4.py): the
accepted socket, the peer address it reports and truncates, and the refusals. On Linux
the accepted socket does not inherit the listener's O_NONBLOCK (accept(2) NOTES); on
NetBSD it does. i386 reaches accept only through socketcall (test_socketcall.py): its
table has no entry.
"""

import socket
from pathlib import Path

from syscalls.expect import ByOS
from syscalls.kernel import Kernel

# The length accept reports when the room given is too small: Linux the address's whole
# length (net/socket.c, move_addr_to_user); NetBSD what it copied
# (sys/kern/uipc_syscalls.c, sys_accept -> copyout_sockname_sb).
REPORTED_LENGTH = ByOS(default="whole", netbsd="copied")
# NetBSD's accepted descriptor takes the listener's file flags, O_NONBLOCK included
# (sys/kern/uipc_syscalls.c, do_sys_accept: f_flag less clrflags, none for accept).
INHERITS_O_NONBLOCK = ByOS(default=False, netbsd=True)


def _queued(kernel: Kernel, inet) -> tuple[int, int]:
    """A listener with one connection waiting: (listener, client)."""
    lfd, port = inet.listener()
    client = inet.socket(kernel.SOCK_STREAM)
    kernel.connect(client, *inet.addr(port)).unwrap()
    return lfd, client


def test_accept_returns_a_connected_socket(kernel: Kernel, inet) -> None:
    lfd, client = _queued(kernel, inet)
    server = inet.fds(kernel.accept(lfd, None, None))
    kernel.write(client, b"hello", 5).unwrap()
    inet.wait(server)
    buf = kernel.buf(8)
    assert kernel.bytes(buf, kernel.read(server, buf, 8).unwrap()) == b"hello"


def test_accept_reports_the_peer_address(kernel: Kernel, inet) -> None:
    lfd, client = _queued(kernel, inet)
    sa = kernel.new("struct sockaddr_in *")
    n = kernel.new("int *", kernel.ffi.sizeof(sa[0]))
    inet.fds(kernel.accept(lfd, sa, n))
    assert n[0] == kernel.ffi.sizeof("struct sockaddr_in")
    assert sa.sin_family == kernel.AF_INET
    assert socket.ntohl(sa.sin_addr.s_addr) == inet.LOOPBACK
    assert socket.ntohs(sa.sin_port) == inet.port(client)


def test_accept_truncates_the_address_and_reports_its_full_length(kernel: Kernel, inet) -> None:
    lfd, _ = _queued(kernel, inet)
    buf = kernel.buf(4)
    n = kernel.new("int *", 4)
    inet.fds(kernel.accept(lfd, buf, n))
    whole = kernel.ffi.sizeof("struct sockaddr_in")
    assert n[0] == {"whole": whole, "copied": 4}[REPORTED_LENGTH[kernel.platform.os]]
    family = kernel.ffi.cast("struct sockaddr_in *", buf).sin_family  # what fit
    assert family == kernel.AF_INET


def test_accept_does_not_inherit_the_listeners_o_nonblock(kernel: Kernel, inet) -> None:
    lfd, _ = _queued(kernel, inet)
    kernel.fcntl(lfd, kernel.F_SETFL, kernel.O_NONBLOCK).unwrap()
    fd = inet.fds(kernel.accept(lfd, None, None))
    nonblocking = kernel.fcntl(fd, kernel.F_GETFL, 0).unwrap() & kernel.O_NONBLOCK
    assert bool(nonblocking) == INHERITS_O_NONBLOCK[kernel.platform.os]
    assert kernel.fcntl(fd, kernel.F_GETFD, 0).unwrap() & kernel.FD_CLOEXEC == 0


def test_accept_of_an_unbound_unix_client_reports_just_the_family(
    kernel: Kernel, tmp: Path, fds
) -> None:
    path = tmp / "sock"
    lfd = fds(kernel.socket(kernel.AF_UNIX, kernel.SOCK_STREAM, 0))
    sun = kernel.new("struct sockaddr_un *", {"sun_family": kernel.AF_UNIX})
    sun.sun_path = bytes(path)
    kernel.bind(lfd, sun, kernel.ffi.sizeof(sun[0])).unwrap()
    kernel.listen(lfd, 1).unwrap()
    client = fds(kernel.socket(kernel.AF_UNIX, kernel.SOCK_STREAM, 0))
    kernel.connect(client, sun, kernel.ffi.sizeof(sun[0])).unwrap()
    peer = kernel.new("struct sockaddr_un *")
    n = kernel.new("int *", kernel.ffi.sizeof(peer[0]))
    fds(kernel.accept(lfd, peer, n))
    assert (n[0], peer.sun_family) == (2, kernel.AF_UNIX)  # sizeof(sa_family_t)


def test_accept_on_an_empty_nonblocking_listener_is_eagain(kernel: Kernel, inet) -> None:
    lfd, _ = inet.listener()
    kernel.fcntl(lfd, kernel.F_SETFL, kernel.O_NONBLOCK).unwrap()
    assert kernel.accept(lfd, None, None).errno == "EAGAIN"


def test_accept_on_a_socket_that_is_not_listening_is_einval(kernel: Kernel, inet) -> None:
    fd, _ = inet.bound(kernel.SOCK_STREAM)
    assert kernel.accept(fd, None, None).errno == "EINVAL"


def test_accept_on_a_udp_socket_is_eopnotsupp(kernel: Kernel, inet) -> None:
    fd, _ = inet.bound(kernel.SOCK_DGRAM)
    assert kernel.accept(fd, None, None).errno == "EOPNOTSUPP"


def test_accept_on_a_pipe_is_enotsock(kernel: Kernel, fds) -> None:
    r, _ = fds.pipe()
    assert kernel.accept(r, None, None).errno == "ENOTSOCK"


def test_accept_on_a_closed_descriptor_is_ebadf(kernel: Kernel, fds) -> None:
    r, _ = fds.pipe()
    fds.close(r)
    assert kernel.accept(r, None, None).errno == "EBADF"


def test_accept_with_a_negative_address_length_is_einval(kernel: Kernel, inet) -> None:
    lfd, _ = _queued(kernel, inet)
    sa = kernel.new("struct sockaddr_in *")
    assert kernel.accept(lfd, sa, kernel.new("int *", -1)).errno == "EINVAL"
