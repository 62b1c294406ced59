"""UDP on 127.0.0.1: datagrams keep their boundaries, MSG_TRUNC and MSG_PEEK, and the
sender's address as recvfrom(2) reports it. Ports are chosen by the kernel."""

import socket

import pytest

from syscalls.kernel import Kernel


def _sendto(kernel: Kernel, inet, fd: int, data: bytes, port: int) -> None:
    sa, n = inet.addr(port)
    assert kernel.sendto(fd, data, len(data), 0, sa, n).unwrap() == len(data)


def _recv(kernel: Kernel, inet, fd: int, n: int = 256, flags: int = 0) -> bytes:
    inet.wait(fd)
    buf = kernel.buf(n)
    got = kernel.recvfrom(fd, buf, n, flags | kernel.MSG_DONTWAIT, None, None).unwrap()
    return kernel.bytes(buf, min(got, n))


@pytest.fixture
def pair(kernel: Kernel, inet) -> tuple[int, int, int]:
    """(sender, receiver, receiver's port)."""
    rx, port = inet.bound(kernel.SOCK_DGRAM)
    tx, _ = inet.bound(kernel.SOCK_DGRAM)
    return tx, rx, port


def test_udp_datagrams_keep_their_boundaries(kernel: Kernel, inet, pair) -> None:
    tx, rx, port = pair
    _sendto(kernel, inet, tx, b"first", port)
    _sendto(kernel, inet, tx, b"second", port)
    assert [_recv(kernel, inet, rx), _recv(kernel, inet, rx)] == [b"first", b"second"]


def test_udp_recvfrom_reports_the_sender_address(kernel: Kernel, inet, pair) -> None:
    tx, rx, port = pair
    _sendto(kernel, inet, tx, b"x", port)
    inet.wait(rx)
    src = kernel.new("struct sockaddr_in *")
    n = kernel.new("int *", kernel.ffi.sizeof(src[0]))
    kernel.recvfrom(rx, kernel.buf(8), 8, 0, src, n).unwrap()
    assert n[0] == kernel.ffi.sizeof(src[0])
    assert socket.ntohs(src.sin_port) == inet.port(tx)
    assert socket.ntohl(src.sin_addr.s_addr) == inet.LOOPBACK


def test_udp_short_recvmsg_truncates_and_sets_msg_trunc(kernel: Kernel, inet, pair) -> None:
    tx, rx, port = pair
    _sendto(kernel, inet, tx, b"0123456789", port)
    _sendto(kernel, inet, tx, b"next", port)
    inet.wait(rx)
    buf = kernel.buf(4)
    msg = kernel.new("struct msghdr *")
    iov = kernel.new("struct iovec *", (buf, 4))  # a name keeps it alive while msg points at it
    msg.msg_iov, msg.msg_iovlen = iov, 1
    assert kernel.recvmsg(rx, msg, 0).unwrap() == 4
    assert kernel.bytes(buf, 4) == b"0123"
    assert msg.msg_flags & kernel.MSG_TRUNC
    assert _recv(kernel, inet, rx) == b"next"


@pytest.mark.os("linux")
def test_udp_recv_with_msg_trunc_returns_the_real_length(kernel: Kernel, inet, pair) -> None:
    tx, rx, port = pair
    _sendto(kernel, inet, tx, b"0123456789", port)
    inet.wait(rx)
    r = kernel.recvfrom(rx, kernel.buf(4), 4, kernel.MSG_TRUNC, None, None)
    assert r.unwrap() == 10


def test_udp_peek_leaves_the_datagram_queued(kernel: Kernel, inet, pair) -> None:
    tx, rx, port = pair
    _sendto(kernel, inet, tx, b"peek", port)
    assert _recv(kernel, inet, rx, flags=kernel.MSG_PEEK) == b"peek"
    assert _recv(kernel, inet, rx) == b"peek"


def test_udp_empty_datagram_is_delivered(kernel: Kernel, inet, pair) -> None:
    tx, rx, port = pair
    _sendto(kernel, inet, tx, b"", port)
    inet.wait(rx)
    assert kernel.recvfrom(rx, kernel.buf(8), 8, kernel.MSG_DONTWAIT, None, None).unwrap() == 0


def test_udp_connected_socket_sends_without_address(kernel: Kernel, inet, pair) -> None:
    tx, rx, port = pair
    kernel.connect(tx, *inet.addr(port)).unwrap()
    assert kernel.write(tx, b"conn", 4).unwrap() == 4
    assert _recv(kernel, inet, rx) == b"conn"


def test_udp_send_without_address_or_peer_is_edestaddrreq(kernel: Kernel, inet, pair) -> None:
    tx, _, _ = pair
    assert kernel.sendto(tx, b"x", 1, 0, None, 0).errno == "EDESTADDRREQ"


def test_udp_nonblocking_recv_when_empty_is_eagain(kernel: Kernel, inet, pair) -> None:
    _, rx, _ = pair
    r = kernel.recvfrom(rx, kernel.buf(8), 8, kernel.MSG_DONTWAIT, None, None)
    assert r.errno == "EAGAIN"


def test_udp_bind_to_a_port_in_use_is_eaddrinuse(kernel: Kernel, inet, pair) -> None:
    _, _, port = pair
    fd = inet.socket(kernel.SOCK_DGRAM)
    assert kernel.bind(fd, *inet.addr(port)).errno == "EADDRINUSE"


def test_udp_listen_is_eopnotsupp(kernel: Kernel, inet, pair) -> None:
    _, rx, _ = pair
    assert kernel.listen(rx, 1).errno == "EOPNOTSUPP"


def _reuseport(kernel: Kernel, inet, on: bool) -> int:
    fd = inet.socket(kernel.SOCK_DGRAM)
    if on:
        one = kernel.new("int *", 1)
        kernel.setsockopt(fd, kernel.SOL_SOCKET, kernel.SO_REUSEPORT, one, 4).unwrap()
    return fd


@pytest.mark.os("linux")
def test_udp_reuseport_lets_sockets_that_all_ask_share_a_port(kernel: Kernel, inet) -> None:
    first, second = _reuseport(kernel, inet, True), _reuseport(kernel, inet, True)
    kernel.bind(first, *inet.addr()).unwrap()
    port = inet.port(first)
    shared = kernel.bind(second, *inet.addr(port)).outcome
    late = kernel.bind(_reuseport(kernel, inet, False), *inet.addr(port)).outcome
    assert (shared, late) == ("ok", "EADDRINUSE")  # a socket that did not ask may not


@pytest.mark.os("linux")
def test_udp_reuseport_is_not_shared_with_a_socket_that_did_not_ask(kernel: Kernel, inet) -> None:
    plain, asking = _reuseport(kernel, inet, False), _reuseport(kernel, inet, True)
    kernel.bind(plain, *inet.addr()).unwrap()
    assert kernel.bind(asking, *inet.addr(inet.port(plain))).errno == "EADDRINUSE"
