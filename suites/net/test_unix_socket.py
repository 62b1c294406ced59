"""AF_UNIX sockets bound to paths (inside the test's own directory) and to abstract
names: bind, listen, connect, accept, and their refusals. Abstract names are Linux's."""

import os
import stat
from pathlib import Path

import pytest

from syscalls.expect import ByOS
from syscalls.kernel import Kernel

# connect() to a path that is no socket: NetBSD says so (ENOTSOCK, sys/kern/uipc_usrreq.c,
# unp_connect). A sockaddr_un longer than struct sockaddr_un: NetBSD takes addresses up
# to 253 bytes, and this one names no file.
CONNECT_TO_FILE = ByOS(default="ECONNREFUSED", netbsd="ENOTSOCK")
LONGER_THAN_SUN_PATH = ByOS(default="EINVAL", netbsd="ENOENT")


def _addr(kernel: Kernel, name: bytes) -> tuple:
    """sockaddr_un for a path, or for an abstract name when it starts with NUL."""
    sa = kernel.new("struct sockaddr_un *")
    sa.sun_family = kernel.AF_UNIX
    kernel.ffi.memmove(sa.sun_path, name, len(name))
    base = kernel.ffi.offsetof("struct sockaddr_un", "sun_path")
    return sa, base + len(name) + (0 if name.startswith(b"\0") else 1)


def _abstract() -> bytes:
    return b"\0syscalls-test-" + os.urandom(8).hex().encode()


def _socket(kernel: Kernel, fds, kind: str = "SOCK_STREAM") -> int:
    return fds(kernel.socket(kernel.AF_UNIX, getattr(kernel, kind), 0))


def _listener(kernel: Kernel, fds, name: bytes) -> int:
    fd = _socket(kernel, fds)
    kernel.bind(fd, *_addr(kernel, name)).unwrap()
    kernel.listen(fd, 4).unwrap()
    return fd


def _recv(kernel: Kernel, fd: int) -> bytes:
    buf = kernel.buf(64)
    return kernel.bytes(buf, kernel.recvfrom(fd, buf, 64, 0, None, None).unwrap())


def test_unix_bind_creates_a_socket_file(kernel: Kernel, fds, tmp: Path) -> None:
    fd = _socket(kernel, fds)
    kernel.bind(fd, *_addr(kernel, bytes(tmp / "s"))).unwrap()
    assert stat.S_ISSOCK((tmp / "s").lstat().st_mode)


@pytest.mark.smoke
def test_unix_connect_accept_carries_bytes(kernel: Kernel, fds, tmp: Path) -> None:
    path = bytes(tmp / "s")
    lfd = _listener(kernel, fds, path)
    client = _socket(kernel, fds)
    kernel.connect(client, *_addr(kernel, path)).unwrap()
    server = fds(kernel.accept4(lfd, None, None, 0))
    kernel.write(client, b"over", 4).unwrap()
    assert _recv(kernel, server) == b"over"


def test_unix_getsockname_returns_the_bound_path(kernel: Kernel, fds, tmp: Path) -> None:
    path = bytes(tmp / "s")
    fd = _socket(kernel, fds)
    kernel.bind(fd, *_addr(kernel, path)).unwrap()
    sa = kernel.new("struct sockaddr_un *")
    n = kernel.new("int *", kernel.ffi.sizeof(sa[0]))
    kernel.getsockname(fd, sa, n).unwrap()
    assert kernel.ffi.string(sa.sun_path) == path


def test_unix_getpeername_without_a_peer_is_enotconn(kernel: Kernel, fds, tmp: Path) -> None:
    fd = _socket(kernel, fds)
    kernel.bind(fd, *_addr(kernel, bytes(tmp / "s"))).unwrap()
    sa = kernel.new("struct sockaddr_un *")
    n = kernel.new("int *", kernel.ffi.sizeof(sa[0]))
    assert kernel.getpeername(fd, sa, n).errno == "ENOTCONN"


@pytest.mark.smoke
def test_unix_bind_to_existing_path_is_eaddrinuse(kernel: Kernel, fds, tmp: Path) -> None:
    path = bytes(tmp / "s")
    _listener(kernel, fds, path)
    fd = _socket(kernel, fds)
    assert kernel.bind(fd, *_addr(kernel, path)).errno == "EADDRINUSE"


@pytest.mark.smoke
def test_unix_connect_to_missing_path_is_enoent(kernel: Kernel, fds, tmp: Path) -> None:
    fd = _socket(kernel, fds)
    assert kernel.connect(fd, *_addr(kernel, bytes(tmp / "absent"))).errno == "ENOENT"


def test_unix_connect_to_socket_without_listener_is_econnrefused(
    kernel: Kernel, fds, tmp: Path
) -> None:
    path = bytes(tmp / "s")
    bound = _socket(kernel, fds)
    kernel.bind(bound, *_addr(kernel, path)).unwrap()  # bound, never listening
    fd = _socket(kernel, fds)
    assert kernel.connect(fd, *_addr(kernel, path)).errno == "ECONNREFUSED"


def test_unix_connect_after_listener_closed_is_econnrefused(kernel: Kernel, fds, tmp: Path) -> None:
    path = bytes(tmp / "s")
    fds.close(_listener(kernel, fds, path))  # the file stays, nobody listens
    fd = _socket(kernel, fds)
    assert kernel.connect(fd, *_addr(kernel, path)).errno == "ECONNREFUSED"


def test_unix_connect_to_regular_file_is_econnrefused(kernel: Kernel, fds, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    fd = _socket(kernel, fds)
    r = kernel.connect(fd, *_addr(kernel, bytes(tmp / "f")))
    assert r.outcome == CONNECT_TO_FILE[kernel.platform.os]


def test_unix_path_longer_than_sun_path_is_einval(kernel: Kernel, fds) -> None:
    fd = _socket(kernel, fds)
    sa = kernel.new("struct sockaddr_un *")
    sa.sun_family = kernel.AF_UNIX
    r = kernel.bind(fd, sa, kernel.ffi.sizeof(sa[0]) + 1)
    assert r.outcome == LONGER_THAN_SUN_PATH[kernel.platform.os]


def test_unix_datagram_sendto_a_path(kernel: Kernel, fds, tmp: Path) -> None:
    path = bytes(tmp / "d")
    rx = _socket(kernel, fds, "SOCK_DGRAM")
    kernel.bind(rx, *_addr(kernel, path)).unwrap()
    tx = _socket(kernel, fds, "SOCK_DGRAM")
    sa, n = _addr(kernel, path)
    assert kernel.sendto(tx, b"dgram", 5, 0, sa, n).unwrap() == 5
    assert _recv(kernel, rx) == b"dgram"


@pytest.mark.os("linux")
def test_unix_peercred_names_the_connecting_process(kernel: Kernel, fds, tmp: Path) -> None:
    path = bytes(tmp / "s")
    lfd = _listener(kernel, fds, path)
    client = _socket(kernel, fds)
    kernel.connect(client, *_addr(kernel, path)).unwrap()
    server = fds(kernel.accept4(lfd, None, None, 0))
    cred = kernel.new("struct ucred *")
    n = kernel.new("int *", kernel.ffi.sizeof(cred[0]))
    kernel.getsockopt(server, kernel.SOL_SOCKET, kernel.SO_PEERCRED, cred, n).unwrap()
    assert (cred.pid, cred.uid, cred.gid) == (os.getpid(), os.geteuid(), os.getegid())


@pytest.mark.os("linux")
@pytest.mark.smoke
def test_unix_abstract_name_connects_without_a_file(kernel: Kernel, fds, tmp: Path) -> None:
    name = _abstract()
    lfd = _listener(kernel, fds, name)
    client = _socket(kernel, fds)
    kernel.connect(client, *_addr(kernel, name)).unwrap()
    server = fds(kernel.accept4(lfd, None, None, 0))
    kernel.write(server, b"abs", 3).unwrap()
    assert _recv(kernel, client) == b"abs"


@pytest.mark.os("linux")
def test_unix_abstract_name_in_use_is_eaddrinuse(kernel: Kernel, fds) -> None:
    name = _abstract()
    _listener(kernel, fds, name)
    fd = _socket(kernel, fds)
    assert kernel.bind(fd, *_addr(kernel, name)).errno == "EADDRINUSE"


@pytest.mark.os("linux")
def test_unix_abstract_name_is_freed_on_close(kernel: Kernel, fds) -> None:
    name = _abstract()
    fds.close(_listener(kernel, fds, name))
    fd = _socket(kernel, fds)
    kernel.bind(fd, *_addr(kernel, name)).unwrap()


@pytest.mark.os("linux")
def test_unix_connect_to_missing_abstract_name_is_econnrefused(kernel: Kernel, fds) -> None:
    fd = _socket(kernel, fds)
    assert kernel.connect(fd, *_addr(kernel, _abstract())).errno == "ECONNREFUSED"


def _name(kernel: Kernel, fd: int, room: int | None = None) -> tuple[int, bytes]:
    """getsockname with `room` bytes of buffer: (reported length, the bytes copied)."""
    size = kernel.ffi.sizeof("struct sockaddr_un")
    room = size if room is None else room
    buf = kernel.buf(size)
    n = kernel.new("int *", room)
    kernel.getsockname(fd, buf, n).unwrap()
    return n[0], kernel.bytes(buf, min(n[0], room))


@pytest.mark.os("linux")
def test_unix_bind_with_only_the_family_autobinds_an_abstract_name(kernel: Kernel, fds) -> None:
    """An address of just sun_family asks for an autobind: a NUL and five hex digits
    (net/unix/af_unix.c: unix_autobind)."""
    fd = _socket(kernel, fds)
    sa, _ = _addr(kernel, b"")
    base = kernel.ffi.offsetof("struct sockaddr_un", "sun_path")
    kernel.bind(fd, sa, base).unwrap()
    length, raw = _name(kernel, fd)
    path = raw[base:]
    assert length == base + 6
    assert path[:1] == b"\0"
    int(path[1:], 16)  # five hex digits
    assert len(path[1:]) == 5


@pytest.mark.os("linux")  # NetBSD answers EAFNOSUPPORT
def test_unix_bind_with_another_family_is_einval(kernel: Kernel, fds, tmp: Path) -> None:
    fd = _socket(kernel, fds)
    sa, n = _addr(kernel, bytes(tmp / "s"))
    sa.sun_family = kernel.AF_INET
    assert kernel.bind(fd, sa, n).errno == "EINVAL"
    assert not (tmp / "s").exists()


def test_unix_bind_of_an_already_bound_socket_is_einval(kernel: Kernel, fds, tmp: Path) -> None:
    fd = _socket(kernel, fds)
    kernel.bind(fd, *_addr(kernel, bytes(tmp / "a"))).unwrap()
    assert kernel.bind(fd, *_addr(kernel, bytes(tmp / "b"))).errno == "EINVAL"
    assert not (tmp / "b").exists()


def test_unix_bind_shorter_than_the_family_is_einval(kernel: Kernel, fds) -> None:
    fd = _socket(kernel, fds)
    sa, _ = _addr(kernel, b"")
    assert kernel.bind(fd, sa, 1).errno == "EINVAL"


@pytest.mark.os("linux")
def test_unix_getsockname_of_an_unbound_socket_is_just_the_family(kernel: Kernel, fds) -> None:
    fd = _socket(kernel, fds)
    length, _ = _name(kernel, fd)
    assert length == kernel.ffi.offsetof("struct sockaddr_un", "sun_path")


@pytest.mark.os("linux")
def test_unix_getsockname_truncates_but_reports_the_full_length(
    kernel: Kernel, fds, tmp: Path
) -> None:
    path = bytes(tmp / "s")
    fd = _socket(kernel, fds)
    sa, full = _addr(kernel, path)
    kernel.bind(fd, sa, full).unwrap()
    size = kernel.ffi.sizeof("struct sockaddr_un")
    buf = kernel.buf(b"\xaa" * size)
    n = kernel.new("int *", 6)
    kernel.getsockname(fd, buf, n).unwrap()
    base = kernel.ffi.offsetof("struct sockaddr_un", "sun_path")
    got = kernel.bytes(buf, size)
    assert n[0] == base + len(path) + 1  # the whole address, NUL included
    assert got[base:6] == path[: 6 - base]
    assert got[6:] == b"\xaa" * (size - 6)  # nothing past the room given


def test_unix_listen_on_an_unbound_socket_is_einval(kernel: Kernel, fds) -> None:
    assert kernel.listen(_socket(kernel, fds), 4).errno == "EINVAL"


@pytest.mark.os("linux")  # NetBSD lets a datagram socket listen
def test_unix_listen_on_a_datagram_socket_is_eopnotsupp(kernel: Kernel, fds, tmp: Path) -> None:
    fd = _socket(kernel, fds, "SOCK_DGRAM")
    kernel.bind(fd, *_addr(kernel, bytes(tmp / "d"))).unwrap()
    assert kernel.listen(fd, 4).errno == "EOPNOTSUPP"


@pytest.mark.os("linux")
def test_unix_connect_to_a_listener_of_another_type_is_eprototype(
    kernel: Kernel, fds, tmp: Path
) -> None:
    path = bytes(tmp / "s")
    _listener(kernel, fds, path)
    fd = _socket(kernel, fds, "SOCK_SEQPACKET")
    assert kernel.connect(fd, *_addr(kernel, path)).errno == "EPROTOTYPE"


@pytest.mark.os("linux")
def test_unix_socket_raw_type_becomes_a_datagram_socket(kernel: Kernel, fds) -> None:
    fd = fds(kernel.socket(kernel.AF_UNIX, kernel.SOCK_RAW, 0))
    val, n = kernel.new("int *"), kernel.new("int *", 4)
    kernel.getsockopt(fd, kernel.SOL_SOCKET, kernel.SO_TYPE, val, n).unwrap()
    assert val[0] == kernel.SOCK_DGRAM


@pytest.mark.os("linux")
def test_unix_socket_rdm_type_is_esocktnosupport(kernel: Kernel) -> None:
    assert kernel.socket(kernel.AF_UNIX, kernel.SOCK_RDM, 0).errno == "ESOCKTNOSUPPORT"


@pytest.mark.os("linux")
def test_unix_socket_with_a_foreign_protocol_is_eprotonosupport(kernel: Kernel, fds) -> None:
    assert kernel.socket(kernel.AF_UNIX, kernel.SOCK_STREAM, 6).errno == "EPROTONOSUPPORT"
    fds(kernel.socket(kernel.AF_UNIX, kernel.SOCK_STREAM, kernel.PF_UNIX))  # its own: fine


# Reaching a socket by its path needs write permission on the socket file (Linux
# net/unix/af_unix.c unix_find_bsd: path_permission MAY_WRITE), which root's
# CAP_DAC_OVERRIDE gives it anyway.
@pytest.mark.os("linux")
@pytest.mark.as_user("root may reach any socket (CAP_DAC_OVERRIDE)")
@pytest.mark.parametrize("kind", ["SOCK_STREAM", "SOCK_DGRAM"])
def test_unix_connect_to_a_socket_file_without_write_permission_is_eacces(
    kernel: Kernel, fds, tmp: Path, kind: str
) -> None:
    path = bytes(tmp / "s")
    server = _socket(kernel, fds, kind)
    kernel.bind(server, *_addr(kernel, path)).unwrap()
    if kind == "SOCK_STREAM":
        kernel.listen(server, 4).unwrap()
    os.chmod(path, 0o555)
    client = _socket(kernel, fds, kind)
    assert kernel.connect(client, *_addr(kernel, path)).errno == "EACCES"
    if kind == "SOCK_DGRAM":
        r = kernel.sendto(client, b"x", 1, 0, *_addr(kernel, path))
        assert r.errno == "EACCES"
