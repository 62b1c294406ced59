"""Fixtures for the proc suite: a shared page, and a machine-code vfork for x86_64.

vfork() and clone(CLONE_VM) children run on the parent's stack and memory. A Python
child would return from syscall() into the interpreter and overwrite the stack frames
the suspended parent will return through, so these children are a few x86_64
instructions in an executable page instead: they touch no stack, sleep, set a flag in
the (shared) memory block, and exit with a known code. Everything else in the suite
forks with syscalls.forking, whose children are ordinary copies.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from syscalls.kernel import Kernel

STUB_EXIT_CODE = 7


@pytest.fixture
def shared_page(kernel: Kernel) -> Iterator[Any]:
    """One MAP_SHARED|MAP_ANONYMOUS page as a `long[512]`, shared with forked children."""
    k = kernel
    addr = k.mmap(
        0, mmap.PAGESIZE, k.PROT_READ | k.PROT_WRITE, k.MAP_SHARED | k.MAP_ANONYMOUS, -1, 0
    ).unwrap()
    try:
        yield k.ffi.cast("long *", addr)
    finally:
        k.munmap(addr, mmap.PAGESIZE)


def _stub_code(nr: int, flags: int, nanosleep: int, exit_group: int) -> bytes:
    """long stub(long *block): syscall `nr`(flags, 0, 0, 0, 0); the child sleeps for the
    timespec at block[1..2], stores 1 in block[0] and exits STUB_EXIT_CODE; the parent
    returns the syscall's result (pid or -errno)."""
    imm = lambda v: struct.pack("<I", v)  # noqa: E731 - 32-bit immediates
    child = (
        b"\x49\x8d\x79\x08"  # lea rdi, [r9+8]     (the timespec)
        + b"\x31\xf6"  # xor esi, esi           (rem = NULL)
        + b"\xb8"
        + imm(nanosleep)  # mov eax, __NR_nanosleep
        + b"\x0f\x05"  # syscall
        + b"\x49\xc7\x01\x01\x00\x00\x00"  # mov qword [r9], 1
        + b"\xbf"
        + imm(STUB_EXIT_CODE)  # mov edi, code
        + b"\xb8"
        + imm(exit_group)  # mov eax, __NR_exit_group
        + b"\x0f\x05"  # syscall
    )
    return (
        b"\x49\x89\xf9"  # mov r9, rdi            (r9 survives syscall and is unused by it)
        + b"\xb8"
        + imm(nr)  # mov eax, nr
        + b"\xbf"
        + imm(flags)  # mov edi, flags
        + b"\x31\xf6\x31\xd2"  # xor esi, esi; xor edx, edx
        + b"\x45\x31\xd2\x45\x31\xc0"  # xor r10d, r10d; xor r8d, r8d
        + b"\x0f\x05"  # syscall
        + b"\x48\x85\xc0"  # test rax, rax
        + b"\x75"
        + bytes([len(child)])  # jnz parent
        + child
        + b"\xc3"  # parent: ret
    )


@pytest.fixture
def vm_fork(kernel: Kernel) -> Iterator[Callable[[str, int, Any], int]]:
    """vm_fork(name, flags, block): run syscall `name` (vfork or clone) through the stub.

    block is a `long[3]`: [flag, tv_sec, tv_nsec]. Returns the raw result in the parent.
    """
    k = kernel
    if k.platform.arch != "x86_64":
        pytest.skip("the vfork stub is x86_64 machine code")
    size = mmap.PAGESIZE
    addr = k.mmap(
        0, size, k.PROT_READ | k.PROT_WRITE, k.MAP_PRIVATE | k.MAP_ANONYMOUS, -1, 0
    ).unwrap()

    def run(name: str, flags: int, block: Any) -> int:
        sc = k.platform.syscalls
        code = _stub_code(sc[name], flags, sc["nanosleep"], sc["exit_group"])
        k.mprotect(addr, size, k.PROT_READ | k.PROT_WRITE).unwrap()
        k.ffi.memmove(k.ffi.cast("char *", addr), code, len(code))
        k.mprotect(addr, size, k.PROT_READ | k.PROT_EXEC).unwrap()
        return int(k.ffi.cast("long (*)(long *)", addr)(block))

    try:
        yield run
    finally:
        k.munmap(addr, size)
