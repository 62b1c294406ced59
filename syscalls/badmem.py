"""Addresses a syscall must refuse with EFAULT, for the tests that check it.

A page that was mapped and no longer is; a page mapped PROT_NONE (or read-only, for
calls that write); and, on 64-bit arches, an address above user space, which
access_ok() refuses before any page is looked at. On 32-bit arches there is no such
address to name: a 64-bit kernel gives i386 tasks the whole 4 GiB.
"""

from __future__ import annotations

import mmap

from syscalls.kernel import Kernel

ABOVE_USER_64 = 0xFFFF_8000_0000_0000  # kernel half on x86_64 (4- and 5-level) and arm64


class BadMemory:
    """Bad addresses for one test; the pages it keeps are unmapped by close()."""

    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel
        self._kept: list[int] = []

    def _map(self, prot: int) -> int:
        k = self.k
        flags = k.MAP_PRIVATE | k.MAP_ANONYMOUS
        with k.unobserved():
            addr = k.mmap(0, mmap.PAGESIZE, prot, flags, -1, 0).unwrap()
        return addr % (1 << 8 * k.ffi.sizeof("long"))  # unsigned: i386 maps above 2 GiB

    def unmapped(self) -> int:
        """An address whose page was just unmapped (nothing else maps it meanwhile in a
        single-threaded test)."""
        addr = self._map(self.k.PROT_READ)
        with self.k.unobserved():
            self.k.munmap(addr, mmap.PAGESIZE).unwrap()
        return addr

    def page(self, prot: int) -> int:
        """A mapped page with this protection (PROT_NONE, PROT_READ), kept until close()."""
        addr = self._map(prot)
        self._kept.append(addr)
        return addr

    def above_user(self) -> int | None:
        """An address above user space, or None on a 32-bit arch."""
        return ABOVE_USER_64 if self.k.ffi.sizeof("long") == 8 else None

    def close(self) -> None:
        with self.k.unobserved():
            for addr in self._kept:
                self.k.munmap(addr, mmap.PAGESIZE)
        self._kept.clear()
