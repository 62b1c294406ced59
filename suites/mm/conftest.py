"""Fixtures for the mm suite: mappings and fds released after the test, and what
/proc says about a mapping.

`maps` maps memory and unmaps what the test left mapped; a test that unmaps a mapping
itself says so with maps.unmap(), so teardown never unmaps an address the interpreter
may have reused. Teardown goes straight to libc, so it is not recorded as the test's
observation. `mem(addr, n)` is a writable byte view of mapped
memory. `vma(addr)` is the /proc/self/maps line of the mapping holding addr,
`vm_flags(addr)` the two-letter VmFlags /proc/self/smaps gives it (fs/proc/task_mmu.c),
`status(key)` a /proc/self/status value in kB, `overcommit_memory` the
vm.overcommit_memory mode (0 heuristic, 1 always, 2 strict). `nodemask` makes and reads
the NUMA node masks of the mempolicy and migration calls. `address_space_end` is
2 ** (pointer bits), for lengths that wrap past it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from syscalls.abi import compat_process
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
def address_space_end(kernel: Kernel) -> int:
    """2 ** (pointer bits): a length near it, added to any mapped address, wraps past 0.
    Not for a 32-bit process on a 64-bit kernel, which sees a length widened and the
    range end above 4 GiB: the call then walks (and may change) every mapping above."""
    if compat_process():
        pytest.skip("a 32-bit process on a 64-bit kernel: no 32-bit length wraps its addresses")
    return 1 << 8 * kernel.ffi.sizeof("void *")


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


class Vma(NamedTuple):
    start: int
    end: int
    perms: str  # "rw-p", "r-xs" ...
    name: str  # path, "[stack]", "" for anonymous memory


def _vma_lines(text: str, addr: int) -> tuple[Vma, list[str]] | None:
    """The mapping holding addr in /proc/self/maps or smaps text, and its smaps lines."""
    found: tuple[Vma, list[str]] | None = None
    for line in text.splitlines():
        head = line.split(None, 5)
        if "-" in head[0] and len(head) >= 5 and head[0][0] in "0123456789abcdef":
            if found is not None:
                break
            start, end = (int(x, 16) for x in head[0].split("-"))
            if start <= addr < end:
                found = (Vma(start, end, head[1], head[5].strip() if len(head) > 5 else ""), [])
        elif found is not None:
            found[1].append(line)
    return found


@pytest.fixture
def vma() -> Callable[[int], Vma | None]:
    """vma(addr): the /proc/self/maps entry holding addr, or None where nothing is mapped."""

    def lookup(addr: int) -> Vma | None:
        with open("/proc/self/maps") as f:
            found = _vma_lines(f.read(), addr)
        return found[0] if found else None

    return lookup


@pytest.fixture
def vm_flags() -> Callable[[int], set[str]]:
    """vm_flags(addr): the VmFlags of the mapping holding addr (/proc/self/smaps)."""

    def lookup(addr: int) -> set[str]:
        with open("/proc/self/smaps") as f:
            found = _vma_lines(f.read(), addr)
        assert found is not None, f"nothing mapped at {addr:#x}"
        for line in found[1]:
            if line.startswith("VmFlags:"):
                return set(line.split()[1:])
        raise AssertionError("no VmFlags line in /proc/self/smaps")

    return lookup


@pytest.fixture
def status() -> Callable[[str], int]:
    """status(key): a /proc/self/status value in kB (VmLck, VmSize, VmData ...)."""

    def lookup(key: str) -> int:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        raise AssertionError(f"no {key} in /proc/self/status")

    return lookup


@pytest.fixture
def overcommit_memory() -> int:
    with open("/proc/sys/vm/overcommit_memory") as f:
        return int(f.read())


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
