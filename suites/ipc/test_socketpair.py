"""socketpair(2) on AF_UNIX: streams merge writes, datagrams and seqpackets keep message
boundaries; flags, end-of-file and refusals."""

import math
import time

import pytest

from syscalls import procstate
from syscalls.child import TIME_SCALE
from syscalls.kernel import Kernel, Result
from syscalls.threads import Waiter


def _recv(kernel: Kernel, fd: int, n: int = 256, flags: int = 0) -> bytes:
    buf = kernel.buf(n)
    return kernel.bytes(buf, kernel.recvfrom(fd, buf, n, flags, None, None).unwrap())


def _send(kernel: Kernel, fd: int, data: bytes) -> None:
    assert kernel.sendto(fd, data, len(data), 0, None, 0).unwrap() == len(data)


@pytest.mark.smoke
def test_socketpair_stream_carries_bytes_both_ways(kernel: Kernel, fds) -> None:
    a, b = fds.socketpair()
    _send(kernel, a, b"ping")
    _send(kernel, b, b"pong")
    assert (_recv(kernel, b), _recv(kernel, a)) == (b"ping", b"pong")


@pytest.mark.smoke
def test_socketpair_stream_merges_writes(kernel: Kernel, fds) -> None:
    a, b = fds.socketpair()
    _send(kernel, a, b"one")
    _send(kernel, a, b"two")
    assert _recv(kernel, b) == b"onetwo"


@pytest.mark.parametrize("kind", ["SOCK_DGRAM", "SOCK_SEQPACKET"])
@pytest.mark.smoke
def test_socketpair_keeps_message_boundaries(kernel: Kernel, fds, kind: str) -> None:
    a, b = fds.socketpair(getattr(kernel, kind))
    _send(kernel, a, b"one")
    _send(kernel, a, b"two")
    assert [_recv(kernel, b), _recv(kernel, b)] == [b"one", b"two"]


@pytest.mark.parametrize("kind", ["SOCK_DGRAM", "SOCK_SEQPACKET"])
@pytest.mark.smoke
def test_socketpair_short_read_truncates_message_and_flags_it(
    kernel: Kernel, fds, kind: str
) -> None:
    a, b = fds.socketpair(getattr(kernel, kind))
    _send(kernel, a, b"0123456789")
    _send(kernel, a, b"next")
    buf = kernel.buf(4)
    iov = kernel.new("struct iovec *", (buf, 4))
    msg = kernel.new("struct msghdr *")
    msg.msg_iov, msg.msg_iovlen = iov, 1
    assert kernel.recvmsg(b, msg, 0).unwrap() == 4
    assert kernel.bytes(buf, 4) == b"0123"
    assert msg.msg_flags & kernel.MSG_TRUNC
    assert _recv(kernel, b) == b"next"  # the rest of the first message is gone


# MSG_TRUNC passed to recv returns the message's real length, however little of it the
# buffer took (AF_UNIX since Linux 3.4: net/unix/af_unix.c, unix_dgram_recvmsg).
@pytest.mark.os("linux")
@pytest.mark.parametrize("kind", ["SOCK_DGRAM", "SOCK_SEQPACKET"])
def test_socketpair_recv_msg_trunc_returns_the_real_length(kernel: Kernel, fds, kind: str) -> None:
    a, b = fds.socketpair(getattr(kernel, kind))
    _send(kernel, a, b"0123456789")
    buf = kernel.buf(4)
    assert kernel.recvfrom(b, buf, 4, kernel.MSG_TRUNC, None, None).unwrap() == 10
    assert kernel.bytes(buf, 4) == b"0123"


@pytest.mark.smoke
def test_socketpair_stream_reads_eof_after_peer_closes(kernel: Kernel, fds) -> None:
    a, b = fds.socketpair()
    _send(kernel, a, b"bye")
    fds.close(a)
    assert _recv(kernel, b) == b"bye"
    assert _recv(kernel, b) == b""


@pytest.mark.os("linux")  # procstate: /proc/TID/syscall tells the reader is asleep
def test_socketpair_stream_shutdown_write_wakes_a_blocked_reader(kernel: Kernel, fds) -> None:
    a, b = fds.socketpair()
    # A reader the shutdown does not wake sleeps until its receive timeout, and then
    # reads the end of file all the same: only the time it took tells.
    # SO_RCVTIMEO_OLD takes the C library's struct timeval of longs on every Linux ABI.
    limit = math.ceil(2 * TIME_SCALE)  # s; a wake-up takes milliseconds
    tv = kernel.new("struct timeval *", (limit, 0))
    size = kernel.ffi.sizeof("struct timeval")
    kernel.setsockopt(b, kernel.SOL_SOCKET, kernel.SO_RCVTIMEO_OLD, tv, size).unwrap()
    buf = kernel.buf(8)

    def read() -> tuple[Result, float]:
        r = kernel.recvfrom(b, buf, 8, 0, None, None)
        return r, time.monotonic()

    reader = Waiter(read)
    procstate.wait_blocked(kernel, reader.tid, "recvfrom", arg0=b)
    kernel.shutdown(a, kernel.SHUT_WR).unwrap()
    shut = time.monotonic()
    r, woke = reader.join()
    assert r.unwrap() == 0  # end of file
    assert woke - shut < limit / 2  # woken by the shutdown, not by the receive timeout


@pytest.mark.smoke
def test_socketpair_send_to_closed_peer_is_epipe(kernel: Kernel, fds) -> None:
    a, b = fds.socketpair()
    fds.close(b)
    assert kernel.sendto(a, b"x", 1, kernel.MSG_NOSIGNAL, None, 0).errno == "EPIPE"


def test_socketpair_stream_recv_after_shutdown_read_is_eof(kernel: Kernel, fds) -> None:
    a, _ = fds.socketpair()
    kernel.shutdown(a, kernel.SHUT_RD).unwrap()
    r = kernel.recvfrom(a, kernel.buf(8), 8, kernel.MSG_DONTWAIT, None, None)
    assert r.unwrap() == 0  # end of file, not EAGAIN


@pytest.mark.smoke
def test_socketpair_nonblocking_recv_when_empty_is_eagain(kernel: Kernel, fds) -> None:
    _, b = fds.socketpair(kernel.SOCK_STREAM | kernel.SOCK_NONBLOCK)
    assert kernel.recvfrom(b, kernel.buf(8), 8, 0, None, None).errno == "EAGAIN"


@pytest.mark.smoke
def test_socketpair_dontwait_recv_when_empty_is_eagain(kernel: Kernel, fds) -> None:
    _, b = fds.socketpair()
    r = kernel.recvfrom(b, kernel.buf(8), 8, kernel.MSG_DONTWAIT, None, None)
    assert r.errno == "EAGAIN"


@pytest.mark.smoke
def test_socketpair_cloexec_sets_both_ends(kernel: Kernel, fds) -> None:
    for fd in fds.socketpair(kernel.SOCK_STREAM | kernel.SOCK_CLOEXEC):
        assert kernel.fcntl(fd, kernel.F_GETFD, 0).unwrap() & kernel.FD_CLOEXEC


def test_socketpair_nonblock_makes_both_ends_nonblocking(kernel: Kernel, fds) -> None:
    for fd in fds.socketpair(kernel.SOCK_STREAM | kernel.SOCK_NONBLOCK):
        assert kernel.fcntl(fd, kernel.F_GETFL, 0).unwrap() & kernel.O_NONBLOCK
        assert kernel.recvfrom(fd, kernel.buf(8), 8, 0, None, None).errno == "EAGAIN"


@pytest.mark.smoke
def test_socketpair_peek_leaves_data_queued(kernel: Kernel, fds) -> None:
    a, b = fds.socketpair(kernel.SOCK_DGRAM)
    _send(kernel, a, b"msg")
    assert _recv(kernel, b, flags=kernel.MSG_PEEK) == b"msg"
    assert _recv(kernel, b) == b"msg"


def test_socketpair_stream_peek_leaves_bytes_queued(kernel: Kernel, fds) -> None:
    a, b = fds.socketpair(kernel.SOCK_STREAM)
    _send(kernel, a, b"bytes")
    assert _recv(kernel, b, flags=kernel.MSG_PEEK) == b"bytes"
    assert _recv(kernel, b, flags=kernel.MSG_DONTWAIT) == b"bytes"  # not EAGAIN: still there


@pytest.mark.smoke
def test_socketpair_inet_is_eopnotsupp(kernel: Kernel) -> None:
    r = kernel.socketpair(kernel.AF_INET, kernel.SOCK_STREAM, 0, kernel.new("int[2]"))
    assert r.errno == "EOPNOTSUPP"


@pytest.mark.os("linux")
def test_socketpair_datagram_send_with_msg_oob_is_eopnotsupp(kernel: Kernel, fds) -> None:
    a, _ = fds.socketpair(kernel.SOCK_DGRAM)
    assert kernel.sendto(a, b"x", 1, kernel.MSG_OOB, None, 0).errno == "EOPNOTSUPP"


@pytest.mark.os("linux")
def test_socketpair_datagram_recv_with_msg_trunc_and_peek_keeps_it(kernel: Kernel, fds) -> None:
    a, b = fds.socketpair(kernel.SOCK_DGRAM)
    _send(kernel, a, b"twelve bytes")
    buf = kernel.buf(4)
    flags = kernel.MSG_TRUNC | kernel.MSG_PEEK
    assert kernel.recvfrom(b, buf, 4, flags, None, None).unwrap() == 12
    assert _recv(kernel, b) == b"twelve bytes"


@pytest.mark.os("linux")
def test_socketpair_stream_send_dontwait_on_a_full_socket_is_eagain(kernel: Kernel, fds) -> None:
    a, _ = fds.socketpair()
    chunk = b"x" * 65536
    with kernel.unobserved():  # how many fit depends on the buffer sizes
        while kernel.sendto(a, chunk, len(chunk), kernel.MSG_DONTWAIT, None, 0).ok:
            pass
    assert kernel.sendto(a, chunk, len(chunk), kernel.MSG_DONTWAIT, None, 0).errno == "EAGAIN"


@pytest.mark.os("linux")
def test_socketpair_stream_peek_offset_advances_with_each_peek(kernel: Kernel, fds) -> None:
    """With SO_PEEK_OFF set, MSG_PEEK reads on from where the last peek stopped; a real
    read still takes from the front, and moves the offset back by what it took."""
    a, b = fds.socketpair()
    zero = kernel.new("int *", 0)
    kernel.setsockopt(b, kernel.SOL_SOCKET, kernel.SO_PEEK_OFF, zero, 4).unwrap()
    _send(kernel, a, b"abcdefgh")
    peeks = [_recv(kernel, b, 3, kernel.MSG_PEEK) for _ in range(2)]
    taken = _recv(kernel, b, 2)
    after = _recv(kernel, b, 2, kernel.MSG_PEEK)  # the offset went from 6 to 4: "ef"...
    assert peeks == [b"abc", b"def"]
    assert taken == b"ab"
    assert after == b"gh"  # ... of what is left, "cdefgh": the bytes after the peeked


@pytest.mark.os("linux")
def test_socketpair_stream_send_on_a_full_socket_times_out_after_sndtimeo(
    kernel: Kernel, fds
) -> None:
    a, _ = fds.socketpair()
    chunk = b"x" * 65536
    with kernel.unobserved():  # how many fit depends on the buffer sizes
        while kernel.sendto(a, chunk, len(chunk), kernel.MSG_DONTWAIT, None, 0).ok:
            pass
    limit = 0.05 * TIME_SCALE
    tv = kernel.new("struct timeval *", (0, int(limit * 1e6)))
    size = kernel.ffi.sizeof("struct timeval")
    kernel.setsockopt(a, kernel.SOL_SOCKET, kernel.SO_SNDTIMEO_OLD, tv, size).unwrap()
    start = time.monotonic()
    r = kernel.sendto(a, chunk, len(chunk), 0, None, 0)  # blocking, but only so long
    waited = time.monotonic() - start
    assert r.errno == "EAGAIN"
    assert waited >= limit * 0.9
