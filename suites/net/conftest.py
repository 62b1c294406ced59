"""Fixtures for the net suite: sockets on loopback addresses only.

`inet` builds
sockets on the loopback interface only (127.0.0.1, port 0: the kernel picks a free
port); where loopback is down (a fresh network namespace, some sandboxes) the test is
skipped with that reason. No traffic ever leaves the machine.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

from syscalls import readiness
from syscalls.fds import Fds
from syscalls.kernel import Kernel


class Inet:
    """TCP and UDP sockets on 127.0.0.1, registered with `fds`."""

    # 127.0.0.1 as a host-order number (Linux's INADDR_LOOPBACK; the BSDs' macro of that
    # name is already in network order, NetBSD's and OpenBSD's netinet/in.h __IPADDR).
    LOOPBACK = 0x7F000001

    def __init__(self, kernel: Kernel, fds: Fds) -> None:
        self.kernel = kernel
        self.fds = fds

    def addr(self, port: int = 0) -> tuple[Any, int]:
        """A struct sockaddr_in for 127.0.0.1:port and its length."""
        k = self.kernel
        sa = k.new("struct sockaddr_in *")
        sa.sin_family = k.AF_INET
        sa.sin_port = socket.htons(port)
        sa.sin_addr.s_addr = socket.htonl(self.LOOPBACK)
        return sa, k.ffi.sizeof(sa[0])

    def port(self, fd: int) -> int:
        """The local port of a bound socket (getsockname)."""
        k = self.kernel
        sa = k.new("struct sockaddr_in *")
        n = k.new("int *", k.ffi.sizeof(sa[0]))
        k.getsockname(fd, sa, n).unwrap()
        return socket.ntohs(sa.sin_port)

    def socket(self, kind: int, flags: int = 0) -> int:
        k = self.kernel
        return self.fds(k.socket(k.AF_INET, kind | flags, 0))

    def bound(self, kind: int, flags: int = 0) -> tuple[int, int]:
        """A socket bound to 127.0.0.1 on a port of the kernel's choice: (fd, port)."""
        fd = self.socket(kind, flags)
        self.kernel.bind(fd, *self.addr()).unwrap()
        return fd, self.port(fd)

    def listener(self, backlog: int = 8) -> tuple[int, int]:
        fd, port = self.bound(self.kernel.SOCK_STREAM)
        self.kernel.listen(fd, backlog).unwrap()
        return fd, port

    def connected(self) -> tuple[int, int]:
        """(client, accepted server side) of one TCP connection; the listener is closed."""
        k = self.kernel
        lfd, port = self.listener()
        client = self.socket(k.SOCK_STREAM)
        k.connect(client, *self.addr(port)).unwrap()
        # accept4 where the table has it (i386 Linux has no plain accept), else accept
        # (NetBSD's is paccept, with other arguments)
        accepted = k.accept4(lfd, None, None, 0) if k.has("accept4") else k.accept(lfd, None, None)
        server = self.fds(accepted)
        self.fds.close(lfd)
        return client, server

    def wait(self, fd: int, events: int | None = None, timeout_ms: int = 5000) -> int:
        """poll() one fd until it is ready (loopback traffic may land asynchronously)."""
        k = self.kernel
        p = k.new("struct pollfd *", (fd, k.POLLIN if events is None else events, 0))
        readiness.poll(k, p, 1, timeout_ms).unwrap()
        return p.revents


@pytest.fixture
def inet(kernel: Kernel, fds: Fds) -> Inet:
    # A UDP connect only looks up the route: no packet is sent.
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.bind(("127.0.0.1", 0))
        probe.connect(("127.0.0.1", 9))
    except OSError as e:
        pytest.skip(f"loopback is not usable here (127.0.0.1: {e.strerror})")
    finally:
        probe.close()
    return Inet(kernel, fds)
