"""--target rump: the NetBSD kernel as user-space libraries (librump*), called in-process.

A rump kernel is entered through `rump_syscall(num, args, argslen, retval)`: `args`
is the syscall's argument structure as the NetBSD kernel lays it out, one register_t
(8 bytes on 64-bit hosts) per argument, including the `PAD` slots syscalls.master
declares (lseek's second argument, mmap's sixth ...); it returns the NetBSD errno and
leaves the result in retval[0]. The libraries are not packaged for Linux distributions:
the user names the directory of a buildrump.sh build (or NetBSD's /usr/lib) with
--rump-dir. Facts used here are from /work/shared/TARGETS-NOTES.md (load order,
RTLD_GLOBAL, signal model) and NetBSD's sys/rump/include/rump/rump.h.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from syscalls.tables.syscalls_master import Entry

NAME = "rump"
# Load order matters: each library needs the ones before it, all RTLD_GLOBAL.
REQUIRED = ("librumpuser", "librump")
OPTIONAL = ("librumpvfs", "librumpfs_tmpfs", "librumpnet", "librumpnet_net", "librumpnet_local")
SLOT = 8  # register_t on the 64-bit hosts this target supports
RUMP_SIGMODEL_RECORD = 4  # rump.h: enum rump_sigmodel { PANIC, IGNORE, HOST, RAISE, RECORD }

CDEF = """
int rump_init(void);
void rump_boot_setsigmodel(int);
int rump_syscall(int num, void *data, size_t dlen, int64_t *retval);
"""


class RumpUnavailable(RuntimeError):
    """The rump kernel libraries cannot be found or loaded."""


def find_libraries(rump_dir: str | os.PathLike[str] | None) -> list[Path]:
    """The librump* shared objects in `rump_dir`, in load order; a clear error if absent."""
    if rump_dir is None:
        raise RumpUnavailable(
            "--target rump needs --rump-dir DIR: the directory holding librumpuser.so and "
            "librump.so (NetBSD: /usr/lib; elsewhere a buildrump.sh build's rump/lib). "
            "The NetBSD rump kernel is not packaged for this system."
        )
    directory = Path(rump_dir)
    if not directory.is_dir():
        raise RumpUnavailable(f"--rump-dir {directory}: no such directory")
    found: list[Path] = []
    for stem in (*REQUIRED, *OPTIONAL):
        candidates = sorted(directory.glob(f"{stem}.so*"))
        if candidates:
            found.append(candidates[0])
        elif stem in REQUIRED:
            raise RumpUnavailable(
                f"--rump-dir {directory}: no {stem}.so there (librump is not installed; "
                "build it with buildrump.sh or run on NetBSD, where it is in /usr/lib)"
            )
    return found


def marshal(entry: Entry, args: Sequence[int], byteorder: str = "little") -> bytes:
    """The argument block rump_syscall takes: one SLOT per argument, PAD slots zeroed.

    `args` are the C-level arguments without padding (pointers as addresses); each is
    stored as a signed or unsigned SLOT-byte integer, as syscallarg() widens it.
    """
    real = [a for a in entry.args if not a.is_pad]
    if len(args) != len(real):
        raise TypeError(f"{entry.name} takes {len(real)} arguments, got {len(args)}")
    values = iter(args)
    out = bytearray()
    for arg in entry.args:
        value = 0 if arg.is_pad else int(next(values))
        if not -(1 << (8 * SLOT - 1)) <= value < (1 << (8 * SLOT)):
            raise OverflowError(f"{entry.name}: {arg.name}={value} does not fit {SLOT} bytes")
        out += (value & ((1 << (8 * SLOT)) - 1)).to_bytes(SLOT, byteorder)
    return bytes(out)


class RumpKernel:
    """A loaded rump kernel: rump_syscall by number, NetBSD errno back."""

    def __init__(self, rump_dir: str | os.PathLike[str] | None) -> None:
        import cffi

        libraries = find_libraries(rump_dir)
        self.ffi = cffi.FFI()
        self.ffi.cdef(CDEF)
        flags = self.ffi.RTLD_NOW | self.ffi.RTLD_GLOBAL
        try:
            self.libs = [self.ffi.dlopen(str(path), flags) for path in libraries]
        except OSError as e:
            raise RumpUnavailable(f"loading the rump kernel failed: {e}") from None
        self.lib = self.libs[1]  # librump: rump_init, rump_syscall
        try:
            self.lib.rump_boot_setsigmodel(RUMP_SIGMODEL_RECORD)  # SIGPIPE must not kill us
            init = self.lib.rump_init
        except AttributeError as e:
            raise RumpUnavailable(f"{libraries[1]} is not a rump kernel: {e}") from None
        err = init()
        if err:
            raise RumpUnavailable(f"rump_init() failed with NetBSD errno {err}")

    def syscall(self, entry: Entry, args: Sequence[int]) -> tuple[int, int]:
        """(retval[0], errno) of syscall `entry` with these C-level arguments."""
        block = marshal(entry, args)
        data = self.ffi.new("char[]", block)
        retval = self.ffi.new("int64_t[2]")
        err = self.lib.rump_syscall(entry.number, data, len(block), retval)
        return int(retval[0]), int(err)


def run(rump_dir: str | os.PathLike[str] | None, **_: Any) -> int:
    """Entry point for `syscalls run --target rump`: loads the kernel or says why not."""
    RumpKernel(rump_dir)
    # Routing the suites' kernel fixture through RumpKernel is the conftest's part.
    raise RumpUnavailable(
        "the rump kernel loaded, but the suites' kernel fixture does not route through it yet"
    )
