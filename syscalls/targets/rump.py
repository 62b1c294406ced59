"""--target rump: the NetBSD kernel as user-space libraries (librump*), called in-process.

A rump kernel is entered through `rump_syscall(num, args, argslen, retval)`: `args`
is the syscall's argument structure as the NetBSD kernel lays it out, one register_t
(8 bytes on 64-bit hosts) per argument, including the `PAD` slots syscalls.master
declares (lseek's second argument, mmap's sixth ...); it returns the NetBSD errno and
leaves the result in retval[0]. The libraries are not packaged for Linux distributions:
the user names the directory of a buildrump.sh build (or NetBSD's /usr/lib) with
--rump-dir or $SYSCALLS_RUMP_DIR; without either, the build this repository's CI keeps
beside the checkout (../shared/rump/lib) is used where it exists. Facts used here are
from /work/shared/TARGETS-NOTES.md (load order, RTLD_GLOBAL, signal model) and NetBSD's
sys/rump/include/rump/rump.h.

Each library is taken as the real ELF shared object among its names (librump.so,
librump.so.0, librump.so.0.0): a copy that did not keep symbolic links may have turned
each link into a "link stub", a small file holding the name of the sibling it pointed
to, which dlopen would refuse ("file too short"). Stubs are followed; a name that leads
to no shared object is refused, saying what each name held.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from syscalls import paths
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


# The build this repository's CI keeps beside the checkout (see its SOURCES.md).
SHARED_BUILD = paths.ROOT.parent / "shared" / "rump" / "lib"
ELF_MAGIC = b"\x7fELF"
ET_DYN = 3  # e_type of a shared object
STUB_MAX = 255  # a link stub holds one file name: at most NAME_MAX bytes
STUB_HOPS = 8  # stubs naming stubs: librump.so -> librump.so.0 -> librump.so.0.0


def default_directory() -> Path | None:
    """Where the libraries are looked for without --rump-dir: $SYSCALLS_RUMP_DIR, else
    ../shared/rump/lib beside this checkout where that directory exists."""
    named = os.environ.get("SYSCALLS_RUMP_DIR")
    if named:
        return Path(named)
    if not paths.INSTALLED and SHARED_BUILD.is_dir():
        return SHARED_BUILD
    return None


def find_libraries(rump_dir: str | os.PathLike[str] | None) -> list[Path]:
    """The librump* shared objects in `rump_dir` (None: default_directory()), in load
    order; a clear error if absent."""
    directory = Path(rump_dir) if rump_dir is not None else default_directory()
    if directory is None:
        raise RumpUnavailable(
            "--target rump needs --rump-dir DIR (or $SYSCALLS_RUMP_DIR): the directory "
            "holding librumpuser.so and librump.so (NetBSD: /usr/lib; elsewhere a "
            f"buildrump.sh build's rump/lib, see ci/build-rump; none at {SHARED_BUILD}). "
            "The NetBSD rump kernel is not packaged for this system."
        )
    if not directory.is_dir():
        raise RumpUnavailable(f"--rump-dir {directory}: no such directory")
    found: list[Path] = []
    for stem in (*REQUIRED, *OPTIONAL):
        names = library_names(directory, stem)
        if names:
            found.append(shared_object(directory, stem, names))
        elif stem in REQUIRED:
            raise RumpUnavailable(
                f"--rump-dir {directory}: no {stem}.so there (librump is not installed; "
                "build it with buildrump.sh or run on NetBSD, where it is in /usr/lib)"
            )
    return found


def library_names(directory: Path, stem: str) -> list[Path]:
    """`stem`.so and its versioned names (stem.so.0, stem.so.0.1), the linker's name
    first, then the newest version first."""
    pattern = re.compile(rf"{re.escape(stem)}\.so((?:\.\d+)*)")
    named = []
    for path in directory.iterdir():
        m = pattern.fullmatch(path.name)
        if m:
            version = tuple(int(v) for v in m.group(1).split(".")[1:])
            named.append((bool(version), tuple(-v for v in version), path))
    return [path for *_, path in sorted(named)]


def shared_object(directory: Path, stem: str, names: list[Path]) -> Path:
    """The real shared object the first of `names` that leads to one leads to."""
    why = []
    for name in names:
        path, note = _follow(name)
        if path is not None:
            return path
        why.append(note)
    raise RumpUnavailable(
        f"--rump-dir {directory}: no {stem}.so* there is a shared object ({'; '.join(why)})"
    )


def _follow(path: Path) -> tuple[Path | None, str]:
    """(the ELF shared object `path` is or names through link stubs, or None and why)."""
    trail = [path.name]
    for _ in range(STUB_HOPS + 1):  # up to STUB_HOPS stubs, then the object
        try:
            with path.open("rb") as f:  # a real symbolic link is followed by open()
                head = f.read(STUB_MAX + 1)
        except OSError as e:
            return None, f"{' -> '.join(trail)}: {e.strerror}"
        if head.startswith(ELF_MAGIC):
            if elf_type(head) == ET_DYN:
                return path, ""
            return None, f"{' -> '.join(trail)}: an ELF file but not a shared object"
        target = stub_target(head)
        if target is None:
            return None, f"{' -> '.join(trail)}: neither an ELF file nor a link stub"
        if target in trail:
            return None, f"{' -> '.join([*trail, target])}: a loop of link stubs"
        trail.append(target)
        path = path.parent / target
        if not path.exists():
            return None, f"{' -> '.join(trail)}: a link stub naming a file that is not there"
    return None, f"{' -> '.join(trail)}: more than {STUB_HOPS} link stubs"


def elf_type(head: bytes) -> int | None:
    """e_type of an ELF header (in the byte order its EI_DATA names), None if too short."""
    if len(head) < 18 or head[5] not in (1, 2):
        return None
    return int.from_bytes(head[16:18], "little" if head[5] == 1 else "big")


def stub_target(head: bytes) -> str | None:
    """The sibling's file name a link stub holds, or None if `head` is not one."""
    if len(head) > STUB_MAX:
        return None
    try:
        name = head.decode("ascii").strip()
    except UnicodeDecodeError:
        return None
    # One printable word, no directory: the name of a file beside the stub.
    if not name.isprintable() or len(name.split()) != 1 or "/" in name or name in (".", ".."):
        return None
    return name


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
        if fresh:
            self._take_host_credentials()

    def _take_host_credentials(self) -> None:
        """The rump kernel's process runs as this process's user. It starts as root, but
        the suites decide from the host's ids what to expect (a user's EACCES, root's
        bypass of mode bits), so a user's run would otherwise meet root's answers.

        Its group list holds the effective gid too: Linux counts that gid as a group the
        process is in (kernel/groups.c, in_group_p), NetBSD only the list
        (sys/kern/kern_auth.c, kauth_cred_ismember_gid), which login fills with it."""
        uid, gid = os.geteuid(), os.getegid()
        groups = sorted({gid, *os.getgroups()})
        if uid == 0:
            return
        with self.unobserved():
            steps = {
                "setgroups": self.setgroups(len(groups), self.new("uint32_t[]", groups)),
                "setgid": self.setgid(gid),
                "setuid": self.setuid(uid),
            }
        for name, r in steps.items():
            if not r.ok:
                raise RumpUnavailable(f"{name} in the rump kernel (to uid {uid}): {r.outcome}")

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
