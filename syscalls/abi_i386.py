"""The i386 calling convention for syscalls whose arguments do not fit one register each.

On i386 every syscall argument is one 32-bit register, so the kernel's entry points
take a 64-bit value (a file offset or length) as two registers, low half first
(arch/x86/entry/syscalls/syscall_32.tbl: pread64, pwrite64, truncate64, ftruncate64,
fallocate, fadvise64_64, sync_file_range, readahead). The portable call
`pread64(fd, buf, n, offset)` is rewritten here into what the kernel wants, and so is
mmap: i386's old `mmap` takes one pointer to an argument block, so the six-argument form
goes to mmap2, whose offset counts 4096-byte pages; an offset mmap2 cannot express (not
a multiple of 4096) goes to the old mmap in its argument block, so that the kernel
answers it (EINVAL). The address mmap and mremap return comes back in a signed 32-bit
register: it is handed on unsigned, as the address it is (above 2 GiB it would read as
a negative number). ftruncate/truncate with a 64-bit length go to their 64 variants.
preadv/pwritev/preadv2/pwritev2 are not rewritten: every arch's kernel takes their
offset as (pos_l, pos_h), which the callers pass already.

fanotify_mark's 64-bit event mask takes two registers as the offsets do. io_getevents
is i386's own call, with its timeout copied into a struct old_timespec32; adjtimex goes
to clock_adjtime64(CLOCK_REALTIME, ...) with the 64-bit struct timex (i386.h), as glibc
does with 64-bit time.

lseek goes to _llseek(fd, offset_high, offset_low, &result, whence), as glibc's lseek
does with a 64-bit off_t: the offset is split, and the new position is read back from
the loff_t the kernel fills, so offsets past 2 and 4 GiB work both ways (i386's own
lseek takes and returns a 32-bit off_t).

Time: the suite's struct timespec is the kernel's 64-bit __kernel_timespec on i386
(i386.h), and the table sends the calls that take one to their *_time64 variants
(aliases in i386-extra.toml), as glibc does with _TIME_BITS=64. nanosleep has no 64-bit
variant: it stays i386's own nanosleep (sys_nanosleep_time32), with the request copied
into a struct old_timespec32 here and the time left copied back (glibc would send it to
clock_nanosleep_time64 instead, which the suite tests under its own name).

semop has no entry of its own in i386's table: it goes through ipc(SEMOP, ...) as
include/uapi/linux/ipc.h numbers it. semtimedop is semtimedop_time64 (an alias).

clone takes its last two arguments in the other order on i386 (CONFIG_CLONE_BACKWARDS:
flags, stack, parent_tid, tls, child_tid); the portable call is x86_64's
clone(flags, stack, parent_tid, child_tid, tls).

`adapt(name, args)` returns the syscall to call and its register arguments, and for
calls that write through a pointer made here, a third item: after(ret), which turns the
kernel's return value into the portable call's. Names not listed here pass through
unchanged.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Any

import cffi

# Memory the adapters hand to the kernel (primitive C types only: no cdef needed).
_ffi = cffi.FFI()

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


def _address(ret: int) -> int:
    """A returned address as unsigned; -1 (the failure) stays itself."""
    return ret if ret == -1 else ret & 0xFFFFFFFF


def _mmap(args: Sequence[Any]) -> tuple[str, tuple, Callable[[int], int]]:
    if len(args) != 6:
        raise TypeError("mmap takes 6 arguments (addr, length, prot, flags, fd, offset)")
    *head, offset = args
    if int(offset) % PAGE:
        # mmap2 cannot express it: the old mmap, whose argument block holds the offset in
        # bytes (struct mmap_arg_struct, six 32-bit words), lets the kernel answer.
        words = [int(a) & 0xFFFFFFFF for a in (*head, offset)]
        return "mmap", (struct.pack("=6I", *words),), _address
    return "mmap2", (*head, int(offset) // PAGE), _address


def _mremap(args: Sequence[Any]) -> tuple[str, tuple, Callable[[int], int]]:
    return "mremap", tuple(args), _address


def _clone(args: Sequence[Any]) -> tuple[str, tuple]:
    a = tuple(args)
    if len(a) != 5:
        raise TypeError("clone takes 5 arguments (flags, stack, parent_tid, child_tid, tls)")
    flags, stack, parent_tid, child_tid, tls = a
    return "clone", (flags, stack, parent_tid, tls, child_tid)


def _lseek(args: Sequence[Any]) -> tuple[str, tuple, Callable[[int], int]]:
    fd, offset, whence = args
    low, high = _split(int(offset))
    result = _ffi.new("int64_t *")  # loff_t

    def after(ret: int) -> int:
        return int(result[0]) if ret == 0 else ret

    return "_llseek", (fd, high, low, result, whence), after


INT32 = range(-(1 << 31), 1 << 31)


def _timespec32(ts: Any) -> Any:
    """The suite's 64-bit timespec as a struct old_timespec32 for i386's 32-bit calls;
    NULL or a raw address passes as it is."""
    if not hasattr(ts, "tv_sec"):
        return ts
    sec, nsec = int(ts.tv_sec), int(ts.tv_nsec)
    if sec not in INT32 or nsec not in INT32:
        raise ValueError(
            "this timespec does not fit i386's struct old_timespec32: call the 64-bit "
            "variant (clock_nanosleep for nanosleep, io_pgetevents for io_getevents)"
        )
    return _ffi.new("int32_t[2]", [sec, nsec])


def _nanosleep(args: Sequence[Any]) -> tuple:
    """nanosleep(req, rem) with the suite's 64-bit timespecs, through the 32-bit call."""
    req, rem = args
    req = _timespec32(req)
    if not hasattr(rem, "tv_sec"):
        return "nanosleep", (req, rem)
    rem32 = _ffi.new("int32_t[2]")

    def after(ret: int) -> int:
        if ret == -1 and (rem32[0], rem32[1]) != (0, 0):  # EINTR: the time left
            rem.tv_sec, rem.tv_nsec = rem32[0], rem32[1]
        return ret

    return "nanosleep", (req, rem32), after


def _io_getevents(args: Sequence[Any]) -> tuple[str, tuple]:
    """io_getevents(ctx, min_nr, nr, events, timeout): i386's own call reads an
    old_timespec32 (sys_io_getevents_time32)."""
    *head, timeout = args
    return "io_getevents", (*head, _timespec32(timeout))


CLOCK_REALTIME = 0  # include/uapi/linux/time.h


def _adjtimex(args: Sequence[Any]) -> tuple[str, tuple]:
    """adjtimex(buf) with the 64-bit struct timex (i386.h): clock_adjtime64 on
    CLOCK_REALTIME, which is what adjtimex means (kernel/time/time.c), as glibc does."""
    (buf,) = args
    return "clock_adjtime64", (CLOCK_REALTIME, buf)


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


SEMOP = 1  # include/uapi/linux/ipc.h: ipc(2) call number


def _semop(args: Sequence[Any]) -> tuple[str, tuple]:
    semid, sops, nsops = args
    return "ipc", (SEMOP, semid, nsops, 0, sops)


ADAPTERS: dict[str, Callable[[Sequence[Any]], tuple]] = {
    "mmap": _mmap,
    "mremap": _mremap,
    "clone": _clone,
    "semop": _semop,
    "lseek": _lseek,
    "nanosleep": _nanosleep,
    "pread64": _offset_at(3, "pread64"),
    "pwrite64": _offset_at(3, "pwrite64"),
    "readahead": _offset_at(1, "readahead"),
    "truncate": _offset_at(1, "truncate64"),
    "ftruncate": _offset_at(1, "ftruncate64"),
    "fallocate": _fallocate,
    "fadvise64": _two_offsets("fadvise64_64", 1),
    "posix_fadvise": _two_offsets("fadvise64_64", 1),
    "sync_file_range": _two_offsets("sync_file_range", 1),
    "fanotify_mark": _offset_at(2, "fanotify_mark"),  # its 64-bit event mask
    "io_getevents": _io_getevents,
    "adjtimex": _adjtimex,
}


def adapt(name: str, args: Sequence[Any]) -> tuple:
    """(syscall name, register arguments[, after]) for calling `name(*args)` on i386."""
    rewrite = ADAPTERS.get(name)
    return rewrite(args) if rewrite else (name, tuple(args))
