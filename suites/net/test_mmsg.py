"""sendmmsg(2)/recvmmsg(2): several datagrams in one call (Linux; NetBSD since 7.0,
sys/kern/uipc_syscalls.c sys_sendmmsg/sys_recvmmsg, with the same struct mmsghdr)."""

from syscalls.kernel import Kernel


def _vec(kernel: Kernel, buffers: list, name=None, namelen: int = 0):
    """A struct mmsghdr array, one single-iovec message per buffer.

    `keep` holds the buffers and iovecs: the array only points at them, and a buffer
    made inline in the call would otherwise be freed before the kernel reads it.
    """
    keep = list(buffers)
    msgs = kernel.new("struct mmsghdr[]", len(buffers))
    for m, buf in zip(msgs, buffers, strict=True):
        iov = kernel.new("struct iovec *", (buf, len(buf)))
        keep.append(iov)
        m.msg_hdr.msg_iov, m.msg_hdr.msg_iovlen = iov, 1
        m.msg_hdr.msg_name, m.msg_hdr.msg_namelen = name or kernel.ffi.NULL, namelen
    return msgs, keep


def test_sendmmsg_sends_each_message_as_a_datagram(kernel: Kernel, inet) -> None:
    rx, port = inet.bound(kernel.SOCK_DGRAM)
    tx = inet.socket(kernel.SOCK_DGRAM)
    kernel.connect(tx, *inet.addr(port)).unwrap()
    out, _keep = _vec(kernel, [kernel.buf(b"one"), kernel.buf(b"three"), kernel.buf(b"5")])
    for m, n in zip(out, (3, 5, 1), strict=True):
        m.msg_hdr.msg_iov.iov_len = n
    # Linux delivers loopback datagrams within sendmmsg, so one recvmmsg takes all three;
    # a rump kernel delivers them from a thread of its own, maybe in several batches.
    at_once = kernel.platform.os == "linux"
    assert kernel.sendmmsg(tx, out, 3, 0).unwrap() == 3
    assert [m.msg_len for m in out] == [3, 5, 1]
    received: list[bytes] = []
    batches = []
    while len(received) < 3 and inet.wait(rx):
        bufs = [kernel.buf(16) for _ in range(4)]
        got, _keep2 = _vec(kernel, bufs)
        n = kernel.recvmmsg(rx, got, 4, kernel.MSG_DONTWAIT, None).unwrap()
        batches.append(n)
        received += [kernel.bytes(b, m.msg_len) for b, m in zip(bufs[:n], got, strict=False)]
    assert received == [b"one", b"three", b"5"]
    assert batches == [3] or not at_once
    more, _keep3 = _vec(kernel, [kernel.buf(16)])
    assert kernel.recvmmsg(rx, more, 1, kernel.MSG_DONTWAIT, None).errno == "EAGAIN"


def test_recvmmsg_on_empty_socket_nonblocking_is_eagain(kernel: Kernel, inet) -> None:
    rx, _ = inet.bound(kernel.SOCK_DGRAM)
    got, _keep = _vec(kernel, [kernel.buf(16)])
    assert kernel.recvmmsg(rx, got, 1, kernel.MSG_DONTWAIT, None).errno == "EAGAIN"


def test_recvmmsg_waitforone_returns_what_is_queued(kernel: Kernel, inet) -> None:
    rx, port = inet.bound(kernel.SOCK_DGRAM)
    tx = inet.socket(kernel.SOCK_DGRAM)
    sa, n = inet.addr(port)
    kernel.sendto(tx, b"only", 4, 0, sa, n).unwrap()
    inet.wait(rx)
    got, _keep = _vec(kernel, [kernel.buf(16) for _ in range(3)])
    assert kernel.recvmmsg(rx, got, 3, kernel.MSG_WAITFORONE, None).unwrap() == 1


def test_sendmmsg_on_unconnected_socket_without_address_is_edestaddrreq(
    kernel: Kernel, inet
) -> None:
    tx = inet.socket(kernel.SOCK_DGRAM)
    out, _keep = _vec(kernel, [kernel.buf(b"x")])
    assert kernel.sendmmsg(tx, out, 1, 0).errno == "EDESTADDRREQ"
