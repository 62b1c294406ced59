"""FreeBSD, NetBSD and OpenBSD tables from a source tree: syscalls.master and sys headers.

Numbers come from sys/kern/syscalls.master (see syscalls_master.py); errno values and
constants from the tree's own sys/, net*/ and machine headers through the C
preprocessor, with the predefined macros the BSD's compiler would set for the arch
(__FreeBSD__, __amd64__ ...) and _KERNEL left undefined, so the values are those user
space sees. Nothing from the host's /usr/include is read.

Where the OS wants calls made through libc rather than syscall(2), the table says so
under [symbols]: NetBSD's versioned syscalls (stat -> __stat50, as its libc names them)
and, for OpenBSD (no syscall(2) since 7.5), every syscall by its own libc name.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from syscalls.tables import Table, TreeError
from syscalls.tables.cmacros import CompilerMissing, constants
from syscalls.tables.linux import PREFIXES as LINUX_PREFIXES
from syscalls.tables.syscalls_master import Entry, MasterError, parse


@dataclass(frozen=True)
class Arch:
    links: dict[str, str]  # include-path name -> directory under sys/ (<machine/...> etc.)
    defines: tuple[str, ...]  # what the OS's compiler predefines for the arch
    long_bits: int


_AMD64 = ("__amd64__", "__amd64", "__x86_64__", "__x86_64", "__LP64__", "_LP64")
_I386 = ("__i386__", "__i386", "__ILP32__")
_ARM64 = ("__aarch64__", "__LP64__", "_LP64")

ARCHES: dict[str, dict[str, Arch]] = {
    "freebsd": {
        "amd64": Arch({"machine": "amd64/include", "x86": "x86/include"}, _AMD64, 64),
        "i386": Arch({"machine": "i386/include", "x86": "x86/include"}, _I386, 32),
        "arm64": Arch({"machine": "arm64/include"}, _ARM64, 64),
    },
    "netbsd": {
        "amd64": Arch(
            {
                "machine": "arch/amd64/include",
                "amd64": "arch/amd64/include",
                "x86": "arch/x86/include",
            },
            _AMD64,
            64,
        ),
        "i386": Arch(
            {
                "machine": "arch/i386/include",
                "i386": "arch/i386/include",
                "x86": "arch/x86/include",
            },
            _I386,
            32,
        ),
        "arm64": Arch(
            {
                "machine": "arch/aarch64/include",
                "aarch64": "arch/aarch64/include",
                "arm": "arch/arm/include",
            },
            _ARM64,
            64,
        ),
    },
    "openbsd": {
        "amd64": Arch({"machine": "arch/amd64/include", "amd64": "arch/amd64/include"}, _AMD64, 64),
        "i386": Arch({"machine": "arch/i386/include", "i386": "arch/i386/include"}, _I386, 32),
        "arm64": Arch({"machine": "arch/arm64/include", "arm64": "arch/arm64/include"}, _ARM64, 64),
    },
}
# `uname -m` / Linux spellings accepted for the BSD names.
_ARCH_ALIASES = {"x86_64": "amd64", "aarch64": "arm64", "i686": "i386"}

# sys headers read for constants (those the tree has); relative to sys/.
HEADERS = (
    "sys/types.h",
    "sys/errno.h",
    "sys/fcntl.h",
    "sys/filio.h",  # FIONREAD, FIONBIO, FIOCLEX ...
    "sys/stat.h",
    "sys/unistd.h",
    "sys/mman.h",
    "sys/event.h",
    "sys/ptrace.h",
    "sys/signal.h",
    "sys/siginfo.h",
    "sys/time.h",
    "sys/_time.h",  # OpenBSD: CLOCK_* (user space gets them through <time.h>)
    "sys/_clock_id.h",  # FreeBSD: CLOCK_*
    "sys/timerfd.h",
    "sys/eventfd.h",
    "sys/epoll.h",
    "sys/wait.h",
    "sys/idtype.h",
    "sys/poll.h",
    "sys/select.h",
    "sys/resource.h",
    "sys/socket.h",
    "sys/un.h",
    "netinet/in.h",
    "netinet/tcp.h",
    "sys/uio.h",
    "sys/ipc.h",
    "sys/shm.h",
    "sys/sem.h",
    "sys/msg.h",
    "sys/mount.h",
    "sys/dirent.h",
    "sys/random.h",
    "sys/syslimits.h",
    "sys/futex.h",
    "sys/umtx.h",
    "sys/procctl.h",
    "sys/memfd.h",
)
PREFIXES = (
    *(p for p in LINUX_PREFIXES if p not in ("__NR_", "NT_", "__W", "*_MAGIC")),
    "EVFILT_",
    "EV_",
    "NOTE_",
    "PT_",
    "PIOD_",
    "UMTX_",
    "UF_",
    "SF_",
    "SHUT_",
    "SIGSTKSZ",
    "PROC_",
    "RF",
    "_W",
    "WCOREFLAG",
    "MFD_",
    "EFD_",
    "TFD_",
    "MAXPATHLEN",
    "FUTEX_",
    "KQ",
    "FDATASYNC",  # NetBSD's fsync_range(2) flags (sys/unistd.h)
    "FFILESYNC",
    "FDISKSYNC",
    "R_OK",  # access(2) modes; F_OK comes with the F_ prefix
    "W_OK",
    "X_OK",
)
# errno.h names that are limits, not errors.
_NOT_ERRNO = ("ELAST",)


def sys_dir(tree: Path) -> Path | None:
    """The tree's sys/ directory: `tree` itself or tree/sys, whichever has kern/syscalls.master."""
    for candidate in (tree / "sys", tree):
        if (candidate / "kern/syscalls.master").is_file():
            return candidate
    return None


def is_bsd_tree(tree: Path) -> bool:
    return sys_dir(tree) is not None


def which_bsd(sysdir: Path) -> str:
    master = (sysdir / "kern/syscalls.master").read_text(errors="replace")
    head = master[:2000]
    if "$OpenBSD:" in head:
        return "openbsd"
    if "$NetBSD:" in head:
        return "netbsd"
    param = sysdir / "sys/param.h"
    if "AUE_" in master or (param.is_file() and "__FreeBSD_version" in param.read_text()):
        return "freebsd"
    raise TreeError(
        f"{sysdir / 'kern/syscalls.master'}: cannot tell which BSD it is "
        "(no $OpenBSD$/$NetBSD$ id, no FreeBSD audit column)"
    )


def release(os_name: str, sysdir: Path) -> tuple[str, int | None]:
    """A version string for the table's header, and the OS's major version if known."""
    param = sysdir / "sys/param.h"
    text = param.read_text(errors="replace") if param.is_file() else ""
    if os_name == "freebsd":
        m = re.search(r"#define\s+__FreeBSD_version\s+(\d+)", text)
        if m:
            return f"FreeBSD __FreeBSD_version {m.group(1)}", int(m.group(1)) // 100000
    elif os_name == "netbsd":
        m = re.search(r"#define\s+__NetBSD_Version__\s+(\d+)\s*/\*\s*(NetBSD [\w.]+)", text)
        if m:
            return m.group(2), int(m.group(1)) // 100000000
    else:
        m = re.search(r"#define\s+OpenBSD(\d+)_(\d+)\s+1", text)
        if m:
            return f"OpenBSD {m.group(1)}.{m.group(2)}", int(m.group(1))
    return f"{os_name} (version unknown)", None


def master_id(sysdir: Path) -> str:
    """The master file's own revision id ($NetBSD: syscalls.master,v 1.285 ...), if any."""
    m = re.search(
        r"\$(?:OpenBSD|NetBSD|FreeBSD): syscalls\.master,v ([\d.]+)",
        (sysdir / "kern/syscalls.master").read_text(errors="replace")[:2000],
    )
    return f", revision {m.group(1)}" if m else ""


def _flags(os_name: str, major: int | None, arch: Arch, sysdir: Path, tmp: Path) -> list[str]:
    for name, rel in arch.links.items():
        if (sysdir / rel).is_dir() and not (tmp / name).exists():
            (tmp / name).symlink_to((sysdir / rel).resolve())  # absolute: tmp is elsewhere
    # A partial tree without sys/cdefs.h: what cdefs.h decides when no feature-test macro
    # is set (everything visible), so #if __BSD_VISIBLE blocks are not lost.
    visible = []
    if not (sysdir / "sys/cdefs.h").is_file():
        visible = [
            "-D__BSD_VISIBLE=1",
            "-D__POSIX_VISIBLE=200809",
            "-D__XSI_VISIBLE=700",
            "-D__ISO_C_VISIBLE=2011",
            "-D__EXT1_VISIBLE=1",
        ]
    os_macro = {"freebsd": "__FreeBSD__", "netbsd": "__NetBSD__", "openbsd": "__OpenBSD__"}
    return [
        "-undef",
        "-nostdinc",
        f"-D{os_macro[os_name]}={major or 1}",
        "-D__ELF__",
        "-D__unix__",
        "-D__GNUC__=4",
        "-D__GNUC_MINOR__=2",
        "-D__STDC__=1",
        "-D__STDC_VERSION__=201112L",
        "-D__CHAR_BIT__=8",
        *(f"-D{d}" for d in arch.defines),
        *visible,
        "-U_KERNEL",
        "-I",
        str(sysdir),
        "-I",
        str(tmp),
    ]


def generate(tree: Path, arch_name: str | None) -> Table:
    sysdir = sys_dir(tree)
    if sysdir is None:
        raise TreeError(f"{tree}: not a BSD source tree (no sys/kern/syscalls.master)")
    os_name = which_bsd(sysdir)
    arch_name = _ARCH_ALIASES.get(arch_name or "amd64", arch_name or "amd64")
    if arch_name not in ARCHES[os_name]:
        raise TreeError(
            f"unknown {os_name} arch {arch_name!r} (known: {', '.join(ARCHES[os_name])})"
        )
    arch = ARCHES[os_name][arch_name]
    version, major = release(os_name, sysdir)
    try:
        entries = parse((sysdir / "kern/syscalls.master").read_text(errors="replace"), os_name)
    except MasterError as e:
        raise TreeError(f"{sysdir / 'kern/syscalls.master'}: {e}") from None
    headers = [h for h in HEADERS if (sysdir / h).is_file()]
    errno: dict[str, int] = {}
    values: dict[str, int] = {}
    # A tree reduced to its syscalls.master still gives numbers; its table then has no
    # errno or constants, and says so.
    if "sys/errno.h" in headers:
        with tempfile.TemporaryDirectory(prefix="syscalls-tables-") as tmp:
            flags = _flags(os_name, major, arch, sysdir, Path(tmp))
            try:
                errno = constants(["sys/errno.h"], flags, ["E"], stubs=Path(tmp))
                values = constants(
                    headers, flags, PREFIXES, stubs=Path(tmp), long_bits=arch.long_bits
                )
            except CompilerMissing:
                raise  # its own message says what to install
            except RuntimeError as e:
                raise TreeError(f"{tree}: reading the sys headers failed: {e}") from None
    for name in _NOT_ERRNO:
        errno.pop(name, None)
    consts = {k: v for k, v in values.items() if k not in errno and k not in _NOT_ERRNO}
    current = [e for e in entries if not e.compat]
    syscalls: dict[str, int] = {}
    for e in current:
        syscalls.setdefault(e.name, e.number)
    return Table(
        os=os_name,
        arch=arch_name,
        syscalls=syscalls,
        errno=errno,
        constants=consts,
        symbols=symbols(os_name, current),
        padding=padding(current),
        sources=[
            f"sys/kern/syscalls.master ({version}{master_id(sysdir)})",
            (
                f"sys headers ({version}, {arch_name}): errno, constants from " + ", ".join(headers)
                if "sys/errno.h" in headers
                else "sys headers: not in this tree (the table has no errno and no constants)"
            ),
            *upstream_note(tree, sysdir),
        ],
    )


def upstream_note(tree: Path, sysdir: Path) -> list[str]:
    """Lines of an UPSTREAM file at the tree's top (or in sys/): where a tree assembled
    from upstream files came from (repository, commit), cited in the table's header."""
    for where in (tree, sysdir):
        note = where / "UPSTREAM"
        if note.is_file():
            lines = note.read_text(errors="replace").splitlines()
            return [f"upstream: {line.strip()}" for line in lines if line.strip()]
    return []


def padding(entries: list[Entry]) -> dict[str, list[int]]:
    """Syscall -> positions of its PAD slots, for the calls that have any (NetBSD)."""
    out: dict[str, list[int]] = {}
    for e in entries:
        pads = [i for i, a in enumerate(e.args) if a.is_pad]
        if pads:
            out.setdefault(e.name, pads)
    return out


def symbols(os_name: str, entries: list[Entry]) -> dict[str, str]:
    """Portable name -> libc symbol, where calls must (or should) go through libc."""
    out: dict[str, str] = {}
    if os_name == "netbsd":
        for e in sorted(entries, key=lambda e: e.number):  # the newest version wins
            if e.version:
                out[e.base] = e.name
    elif os_name == "openbsd":
        for e in entries:
            if e.name not in ("syscall", "__syscall"):
                out[e.name] = e.name
    return out
