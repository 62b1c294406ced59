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

import itertools
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from syscalls.abi import Platform
from syscalls.kernel import Kernel, Result, Unsupported
from syscalls.kernel_path import KernelPath

NAME = "rump"
# Load order matters: each library needs the ones before it, all RTLD_GLOBAL.
REQUIRED = ("librumpuser", "librump")
OPTIONAL = (
    "librumpvfs",
    "librumpfs_tmpfs",
    "librumpnet",
    "librumpnet_net",
    "librumpnet_local",
    "librumpnet_netinet",
    "librumpnet_netinet6",
    "librumpvfs_fifofs",  # needs the socket layer (librumpnet)
)
SLOT = 8  # register_t on the 64-bit hosts this target supports
RUMP_SIGMODEL_RECORD = 4  # rump.h: enum rump_sigmodel { PANIC, IGNORE, HOST, RAISE, RECORD }

CDEF = """
int rump_init(void);
void rump_boot_setsigmodel(int);
int rump_syscall(int num, void *data, size_t dlen, int64_t *retval);
/* sys/fs/tmpfs/tmpfs_args.h (NetBSD 7.99.34): the data __mount50 takes for tmpfs. */
struct tmpfs_args {
    int ta_version; uint64_t ta_nodes_max; int64_t ta_size_max;
    uint32_t ta_root_uid; uint32_t ta_root_gid; uint32_t ta_root_mode;
};
"""
TMPFS_ARGS_VERSION = 1


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


def marshal(
    name: str, pads: Sequence[int], args: Sequence[int], byteorder: str = "little"
) -> bytes:
    """The argument block rump_syscall takes: one SLOT per argument, PAD slots zeroed.

    `args` are the C-level arguments without padding (pointers as addresses); `pads`
    the positions of the PAD slots among all slots (the table's [padding]). Each value is
    stored as a signed or unsigned SLOT-byte integer, as syscallarg() widens it.
    """
    values = list(args)
    for at in pads:
        if at > len(values):
            raise TypeError(f"{name} takes at least {at} arguments before its PAD slot")
        values.insert(at, 0)
    out = bytearray()
    for value in values:
        value = int(value)
        if not -(1 << (8 * SLOT - 1)) <= value < (1 << (8 * SLOT)):
            raise OverflowError(f"{name}: argument {value} does not fit {SLOT} bytes")
        out += (value & ((1 << (8 * SLOT)) - 1)).to_bytes(SLOT, byteorder)
    return bytes(out)


TMP = "/tmp"  # rumpfs's root has it
_serial = itertools.count()

# One rump kernel per process: rump_init() boots it once, and every RumpKernel shares it.
_booted: dict[Path, tuple[Any, list[Any]]] = {}


def _boot(ffi: Any, libraries: list[Path]) -> tuple[Any, list[Any]]:
    key = libraries[0].parent.resolve()
    if key in _booted:
        return _booted[key]
    # NODELETE: cffi dlcloses at interpreter exit while the kernel's threads still run
    # its code; the process would die of SIGSEGV after the results were written.
    flags = ffi.RTLD_NOW | ffi.RTLD_GLOBAL | os.RTLD_NODELETE
    try:
        libs = [ffi.dlopen(str(path), flags) for path in libraries]
    except OSError as e:
        raise RumpUnavailable(f"loading the rump kernel failed: {e}") from None
    lib = libs[1]  # librump: rump_init, rump_syscall
    try:
        lib.rump_boot_setsigmodel(RUMP_SIGMODEL_RECORD)  # SIGPIPE must not kill us
        init = lib.rump_init
    except AttributeError as e:
        raise RumpUnavailable(f"{libraries[1]} is not a rump kernel: {e}") from None
    err = init()
    if err:
        raise RumpUnavailable(f"rump_init() failed with NetBSD errno {err}")
    _booted[key] = (lib, libs)
    return lib, libs


class RumpKernel(Kernel):
    """The NetBSD rump kernel behind the Kernel interface: k.read(fd, buf, n) goes to
    rump_syscall with the number from the netbsd table, PAD slots filled in, and the
    NetBSD errno it returns becomes the Result's."""

    in_process = True
    absent_features = {  # noqa: RUF012 - read-only
        "cpu_time": "the rump kernel accounts no CPU time to its callers (the clocks read 0)",
        "large_files": "tmpfs in the rump kernel is bounded by that kernel's memory",
        "fault_handler": "the rump kernel copies from this process's memory with no fault "
        "handler: an unmapped address would crash the run instead of giving EFAULT",
    }
    absent_areas = {  # noqa: RUF012 - read-only
        area: f"the rump kernel runs inside this process: {why} are the host's, not NetBSD's"
        for area, why in {
            "proc": "processes (fork, exec, wait, ids, rlimits)",
            "signals": "signals and their delivery",
            "ptrace": "tracing",
            "mm": "the address space and its mappings",
            "ns": "namespaces and mounts",
        }.items()
    }

    def __init__(self, platform: Platform, rump_dir: str | os.PathLike[str] | None) -> None:
        if platform.os != "netbsd":
            raise RumpUnavailable(f"a rump kernel is NetBSD; the table is {platform.name}")
        libraries = find_libraries(rump_dir)
        super().__init__(platform)
        self.ffi.cdef(CDEF)
        fresh = libraries[0].parent.resolve() not in _booted
        self.lib, self.libs = _boot(self.ffi, libraries)
        self.directory = libraries[0].parent
        self.path = KernelPath.bound(self)  # pathlib-style setup, in the rump kernel
        if fresh and any(p.name.startswith("librumpfs_tmpfs.") for p in libraries):
            self._mount_tmpfs()

    def _mount_tmpfs(self) -> None:
        """tmpfs on /tmp: the tests' directories on a NetBSD file system proper (the
        root, rumpfs, is a minimal one: no link, no rename, reads past the end)."""
        args = self.ffi.new("struct tmpfs_args *")
        args.ta_version, args.ta_root_mode = TMPFS_ARGS_VERSION, 0o1777
        size = self.ffi.sizeof("struct tmpfs_args")
        with self.unobserved():
            r = self.mount(b"tmpfs", TMP.encode(), 0, args, size)
        if not r.ok:
            raise RumpUnavailable(f"mounting tmpfs on {TMP} in the rump kernel: {r.outcome}")

    def _make_caller(self, name: str) -> Callable[..., Result]:
        p = self.platform
        real = p.resolve(name)
        real = p.symbols.get(real, real)  # stat -> __stat50: the number libc would call
        if real not in p.syscalls:
            raise Unsupported(f"{name}: not in the {p.name} table")
        number, pads = p.syscalls[real], p.padding.get(real, [])
        ffi, rump_syscall = self.ffi, self.lib.rump_syscall

        def call(*args: Any) -> Result:
            keep: list[Any] = []
            block = marshal(real, pads, [self._address(a, keep) for a in args])
            retval = ffi.new("int64_t[2]")
            err = rump_syscall(number, ffi.new("char[]", block), len(block), retval)
            return self._finish(name, -1 if err else int(retval[0]), err)

        return call

    def release(self) -> str:
        """kern.osrelease of the rump kernel (sysctl {CTL_KERN 1, KERN_OSRELEASE 2})."""
        name = self.ffi.new("int[2]", [1, 2])
        buf, size = self.buf(64), self.ffi.new("size_t *", 64)
        with self.unobserved():
            r = self.caller("__sysctl")(name, 2, buf, size, None, 0)
        return self.ffi.string(buf).decode() if r.ok else "unknown"

    def private_directory(self) -> KernelPath:
        """A new directory in the rump kernel's own file system, for one test.

        Nothing removes it: the file system lives in this process's memory and goes
        with it.
        """
        for _ in range(100):
            path = self.path(TMP) / f"syscalls-{os.getpid()}-{next(_serial)}"
            with self.unobserved():
                r = self.mkdir(path, 0o700)
            if r.ok:
                return path
            if r.outcome != "EEXIST":
                raise RumpUnavailable(f"mkdir {path} in the rump kernel: {r.outcome}")
        raise RumpUnavailable(f"no free directory name under {TMP} in the rump kernel")

    def _address(self, value: Any, keep: list[Any]) -> int:
        """One argument as the integer its slot holds: Kernel's conversion (bytes and
        paths into kept buffers, arrays as pointers), read back as a number."""
        return int(self.ffi.cast("intptr_t", self._arg(value, keep)))
