"""socket(2), getsockopt(2)/setsockopt(2), bind(2): what every socket answers and what
socket creation refuses. SO_RCVBUF doubling is Linux's bookkeeping and marked so."""

import pytest

from syscalls import kconfig, sysctl
from syscalls.expect import ByOS
from syscalls.kernel import Kernel

# A type NetBSD does not know is EPROTOTYPE, and flag bits it does not know are ignored
# (sys/kern/uipc_socket.c, socreate; sys/kern/uipc_syscalls.c, sys___socket30).
UNKNOWN_TYPE = ByOS(default="EINVAL", netbsd="EPROTOTYPE")
UNKNOWN_TYPE_FLAG = ByOS(default="EINVAL", netbsd="ok")


def _getint(kernel: Kernel, fd: int, name: str, level: str = "SOL_SOCKET") -> int:
    val = kernel.new("int *")
    n = kernel.new("int *", 4)
    kernel.getsockopt(fd, getattr(kernel, level), getattr(kernel, name), val, n).unwrap()
    assert n[0] == 4
    return val[0]


@pytest.mark.parametrize(
    ("family", "kind"),
    [("AF_INET", "SOCK_STREAM"), ("AF_INET", "SOCK_DGRAM"), ("AF_UNIX", "SOCK_SEQPACKET")],
)
def test_socket_so_type_reports_the_type(kernel: Kernel, fds, family: str, kind: str) -> None:
    fd = fds(kernel.socket(getattr(kernel, family), getattr(kernel, kind), 0))
    assert _getint(kernel, fd, "SO_TYPE") == getattr(kernel, kind)


@pytest.mark.os("linux")
def test_socket_so_domain_and_protocol(kernel: Kernel, fds) -> None:
    fd = fds(kernel.socket(kernel.AF_INET, kernel.SOCK_STREAM, 0))
    assert _getint(kernel, fd, "SO_DOMAIN") == kernel.AF_INET
    assert _getint(kernel, fd, "SO_PROTOCOL") == kernel.IPPROTO_TCP


def test_socket_so_error_is_zero_on_new_socket(kernel: Kernel, fds) -> None:
    fd = fds(kernel.socket(kernel.AF_INET, kernel.SOCK_STREAM, 0))
    assert _getint(kernel, fd, "SO_ERROR") == 0


def test_socket_so_rcvbuf_is_positive(kernel: Kernel, fds, observe) -> None:
    fd = fds(kernel.socket(kernel.AF_INET, kernel.SOCK_STREAM, 0))
    size = _getint(kernel, fd, "SO_RCVBUF")
    observe("so_rcvbuf", size)
    assert size > 0


@pytest.mark.os("linux")
def test_socket_so_rcvbuf_set_reads_back_doubled(kernel: Kernel, fds) -> None:
    fd = fds(kernel.socket(kernel.AF_INET, kernel.SOCK_DGRAM, 0))
    val = kernel.new("int *", 65536)
    kernel.setsockopt(fd, kernel.SOL_SOCKET, kernel.SO_RCVBUF, val, 4).unwrap()
    assert _getint(kernel, fd, "SO_RCVBUF") == 2 * 65536


def test_socket_cloexec_flag_sets_fd_flag(kernel: Kernel, fds) -> None:
    fd = fds(kernel.socket(kernel.AF_UNIX, kernel.SOCK_STREAM | kernel.SOCK_CLOEXEC, 0))
    assert kernel.fcntl(fd, kernel.F_GETFD, 0).unwrap() & kernel.FD_CLOEXEC


def test_socket_nonblock_flag_sets_status_flag(kernel: Kernel, fds) -> None:
    fd = fds(kernel.socket(kernel.AF_UNIX, kernel.SOCK_STREAM | kernel.SOCK_NONBLOCK, 0))
    assert kernel.fcntl(fd, kernel.F_GETFL, 0).unwrap() & kernel.O_NONBLOCK


def test_socket_unknown_family_is_eafnosupport(kernel: Kernel) -> None:
    assert kernel.socket(kernel.AF_MAX + 10, kernel.SOCK_STREAM, 0).errno == "EAFNOSUPPORT"


def test_socket_stream_with_udp_protocol_is_eprotonosupport(kernel: Kernel) -> None:
    r = kernel.socket(kernel.AF_INET, kernel.SOCK_STREAM, kernel.IPPROTO_UDP)
    assert r.errno == "EPROTONOSUPPORT"


def test_socket_unknown_type_is_einval(kernel: Kernel) -> None:
    assert kernel.socket(kernel.AF_INET, 99, 0).outcome == UNKNOWN_TYPE[kernel.platform.os]


def test_socket_unknown_type_flag_is_einval(kernel: Kernel, fds) -> None:
    r = kernel.socket(kernel.AF_UNIX, kernel.SOCK_STREAM | (1 << 30), 0)
    if r.ok:
        fds(r)
    assert r.outcome == UNKNOWN_TYPE_FLAG[kernel.platform.os]


def test_getsockopt_unknown_option_is_enoprotoopt(kernel: Kernel, fds) -> None:
    fd = fds(kernel.socket(kernel.AF_INET, kernel.SOCK_STREAM, 0))
    val, n = kernel.new("int *"), kernel.new("int *", 4)
    assert kernel.getsockopt(fd, kernel.SOL_SOCKET, 9999, val, n).errno == "ENOPROTOOPT"


def test_getsockopt_on_a_pipe_is_enotsock(kernel: Kernel, fds) -> None:
    r, _ = fds.pipe()
    val, n = kernel.new("int *"), kernel.new("int *", 4)
    assert kernel.getsockopt(r, kernel.SOL_SOCKET, kernel.SO_TYPE, val, n).errno == "ENOTSOCK"


def test_setsockopt_short_option_is_einval(kernel: Kernel, fds) -> None:
    fd = fds(kernel.socket(kernel.AF_INET, kernel.SOCK_STREAM, 0))
    r = kernel.setsockopt(fd, kernel.SOL_SOCKET, kernel.SO_REUSEADDR, kernel.new("int *", 1), 1)
    assert r.errno == "EINVAL"


def test_bind_inet_with_short_address_is_einval(kernel: Kernel, fds) -> None:
    fd = fds(kernel.socket(kernel.AF_INET, kernel.SOCK_DGRAM, 0))
    sa = kernel.new("struct sockaddr_in *")
    sa.sin_family = kernel.AF_INET
    assert kernel.bind(fd, sa, 4).errno == "EINVAL"


def test_bind_inet_with_unix_family_address_is_eafnosupport(kernel: Kernel, fds) -> None:
    fd = fds(kernel.socket(kernel.AF_INET, kernel.SOCK_DGRAM, 0))
    sa = kernel.new("struct sockaddr_in *")
    sa.sin_family = kernel.AF_UNIX
    assert kernel.bind(fd, sa, kernel.ffi.sizeof(sa[0])).errno == "EAFNOSUPPORT"


@pytest.mark.os("linux")
def test_socket_type_sock_max_is_einval(kernel: Kernel) -> None:
    """A type inside SOCK_TYPE_MASK but past the last one is refused before the family
    sees it (net/socket.c: __sock_create); 99 would fail earlier, as unknown flag bits."""
    assert kernel.socket(kernel.AF_INET, kernel.SOCK_MAX, 0).errno == "EINVAL"


@pytest.mark.os("linux")
def test_setsockopt_negative_length_is_einval(kernel: Kernel, fds) -> None:
    fd = fds(kernel.socket(kernel.AF_INET, kernel.SOCK_STREAM, 0))
    r = kernel.setsockopt(fd, kernel.SOL_SOCKET, kernel.SO_REUSEADDR, kernel.new("int *", 1), -1)
    assert r.errno == "EINVAL"


@pytest.mark.os("linux")
def test_getsockopt_negative_length_is_einval(kernel: Kernel, fds) -> None:
    fd = fds(kernel.socket(kernel.AF_INET, kernel.SOCK_STREAM, 0))
    val, n = kernel.new("int *"), kernel.new("int *", -1)
    assert kernel.getsockopt(fd, kernel.SOL_SOCKET, kernel.SO_TYPE, val, n).errno == "EINVAL"


@pytest.mark.os("linux")
def test_getsockopt_short_length_copies_and_reports_only_that_much(kernel: Kernel, fds) -> None:
    """SOL_SOCKET options are cut to the room given (net/core/sock.c: sk_getsockopt)."""
    fd = fds(kernel.socket(kernel.AF_INET, kernel.SOCK_DGRAM, 0))
    val, n = kernel.new("uint8_t[4]", [0xAA] * 4), kernel.new("int *", 1)
    kernel.getsockopt(fd, kernel.SOL_SOCKET, kernel.SO_TYPE, val, n).unwrap()
    assert n[0] == 1
    assert list(val)[1:] == [0xAA] * 3


@pytest.mark.os("linux")
def test_socket_so_rcvbuf_tiny_request_is_raised_to_the_minimum(kernel: Kernel, fds) -> None:
    """Doubled, then at least SOCK_MIN_RCVBUF (2048 bytes plus an sk_buff)."""
    fd = fds(kernel.socket(kernel.AF_INET, kernel.SOCK_DGRAM, 0))
    kernel.setsockopt(fd, kernel.SOL_SOCKET, kernel.SO_RCVBUF, kernel.new("int *", 1), 4).unwrap()
    assert _getint(kernel, fd, "SO_RCVBUF") > 2048


@pytest.mark.os("linux")
def test_socket_so_rcvbuf_is_capped_at_twice_rmem_max(kernel: Kernel, fds) -> None:
    """SO_RCVBUF (unlike SO_RCVBUFFORCE) is limited by net.core.rmem_max, root or not."""
    with open("/proc/sys/net/core/rmem_max") as f:
        rmem_max = int(f.read())
    if rmem_max >= 1 << 29:
        pytest.skip(f"net.core.rmem_max is {rmem_max}: no larger request to cap")
    fd = fds(kernel.socket(kernel.AF_INET, kernel.SOCK_DGRAM, 0))
    big = kernel.new("int *", 1 << 29)
    kernel.setsockopt(fd, kernel.SOL_SOCKET, kernel.SO_RCVBUF, big, 4).unwrap()
    assert _getint(kernel, fd, "SO_RCVBUF") == 2 * rmem_max


@pytest.mark.os("linux")
def test_shutdown_unknown_how_is_einval(kernel: Kernel, fds) -> None:
    a, _ = fds.socketpair()
    assert kernel.shutdown(a, 3).errno == "EINVAL"


def test_shutdown_of_a_pipe_is_enotsock(kernel: Kernel, fds) -> None:
    r, _ = fds.pipe()
    assert kernel.shutdown(r, 0).errno == "ENOTSOCK"


# --- what a user may not ask of a socket (net/core/sock.c sk_setsockopt, net/ipv4/
# af_inet.c, net/packet/af_packet.c): each is a capability of the socket's network
# namespace's owner, which root holds. (Raising SO_BUSY_POLL was CAP_NET_ADMIN's too in
# Linux 6.1; later kernels let anyone: not a test here.)


# A family whose absence the kernel's configuration tells (AF_INET6 may also be off by
# the ipv6.disable=1 boot parameter): with the option built in, EAFNOSUPPORT fails.
FAMILY_OPTION = {"AF_PACKET": "CONFIG_PACKET"}


@pytest.mark.os("linux")
@pytest.mark.as_user("root may open raw sockets (CAP_NET_RAW)")
@pytest.mark.parametrize(
    ("family", "kind", "protocol"),
    [("AF_INET", "SOCK_RAW", "IPPROTO_ICMP"), ("AF_INET6", "SOCK_RAW", "IPPROTO_ICMPV6"),
     ("AF_PACKET", "SOCK_RAW", "0"), ("AF_PACKET", "SOCK_DGRAM", "0")],
)  # fmt: skip
def test_socket_raw_or_packet_as_a_user_is_eperm(
    kernel: Kernel, fds, family: str, kind: str, protocol: str
) -> None:
    proto = 0 if protocol == "0" else getattr(kernel, protocol)
    r = kernel.socket(getattr(kernel, family), getattr(kernel, kind), proto)
    if r.ok:
        fds(r)
    elif r.errno == "EAFNOSUPPORT":
        option = FAMILY_OPTION.get(family)
        if option is None or kconfig.built_without(option):
            pytest.skip(f"this kernel has no {family} sockets (EAFNOSUPPORT)")
    assert r.errno == "EPERM"


@pytest.mark.os("linux")
@pytest.mark.as_user("root may force buffer sizes, mark and prioritize (CAP_NET_ADMIN)")
@pytest.mark.parametrize(
    ("name", "value"),
    [("SO_RCVBUFFORCE", 65536), ("SO_SNDBUFFORCE", 65536), ("SO_MARK", 1), ("SO_PRIORITY", 7),
     ("SO_PREFER_BUSY_POLL", 1), ("SO_BUSY_POLL_BUDGET", 1)],
)  # fmt: skip
def test_setsockopt_of_an_admins_option_as_a_user_is_eperm(
    kernel: Kernel, fds, name: str, value: int
) -> None:
    fd = fds(kernel.socket(kernel.AF_INET, kernel.SOCK_DGRAM, 0))
    val = kernel.new("int *", value)
    r = kernel.setsockopt(fd, kernel.SOL_SOCKET, getattr(kernel, name), val, 4)
    busy_poll = kconfig.built_without("CONFIG_NET_RX_BUSY_POLL")
    if r.errno == "ENOPROTOOPT" and "BUSY_POLL" in name and busy_poll:
        pytest.skip(f"{name}: this kernel polls no sockets (no CONFIG_NET_RX_BUSY_POLL)")
    assert r.errno == "EPERM"
    if name in ("SO_MARK", "SO_PRIORITY"):
        assert _getint(kernel, fd, name) == 0


@pytest.mark.os("linux")
@pytest.mark.as_user("root may prioritize (CAP_NET_ADMIN)")
def test_setsockopt_so_priority_up_to_6_as_a_user_is_taken(kernel: Kernel, fds) -> None:
    fd = fds(kernel.socket(kernel.AF_INET, kernel.SOCK_DGRAM, 0))
    kernel.setsockopt(fd, kernel.SOL_SOCKET, kernel.SO_PRIORITY, kernel.new("int *", 6), 4).unwrap()
    assert _getint(kernel, fd, "SO_PRIORITY") == 6


@pytest.mark.os("linux")
@pytest.mark.as_user("root may debug sockets (CAP_NET_ADMIN)")
def test_setsockopt_so_debug_as_a_user_is_eacces(kernel: Kernel, fds) -> None:
    fd = fds(kernel.socket(kernel.AF_INET, kernel.SOCK_STREAM, 0))
    r = kernel.setsockopt(fd, kernel.SOL_SOCKET, kernel.SO_DEBUG, kernel.new("int *", 1), 4)
    assert r.errno == "EACCES"
    assert _getint(kernel, fd, "SO_DEBUG") == 0


@pytest.mark.os("linux")
@pytest.mark.as_user("root may repair TCP connections (CAP_NET_ADMIN)")
def test_setsockopt_tcp_repair_as_a_user_is_eperm(kernel: Kernel, fds) -> None:
    fd = fds(kernel.socket(kernel.AF_INET, kernel.SOCK_STREAM, 0))
    on = kernel.new("int *", kernel.TCP_REPAIR_ON)
    assert kernel.setsockopt(fd, kernel.IPPROTO_TCP, kernel.TCP_REPAIR, on, 4).errno == "EPERM"


@pytest.mark.os("linux")
@pytest.mark.as_user("root may bind any port (CAP_NET_BIND_SERVICE)")
@pytest.mark.parametrize("kind", ["SOCK_STREAM", "SOCK_DGRAM"])
def test_bind_below_ip_unprivileged_port_start_as_a_user_is_eacces(
    kernel: Kernel, inet, kind: str
) -> None:
    start = sysctl.number("net/ipv4/ip_unprivileged_port_start")
    if start <= 1:
        pytest.skip(f"net.ipv4.ip_unprivileged_port_start is {start}: every port is a user's")
    fd = inet.socket(getattr(kernel, kind))
    assert kernel.bind(fd, *inet.addr(start - 1)).errno == "EACCES"


# Interface settings (net/core/dev_ioctl.c dev_ioctl: CAP_NET_ADMIN in the network
# namespace's owner, before the device is looked up), asked for loopback's own MTU and
# flags: granted, nothing would change. struct ifreq: the name in 16 bytes, then the
# int or short asked for (linux/if.h).
SIOCGIFFLAGS, SIOCSIFFLAGS, SIOCGIFMTU, SIOCSIFMTU = 0x8913, 0x8914, 0x8921, 0x8922
IFREQ_SIZE = 40


@pytest.mark.os("linux")
@pytest.mark.as_user("root may configure interfaces (CAP_NET_ADMIN)")
@pytest.mark.parametrize(("get", "put"), [(SIOCGIFMTU, SIOCSIFMTU), (SIOCGIFFLAGS, SIOCSIFFLAGS)])
def test_setting_loopbacks_own_mtu_or_flags_as_a_user_is_eperm(
    kernel: Kernel, fds, get: int, put: int
) -> None:
    fd = fds(kernel.socket(kernel.AF_INET, kernel.SOCK_DGRAM, 0))
    ifr = kernel.buf(IFREQ_SIZE)
    kernel.ffi.memmove(ifr, b"lo", 2)
    r = kernel.ioctl(fd, get, ifr)
    if r.errno == "ENODEV":
        pytest.skip("no loopback interface here (ENODEV)")
    r.unwrap()
    assert kernel.ioctl(fd, put, ifr).errno == "EPERM"
