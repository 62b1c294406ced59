"""socketcall(2): the socket multiplexer of the older 32-bit ABIs (i386 and others).

socketcall(call, args) takes one SYS_* number (include/uapi/linux/net.h) and a pointer
to the call's arguments as an array of unsigned long. Since Linux 4.3 i386 also has a
direct entry per socket call, which the rest of the suite uses; these tests call the
multiplexer itself. Where the table has no socketcall (x86_64, aarch64, riscv64) they
skip with that reason.
"""

from syscalls.kernel import Kernel


def _args(kernel: Kernel, *values):
    """socketcall's argument block: unsigned longs, pointers as their addresses."""
    words = [v if isinstance(v, int) else kernel.address(v) for v in values]
    return kernel.new("unsigned long[]", words)


def test_socketcall_socketpair_makes_a_connected_pair(kernel: Kernel, fds) -> None:
    socketcall = kernel.socketcall
    pair = kernel.new("int[2]")
    args = _args(kernel, kernel.AF_UNIX, kernel.SOCK_STREAM, 0, pair)
    assert socketcall(kernel.SYS_SOCKETPAIR, args).unwrap() == 0
    fds.held += [pair[0], pair[1]]
    assert kernel.write(pair[0], b"ping", 4).unwrap() == 4
    buf = kernel.buf(8)
    assert kernel.read(pair[1], buf, 8).unwrap() == 4 and kernel.bytes(buf, 4) == b"ping"


def test_socketcall_socket_and_getsockname_agree_with_the_direct_calls(kernel: Kernel, fds) -> None:
    socketcall = kernel.socketcall
    fd = fds(socketcall(kernel.SYS_SOCKET, _args(kernel, kernel.AF_INET, kernel.SOCK_DGRAM, 0)))
    sa, n = kernel.new("struct sockaddr_in *"), kernel.new("int *", 16)
    assert socketcall(kernel.SYS_GETSOCKNAME, _args(kernel, fd, sa, n)).unwrap() == 0
    direct, m = kernel.new("struct sockaddr_in *"), kernel.new("int *", 16)
    kernel.getsockname(fd, direct, m).unwrap()
    assert (sa.sin_family, n[0]) == (direct.sin_family, m[0]) == (kernel.AF_INET, 16)


def test_socketcall_unknown_call_is_einval(kernel: Kernel) -> None:
    # net/socket.c: call numbers run from SYS_SOCKET (1) to SYS_SENDMMSG (20).
    socketcall = kernel.socketcall
    args = _args(kernel, 0, 0, 0, 0, 0, 0)
    assert socketcall(0, args).errno == "EINVAL"
    assert socketcall(kernel.SYS_SENDMMSG + 1, args).errno == "EINVAL"
