"""The i386 calling convention for syscalls whose arguments do not fit one register each.

On i386 every syscall argument is one 32-bit register, so the kernel's entry points
take a 64-bit value (a file offset or length) as two registers, low half first
(arch/x86/entry/syscalls/syscall_32.tbl: pread64, pwrite64, truncate64, ftruncate64,
fallocate, fadvise64_64, sync_file_range, readahead). The portable call
`pread64(fd, buf, n, offset)` is rewritten here into what the kernel wants, and so is
mmap: i386's old `mmap` takes one pointer to an argument block, so the six-argument form
goes to mmap2, whose offset counts 4096-byte pages; an offset mmap2 cannot express (not
a multiple of 4096) goes to the old mmap in its argument block, so that the kernel
answers it (EINVAL). ftruncate/truncate with a 64-bit length go to their 64 variants;
lseek with an offset outside 32 bits is refused (use _llseek), rather than silently
truncated. preadv/pwritev/preadv2/pwritev2 are not rewritten: every arch's kernel takes
their offset as (pos_l, pos_h), which the callers pass already.

semop and semtimedop have no entry of their own in i386's table (only the ipc(2)
multiplexer and semtimedop_time64): they go through ipc(SEMOP / SEMTIMEDOP, ...) as
include/uapi/linux/ipc.h numbers them, whose SEMTIMEDOP takes the 32-bit struct timespec
the suites pass here.

clone takes its last two arguments in the other order on i386 (CONFIG_CLONE_BACKWARDS:
flags, stack, parent_tid, tls, child_tid); the portable call is x86_64's
clone(flags, stack, parent_tid, child_tid, tls).

`adapt(name, args)` returns the syscall to call and its register arguments; names
not listed here pass through unchanged.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Any

PAGE = 4096  # mmap2's unit on i386, whatever the page size (mm/mmap.c: ksys_mmap_pgoff)


def _split(value: int) -> tuple[int, int]:
    """A signed 64-bit value as (low, high) 32-bit register halves."""
    value &= (1 << 64) - 1
    return value & 0xFFFFFFFF, value >> 32


def _offset_at(index: int, real: str) -> Callable[[Sequence[Any]], tuple[str, tuple]]:
    """Split the 64-bit argument at `index` into two registers, low first."""

    def rewrite(args: Sequence[Any]) -> tuple[str, tuple]:
        args = tuple(args)
        if len(args) <= index:
            return real, args
        return real, (*args[:index], *_split(int(args[index])), *args[index + 1 :])

    return rewrite


def _mmap(args: Sequence[Any]) -> tuple[str, tuple]:
    if len(args) != 6:
        raise TypeError("mmap takes 6 arguments (addr, length, prot, flags, fd, offset)")
    *head, offset = args
    if int(offset) % PAGE:
        # mmap2 cannot express it: the old mmap, whose argument block holds the offset in
        # bytes (struct mmap_arg_struct, six 32-bit words), lets the kernel answer.
        words = [int(a) & 0xFFFFFFFF for a in (*head, offset)]
        return "mmap", (struct.pack("=6I", *words),)
    return "mmap2", (*head, int(offset) // PAGE)


def _clone(args: Sequence[Any]) -> tuple[str, tuple]:
    a = tuple(args)
    if len(a) != 5:
        raise TypeError("clone takes 5 arguments (flags, stack, parent_tid, child_tid, tls)")
    flags, stack, parent_tid, child_tid, tls = a
    return "clone", (flags, stack, parent_tid, tls, child_tid)


def _lseek(args: Sequence[Any]) -> tuple[str, tuple]:
    _fd, offset, _whence = args
    if not -(1 << 31) <= int(offset) < (1 << 31):
        raise ValueError("lseek offset does not fit i386's 32-bit off_t: call _llseek")
    return "lseek", tuple(args)


def _fallocate(args: Sequence[Any]) -> tuple[str, tuple]:
    fd, mode, offset, length = args
    return "fallocate", (fd, mode, *_split(int(offset)), *_split(int(length)))


def _two_offsets(real: str, first: int) -> Callable[[Sequence[Any]], tuple[str, tuple]]:
    def rewrite(args: Sequence[Any]) -> tuple[str, tuple]:
        a = tuple(args)
        return real, (
            *a[:first],
            *_split(int(a[first])),
            *_split(int(a[first + 1])),
            *a[first + 2 :],
        )

    return rewrite


SEMOP, SEMTIMEDOP = 1, 4  # include/uapi/linux/ipc.h: ipc(2) call numbers


def _semop(args: Sequence[Any]) -> tuple[str, tuple]:
    semid, sops, nsops = args
    return "ipc", (SEMOP, semid, nsops, 0, sops)


def _semtimedop(args: Sequence[Any]) -> tuple[str, tuple]:
    semid, sops, nsops, timeout = args
    return "ipc", (SEMTIMEDOP, semid, nsops, 0, sops, timeout)


ADAPTERS: dict[str, Callable[[Sequence[Any]], tuple[str, tuple]]] = {
    "mmap": _mmap,
    "clone": _clone,
    "semop": _semop,
    "semtimedop": _semtimedop,
    "lseek": _lseek,
    "pread64": _offset_at(3, "pread64"),
    "pwrite64": _offset_at(3, "pwrite64"),
    "readahead": _offset_at(1, "readahead"),
    "truncate": _offset_at(1, "truncate64"),
    "ftruncate": _offset_at(1, "ftruncate64"),
    "fallocate": _fallocate,
    "fadvise64": _two_offsets("fadvise64_64", 1),
    "posix_fadvise": _two_offsets("fadvise64_64", 1),
    "sync_file_range": _two_offsets("sync_file_range", 1),
}


def adapt(name: str, args: Sequence[Any]) -> tuple[str, tuple]:
    """(syscall name, register arguments) for calling `name(*args)` on i386."""
    rewrite = ADAPTERS.get(name)
    return rewrite(args) if rewrite else (name, tuple(args))
