"""Fixtures for the mm suite: mappings and fds released after the test.

`maps` maps memory and unmaps what the test left mapped; a test that unmaps a mapping
itself says so with maps.unmap(), so teardown never unmaps an address the interpreter
may have reused. Teardown goes straight to libc, so it is not recorded as the test's
observation. `mem(addr, n)` is a writable byte view of mapped memory. `nodemask` makes
and reads the NUMA node masks of the mempolicy and migration calls.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from syscalls.kernel import Kernel, Result


class Maps:
    """Mappings a test made; those still registered at teardown are unmapped."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.held: list[tuple[int, int]] = []

    def __call__(self, r: Result, length: int) -> int:
        """Unwrap an mmap/mremap result and keep (addr, length) for teardown."""
        addr = r.unwrap()
        self.held.append((addr, length))
        return addr

    def anon(self, length: int, flags: int | None = None, prot: int | None = None) -> int:
        k = self.kernel
        flags = k.MAP_PRIVATE if flags is None else flags
        prot = k.PROT_READ | k.PROT_WRITE if prot is None else prot
        return self(k.mmap(0, length, prot, flags | k.MAP_ANONYMOUS, -1, 0), length)

    def file(self, fd: int, length: int, flags: int, prot: int | None = None) -> int:
        k = self.kernel
        prot = k.PROT_READ | k.PROT_WRITE if prot is None else prot
        return self(k.mmap(0, length, prot, flags, fd, 0), length)

    def unsigned(self, addr: int) -> int:
        """An address as the unsigned number it is: a 32-bit long makes the upper half of
        i386's address space negative, which a struct's address field cannot hold."""
        return addr & ((1 << 8 * self.kernel.ffi.sizeof("void *")) - 1)

    def forget(self, addr: int) -> None:
        """The test unmapped or moved this mapping itself."""
        self.held = [(a, n) for a, n in self.held if a != addr]

    def unmap(self, addr: int, length: int) -> Result:
        self.forget(addr)
        return self.kernel.munmap(addr, length)

    def release(self) -> None:
        k = self.kernel
        number = k.ffi.cast("long", k.platform.syscalls[k.platform.resolve("munmap")])
        for addr, length in self.held:
            k.libc.syscall(number, k.ffi.cast("long", addr), k.ffi.cast("long", length))
        self.held.clear()


@pytest.fixture
def maps(kernel: Kernel) -> Iterator[Maps]:
    holder = Maps(kernel)
    try:
        yield holder
    finally:
        holder.release()


@pytest.fixture
def page() -> int:
    return os.sysconf("SC_PAGE_SIZE")


@pytest.fixture
def mem(kernel: Kernel) -> Callable[[int, int], Any]:
    """mem(addr, n): a read/write buffer over n bytes of mapped memory at addr."""
    return lambda addr, n: kernel.ffi.buffer(kernel.ffi.cast("char *", addr), n)


@pytest.fixture
def fds(kernel: Kernel) -> Iterator[list[int]]:
    """A list to append fds to; whatever it holds is closed at teardown."""
    held: list[int] = []
    try:
        yield held
    finally:
        for fd in held:
            with contextlib.suppress(OSError):
                os.close(fd)


class NodeMasks:
    """NUMA node masks as the kernel takes them: arrays of unsigned long, with `maxnode`
    one more than the bits it reads (mm/mempolicy.c: get_nodes decrements it)."""

    BITS = 1024  # MAX_NUMNODES is at most 1024 on the arches here
    maxnode = BITS + 1

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.word = 8 * kernel.ffi.sizeof("unsigned long")

    def __call__(self, nodes: Iterable[int] = ()) -> Any:
        mask = self.kernel.new("unsigned long[]", self.BITS // self.word)
        for n in nodes:
            mask[n // self.word] |= 1 << (n % self.word)
        return mask

    def members(self, mask: Any) -> set[int]:
        w = self.word
        return {i * w + b for i in range(self.BITS // w) for b in range(w) if mask[i] >> b & 1}

    @staticmethod
    def offline() -> int:
        """The node after the last online one (/sys/devices/system/node/online: "0-3")."""
        online = Path("/sys/devices/system/node/online")
        text = online.read_text().strip() if online.exists() else "0"
        return max(int(part.split("-")[-1]) for part in text.split(",")) + 1


@pytest.fixture
def nodemask(kernel: Kernel) -> NodeMasks:
    return NodeMasks(kernel)
