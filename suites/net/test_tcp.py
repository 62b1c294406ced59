"""TCP on 127.0.0.1: connecting, transferring, half-closing, resets, and the options
every TCP socket answers. Ports are chosen by the kernel (bind to port 0)."""

import socket
import threading
import time

import pytest

from syscalls import readiness, sysctl
from syscalls.child import TIME_SCALE
from syscalls.expect import ByOS
from syscalls.kernel import Kernel

# A SYN to a port bound but not listening: Linux answers with a reset (ECONNREFUSED);
# NetBSD drops it (sys/netinet/tcp_input.c, tcp_input: a TCPS_CLOSED pcb goes to drop):
# the connection stays in progress, with no error, until the connect timer (75 s) ends
# it. A port nothing holds is answered with a reset on both (dropwithreset).
BOUND_NOT_LISTENING = ByOS(default="ECONNREFUSED", netbsd="no answer")


def _send(kernel: Kernel, fd: int, data: bytes, flags: int = 0):
    return kernel.sendto(fd, data, len(data), flags | kernel.MSG_NOSIGNAL, None, 0)


def _recv(kernel: Kernel, inet, fd: int, n: int = 256):
    inet.wait(fd)
    buf = kernel.buf(n)
    r = kernel.recvfrom(fd, buf, n, kernel.MSG_DONTWAIT, None, None)
    return kernel.bytes(buf, r.value) if r.ok else r.outcome


def _getint(kernel: Kernel, fd: int, level: int, name: int) -> int:
    val = kernel.new("int *")
    n = kernel.new("int *", 4)
    kernel.getsockopt(fd, level, name, val, n).unwrap()
    return val[0]


def _setint(kernel: Kernel, fd: int, level: int, name: int, value: int) -> None:
    kernel.setsockopt(fd, level, name, kernel.new("int *", value), 4).unwrap()


@pytest.mark.smoke
def test_tcp_bind_to_port_zero_gets_a_port(kernel: Kernel, inet) -> None:
    _, port = inet.bound(kernel.SOCK_STREAM)
    assert 0 < port < 65536


@pytest.mark.smoke
def test_tcp_connect_accept_carries_bytes_both_ways(kernel: Kernel, inet) -> None:
    client, server = inet.connected()
    assert _send(kernel, client, b"hello").unwrap() == 5
    assert _recv(kernel, inet, server) == b"hello"
    _send(kernel, server, b"world").unwrap()
    assert _recv(kernel, inet, client) == b"world"


def test_tcp_accept_reports_the_client_address(kernel: Kernel, inet) -> None:
    lfd, port = inet.listener()
    client = inet.socket(kernel.SOCK_STREAM)
    kernel.connect(client, *inet.addr(port)).unwrap()
    peer = kernel.new("struct sockaddr_in *")
    n = kernel.new("int *", kernel.ffi.sizeof(peer[0]))
    inet.fds(kernel.accept4(lfd, peer, n, 0))
    assert peer.sin_family == kernel.AF_INET
    assert socket.ntohl(peer.sin_addr.s_addr) == inet.LOOPBACK
    assert socket.ntohs(peer.sin_port) == inet.port(client)


def test_tcp_getpeername_of_client_is_the_listener(kernel: Kernel, inet) -> None:
    _, port = inet.listener()
    client = inet.socket(kernel.SOCK_STREAM)
    kernel.connect(client, *inet.addr(port)).unwrap()
    peer = kernel.new("struct sockaddr_in *")
    n = kernel.new("int *", kernel.ffi.sizeof(peer[0]))
    kernel.getpeername(client, peer, n).unwrap()
    assert socket.ntohs(peer.sin_port) == port


@pytest.mark.smoke
def test_tcp_shutdown_write_gives_peer_eof(kernel: Kernel, inet) -> None:
    client, server = inet.connected()
    _send(kernel, client, b"last").unwrap()
    kernel.shutdown(client, kernel.SHUT_WR).unwrap()
    assert _recv(kernel, inet, server) == b"last"
    assert _recv(kernel, inet, server) == b""


def test_tcp_shutdown_write_still_lets_the_peer_send(kernel: Kernel, inet) -> None:
    client, server = inet.connected()
    kernel.shutdown(client, kernel.SHUT_WR).unwrap()
    _send(kernel, server, b"reply").unwrap()
    assert _recv(kernel, inet, client) == b"reply"


def test_tcp_send_after_own_shutdown_write_is_epipe(kernel: Kernel, inet) -> None:
    client, _ = inet.connected()
    kernel.shutdown(client, kernel.SHUT_WR).unwrap()
    assert _send(kernel, client, b"x").errno == "EPIPE"


def test_tcp_abortive_close_resets_the_peer(kernel: Kernel, inet) -> None:
    client, server = inet.connected()
    linger = kernel.new("struct linger *", (1, 0))  # close() sends RST at once
    kernel.setsockopt(server, kernel.SOL_SOCKET, kernel.SO_LINGER, linger, 8).unwrap()
    inet.fds.close(server)
    assert _recv(kernel, inet, client) == "ECONNRESET"
    assert _send(kernel, client, b"x").errno == "EPIPE"


@pytest.mark.smoke
def test_tcp_connect_to_port_without_listener_is_econnrefused(kernel: Kernel, inet) -> None:
    fd, port = inet.bound(kernel.SOCK_STREAM)
    inet.fds.close(fd)  # a port of the kernel's choosing that nothing holds now
    client = inet.socket(kernel.SOCK_STREAM)
    assert kernel.connect(client, *inet.addr(port)).errno == "ECONNREFUSED"


def test_tcp_bind_to_a_listening_port_is_eaddrinuse(kernel: Kernel, inet) -> None:
    _, port = inet.listener()
    fd = inet.socket(kernel.SOCK_STREAM)
    assert kernel.bind(fd, *inet.addr(port)).errno == "EADDRINUSE"


def test_tcp_reuseaddr_does_not_share_a_listening_port(kernel: Kernel, inet) -> None:
    first = inet.socket(kernel.SOCK_STREAM)
    _setint(kernel, first, kernel.SOL_SOCKET, kernel.SO_REUSEADDR, 1)
    kernel.bind(first, *inet.addr()).unwrap()
    kernel.listen(first, 1).unwrap()
    second = inet.socket(kernel.SOCK_STREAM)
    _setint(kernel, second, kernel.SOL_SOCKET, kernel.SO_REUSEADDR, 1)
    assert kernel.bind(second, *inet.addr(inet.port(first))).errno == "EADDRINUSE"


def test_tcp_reuseaddr_is_off_then_set(kernel: Kernel, inet) -> None:
    fd = inet.socket(kernel.SOCK_STREAM)
    assert _getint(kernel, fd, kernel.SOL_SOCKET, kernel.SO_REUSEADDR) == 0
    _setint(kernel, fd, kernel.SOL_SOCKET, kernel.SO_REUSEADDR, 1)
    assert _getint(kernel, fd, kernel.SOL_SOCKET, kernel.SO_REUSEADDR) != 0


def test_tcp_nodelay_is_off_then_set(kernel: Kernel, inet) -> None:
    fd = inet.socket(kernel.SOCK_STREAM)
    assert _getint(kernel, fd, kernel.IPPROTO_TCP, kernel.TCP_NODELAY) == 0
    _setint(kernel, fd, kernel.IPPROTO_TCP, kernel.TCP_NODELAY, 1)
    assert _getint(kernel, fd, kernel.IPPROTO_TCP, kernel.TCP_NODELAY) != 0


def test_tcp_acceptconn_is_set_on_listeners_only(kernel: Kernel, inet) -> None:
    lfd, _ = inet.listener()
    other = inet.socket(kernel.SOCK_STREAM)
    assert _getint(kernel, lfd, kernel.SOL_SOCKET, kernel.SO_ACCEPTCONN) == 1
    assert _getint(kernel, other, kernel.SOL_SOCKET, kernel.SO_ACCEPTCONN) == 0


def test_tcp_nonblocking_connect_completes_as_writable(kernel: Kernel, inet, observe) -> None:
    _, port = inet.listener()
    fd = inet.socket(kernel.SOCK_STREAM, kernel.SOCK_NONBLOCK)
    r = kernel.connect(fd, *inet.addr(port))
    observe("connect", r.outcome)
    assert r.ok or r.errno == "EINPROGRESS"
    assert inet.wait(fd, kernel.POLLOUT) & kernel.POLLOUT
    assert _getint(kernel, fd, kernel.SOL_SOCKET, kernel.SO_ERROR) == 0


def test_tcp_nonblocking_connect_refused_shows_in_so_error(kernel: Kernel, inet, observe) -> None:
    _, port = inet.bound(kernel.SOCK_STREAM)
    fd = inet.socket(kernel.SOCK_STREAM, kernel.SOCK_NONBLOCK)
    r = kernel.connect(fd, *inet.addr(port))
    observe("connect", r.outcome)
    assert r.errno in ("EINPROGRESS", "ECONNREFUSED")  # loopback may refuse at once
    inet.wait(fd, kernel.POLLOUT, timeout_ms=2000)  # a reset on loopback comes at once
    err = _getint(kernel, fd, kernel.SOL_SOCKET, kernel.SO_ERROR)
    if r.errno == "ECONNREFUSED":  # SO_ERROR is cleared once connect() reported it
        assert err == 0
    answer = r.errno if r.errno != "EINPROGRESS" else "no answer"
    answer = kernel.platform.errno_name(err) if err else answer
    assert answer == BOUND_NOT_LISTENING[kernel.platform.os]


@pytest.mark.os("linux")
def test_tcp_so_error_is_cleared_once_read(kernel: Kernel, inet) -> None:
    """getsockopt(SO_ERROR) takes the pending error (socket(7)): a second read is 0."""
    _, port = inet.bound(kernel.SOCK_STREAM)
    fd = inet.socket(kernel.SOCK_STREAM, kernel.SOCK_NONBLOCK)
    r = kernel.connect(fd, *inet.addr(port))
    if r.errno == "ECONNREFUSED":
        pytest.skip("connect reported the refusal itself: no error was left pending")
    assert r.errno == "EINPROGRESS"
    inet.wait(fd, kernel.POLLOUT, timeout_ms=2000)
    first = _getint(kernel, fd, kernel.SOL_SOCKET, kernel.SO_ERROR)
    second = _getint(kernel, fd, kernel.SOL_SOCKET, kernel.SO_ERROR)
    assert (kernel.platform.errno_name(first), second) == ("ECONNREFUSED", 0)


def test_tcp_recv_on_unconnected_socket_is_enotconn(kernel: Kernel, inet) -> None:
    fd = inet.socket(kernel.SOCK_STREAM)
    assert kernel.recvfrom(fd, kernel.buf(8), 8, 0, None, None).errno == "ENOTCONN"


def test_tcp_getpeername_on_unconnected_socket_is_enotconn(kernel: Kernel, inet) -> None:
    fd = inet.socket(kernel.SOCK_STREAM)
    sa, n = inet.addr()
    assert kernel.getpeername(fd, sa, kernel.new("int *", n)).errno == "ENOTCONN"


def test_tcp_accept_on_non_listening_socket_is_einval(kernel: Kernel, inet) -> None:
    fd, _ = inet.bound(kernel.SOCK_STREAM)
    assert kernel.accept4(fd, None, None, 0).errno == "EINVAL"


def test_tcp_connect_twice_is_eisconn(kernel: Kernel, inet) -> None:
    _, port = inet.listener()
    fd = inet.socket(kernel.SOCK_STREAM)
    kernel.connect(fd, *inet.addr(port)).unwrap()
    assert kernel.connect(fd, *inet.addr(port)).errno == "EISCONN"


def test_tcp_large_transfer_arrives_intact(kernel: Kernel, inet, in_child) -> None:
    client, server = inet.connected()
    data = bytes(range(256)) * 1024  # 256 KiB: more than the socket buffers hold at once

    def run() -> bytes:
        got, sent, buf = bytearray(), 0, kernel.buf(65536)
        ready = kernel.new(
            "struct pollfd[2]", [(client, kernel.POLLOUT, 0), (server, kernel.POLLIN, 0)]
        )
        while len(got) < len(data):
            readiness.poll(kernel, ready, 2 if sent < len(data) else 1, 5000).unwrap()
            if sent < len(data) and ready[0].revents & kernel.POLLOUT:
                chunk = data[sent : sent + 65536]
                sent += _send(kernel, client, chunk, kernel.MSG_DONTWAIT).value
            r = kernel.recvfrom(server, buf, 65536, kernel.MSG_DONTWAIT, None, None)
            if r.ok:
                got += kernel.bytes(buf, r.value)
        return bytes(got)

    assert in_child(run, timeout=30) == data


def test_tcp_ipv6_loopback_carries_bytes(kernel: Kernel, inet) -> None:
    r = kernel.socket(kernel.AF_INET6, kernel.SOCK_STREAM, 0)
    if r.errno == "EAFNOSUPPORT":
        pytest.skip("IPv6 is not available here (socket: EAFNOSUPPORT)")
    lfd = inet.fds(r)
    sa = kernel.new("struct sockaddr_in6 *")
    sa.sin6_family = kernel.AF_INET6
    sa.sin6_addr.s6_addr[15] = 1  # ::1
    size = kernel.ffi.sizeof(sa[0])
    r = kernel.bind(lfd, sa, size)
    if r.errno == "EADDRNOTAVAIL":
        pytest.skip("::1 is not configured here (bind: EADDRNOTAVAIL)")
    r.unwrap()
    kernel.listen(lfd, 1).unwrap()
    kernel.getsockname(lfd, sa, kernel.new("int *", size)).unwrap()
    client = inet.fds(kernel.socket(kernel.AF_INET6, kernel.SOCK_STREAM, 0))
    kernel.connect(client, sa, size).unwrap()
    server = inet.fds(kernel.accept4(lfd, None, None, 0))
    _send(kernel, client, b"v6").unwrap()
    assert _recv(kernel, inet, server) == b"v6"


def _urgent_epoll(kernel: Kernel, inet, fds, events: int) -> tuple[int, int]:
    """A connection whose client sent one urgent (MSG_OOB) byte after a normal one, once
    it has arrived; (server side, an epoll instance watching it for `events`)."""
    client, server = inet.connected()
    _send(kernel, client, b"a").unwrap()
    _send(kernel, client, b"!", kernel.MSG_OOB).unwrap()
    assert inet.wait(server, kernel.POLLPRI) & kernel.POLLPRI  # loopback is asynchronous
    ep = fds(kernel.epoll_create1(0))
    ev = kernel.new("struct epoll_event *")
    ev.events = events
    kernel.epoll_ctl(ep, kernel.EPOLL_CTL_ADD, server, ev).unwrap()
    return server, ep


def _epoll_events(kernel: Kernel, ep: int) -> int:
    events = kernel.new("struct epoll_event[1]")
    n = readiness.epoll_wait(kernel, ep, events, 1, 0).unwrap()
    return events[0].events if n else 0


def test_tcp_urgent_data_makes_epoll_report_epollpri(kernel: Kernel, inet, fds) -> None:
    _, ep = _urgent_epoll(kernel, inet, fds, kernel.EPOLLIN | kernel.EPOLLPRI)
    assert _epoll_events(kernel, ep) == kernel.EPOLLIN | kernel.EPOLLPRI


def test_tcp_urgent_data_is_not_reported_to_epoll_unless_asked(kernel: Kernel, inet, fds) -> None:
    _, ep = _urgent_epoll(kernel, inet, fds, kernel.EPOLLIN)
    assert _epoll_events(kernel, ep) == kernel.EPOLLIN


def test_tcp_epollpri_ends_once_the_urgent_byte_is_read(kernel: Kernel, inet, fds) -> None:
    server, ep = _urgent_epoll(kernel, inet, fds, kernel.EPOLLIN | kernel.EPOLLPRI)
    buf = kernel.buf(1)
    assert kernel.recvfrom(server, buf, 1, kernel.MSG_OOB, None, None).unwrap() == 1
    assert kernel.bytes(buf, 1) == b"!"
    assert _epoll_events(kernel, ep) == kernel.EPOLLIN  # the normal byte is still there


# -- urgent data, the low-water mark, MSG_WAITALL, TCP_INFO, IP_TTL ---------------------


def _urgent_sent(kernel: Kernel, inet) -> tuple[int, int]:
    """A connection whose client sent b"ab", then the urgent b"X", then b"cd", the
    urgent byte arrived: (client, server)."""
    client, server = inet.connected()
    for data, flags in ((b"ab", 0), (b"X", kernel.MSG_OOB), (b"cd", 0)):
        _send(kernel, client, data, flags).unwrap()
    assert inet.wait(server, kernel.POLLPRI) & kernel.POLLPRI  # loopback is asynchronous
    return client, server


def _queued(kernel: Kernel, fd: int) -> int:
    n = kernel.new("int *")
    kernel.ioctl(fd, kernel.SIOCINQ, n).unwrap()
    return n[0]


def _wait_queued(kernel: Kernel, fd: int, n: int) -> None:
    """Until n bytes have arrived (loopback is asynchronous), for 5 s at most."""
    deadline = time.monotonic() + 5 * TIME_SCALE
    while _queued(kernel, fd) < n and time.monotonic() < deadline:
        time.sleep(0.001)


def _at_mark(kernel: Kernel, fd: int) -> int:
    at = kernel.new("int *")
    kernel.ioctl(fd, kernel.SIOCATMARK, at).unwrap()
    return at[0]


@pytest.mark.os("linux")
def test_tcp_read_stops_at_the_urgent_mark_and_msg_oob_takes_the_byte(kernel: Kernel, inet) -> None:
    _, server = _urgent_sent(kernel, inet)
    buf = kernel.buf(16)
    before, readable = _at_mark(kernel, server), _queued(kernel, server)
    first = kernel.bytes(buf, kernel.recvfrom(server, buf, 16, 0, None, None).unwrap())
    at = _at_mark(kernel, server)
    n = kernel.recvfrom(server, buf, 16, kernel.MSG_OOB | kernel.MSG_DONTWAIT, None, None).unwrap()
    urgent, rest = kernel.bytes(buf, n), b""
    while len(rest) < 2 and isinstance(chunk := _recv(kernel, inet, server), bytes) and chunk:
        rest += chunk
    assert (before, readable) == (0, 2)  # SIOCINQ counts up to the mark
    assert (first, at) == (b"ab", 1)  # and a read stops there
    assert (urgent, rest) == (b"X", b"cd")  # the urgent byte is not in the stream


@pytest.mark.os("linux")
def test_tcp_oobinline_leaves_the_urgent_byte_in_the_stream(kernel: Kernel, inet) -> None:
    client, server = inet.connected()
    _setint(kernel, server, kernel.SOL_SOCKET, kernel.SO_OOBINLINE, 1)
    for data, flags in ((b"ab", 0), (b"X", kernel.MSG_OOB), (b"cd", 0)):
        _send(kernel, client, data, flags).unwrap()
    got = b""
    while len(got) < 5 and isinstance(chunk := _recv(kernel, inet, server), bytes) and chunk:
        got += chunk
    buf = kernel.buf(1)
    assert got == b"abXcd"
    oob = kernel.MSG_OOB | kernel.MSG_DONTWAIT  # a kernel that waits for one: no hang
    assert kernel.recvfrom(server, buf, 1, oob, None, None).errno == "EINVAL"


@pytest.mark.os("linux")
def test_tcp_rcvlowat_holds_readiness_until_that_many_bytes(kernel: Kernel, inet) -> None:
    client, server = inet.connected()
    _setint(kernel, server, kernel.SOL_SOCKET, kernel.SO_RCVLOWAT, 5)
    _send(kernel, client, b"abc").unwrap()
    _wait_queued(kernel, server, 3)
    queued, early = _queued(kernel, server), inet.wait(server, kernel.POLLIN, 0)
    _send(kernel, client, b"de").unwrap()
    assert queued == 3 and not early & kernel.POLLIN  # three bytes: not yet readable
    assert inet.wait(server, kernel.POLLIN) & kernel.POLLIN  # five now
    assert _recv(kernel, inet, server) == b"abcde"


@pytest.mark.os("linux")
def test_tcp_msg_waitall_waits_for_the_whole_length(kernel: Kernel, inet) -> None:
    client, server = inet.connected()
    tv = kernel.new("long[2]", [5, 0])  # a kernel that never returns: EAGAIN, not a hang
    size = kernel.ffi.sizeof(tv)
    kernel.setsockopt(server, kernel.SOL_SOCKET, kernel.SO_RCVTIMEO_OLD, tv, size).unwrap()
    _send(kernel, client, b"abc").unwrap()
    later = threading.Timer(0.05, lambda: _send(kernel, client, b"def").unwrap())
    later.start()
    buf = kernel.buf(16)
    try:
        r = kernel.recvfrom(server, buf, 6, kernel.MSG_WAITALL, None, None)
    finally:
        later.join()
    assert kernel.bytes(buf, r.unwrap()) == b"abcdef"  # not the first three alone


TCP_ESTABLISHED, TCP_LISTEN = 1, 10  # include/net/tcp_states.h: tcp_info's first byte


@pytest.mark.os("linux")
def test_tcp_info_reports_the_connections_state(kernel: Kernel, inet) -> None:
    lfd, port = inet.listener()
    client = inet.socket(kernel.SOCK_STREAM)
    kernel.connect(client, *inet.addr(port)).unwrap()

    def state(fd: int) -> int:
        info, n = kernel.buf(256), kernel.new("int *", 256)
        kernel.getsockopt(fd, kernel.IPPROTO_TCP, kernel.TCP_INFO, info, n).unwrap()
        return kernel.bytes(info, 1)[0]

    assert (state(client), state(lfd)) == (TCP_ESTABLISHED, TCP_LISTEN)


@pytest.mark.os("linux")
def test_ip_ttl_defaults_to_the_sysctl_takes_1_to_255_and_minus_one_resets(
    kernel: Kernel, inet
) -> None:
    fd = inet.socket(kernel.SOCK_STREAM)
    default = sysctl.number("net/ipv4/ip_default_ttl")
    first = _getint(kernel, fd, kernel.IPPROTO_IP, kernel.IP_TTL)
    _setint(kernel, fd, kernel.IPPROTO_IP, kernel.IP_TTL, 7)
    set_to = _getint(kernel, fd, kernel.IPPROTO_IP, kernel.IP_TTL)
    bad = [
        kernel.setsockopt(fd, kernel.IPPROTO_IP, kernel.IP_TTL, kernel.new("int *", v), 4).errno
        for v in (0, 256)
    ]
    _setint(kernel, fd, kernel.IPPROTO_IP, kernel.IP_TTL, -1)
    assert (first, set_to) == (default, 7)
    assert bad == ["EINVAL", "EINVAL"]
    assert _getint(kernel, fd, kernel.IPPROTO_IP, kernel.IP_TTL) == default


def test_so_keepalive_reads_back_as_a_boolean(kernel: Kernel, inet) -> None:
    fd = inet.socket(kernel.SOCK_STREAM)
    off = _getint(kernel, fd, kernel.SOL_SOCKET, kernel.SO_KEEPALIVE)
    _setint(kernel, fd, kernel.SOL_SOCKET, kernel.SO_KEEPALIVE, 7)
    assert (off, _getint(kernel, fd, kernel.SOL_SOCKET, kernel.SO_KEEPALIVE)) == (0, 1)
