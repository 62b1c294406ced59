"""Linux tables from a kernel source tree: the arch's syscall table and the uapi headers.

Syscall numbers come from arch/x86/entry/syscalls/syscall_{64,32}.tbl, from
scripts/syscall.tbl on trees that have it (6.11+ generic arches), and otherwise from
the asm-generic __NR_ macros the arch's asm/unistd.h selects. Errno values and
constants come from the uapi headers through the C preprocessor; nothing is compiled,
so a table for any arch can be made on any host.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from syscalls.table_schema import C_NAME, SYSCALL_NUMBER
from syscalls.tables import Table, TreeError, read_source, sys_ni
from syscalls.tables.cmacros import CompilerMissing, constants


@dataclass(frozen=True)
class Arch:
    karch: str  # the directory under arch/
    tbl: str | None  # arch-specific table, if the arch has one
    abis: tuple[str, ...]  # which ABI column values belong to this arch
    defines: tuple[str, ...]  # what the arch's compiler would predefine


ARCHES = {
    "x86_64": Arch(
        "x86",
        "arch/x86/entry/syscalls/syscall_64.tbl",
        ("common", "64"),
        ("__x86_64__", "__LP64__"),
    ),
    "i386": Arch(
        "x86", "arch/x86/entry/syscalls/syscall_32.tbl", ("i386",), ("__i386__", "__ILP32__")
    ),
    # The generic asm/bitsperlong.h of some arches (riscv) reads the compiler's
    # __SIZEOF_POINTER__, which -undef removes: without it 64-bit arches get 32-bit names.
    "aarch64": Arch(
        "arm64", None, ("common", "64"), ("__aarch64__", "__LP64__", "__SIZEOF_POINTER__=8")
    ),
    "riscv64": Arch(
        "riscv",
        None,
        ("common", "64", "riscv"),
        ("__riscv", "__riscv_xlen=64", "__LP64__", "__SIZEOF_POINTER__=8"),
    ),
}

_BPF_NAMES = (
    "LD ST ALU JMP RET MISC W H B DW IMM ABS IND MEM LEN MSH ADD SUB MUL DIV OR AND LSH RSH "
    "NEG MOD XOR MOV ARSH END JA JEQ JGT JGE JSET JNE JLT JLE JSGT JSGE JSLT JSLE CALL EXIT "
    "K X MAXINSNS REG_ MAP_ PROG_ OBJ_ ANY NOEXIST EXIST"
)
# uapi headers read for constants, and the name prefixes kept from them.
HEADERS = (
    "linux/errno.h",
    "linux/fcntl.h",
    "linux/stat.h",
    "linux/fs.h",
    "linux/mman.h",
    "linux/memfd.h",
    "linux/futex.h",
    "linux/eventpoll.h",
    "linux/poll.h",
    "linux/ptrace.h",
    "asm/signal.h",
    "asm/siginfo.h",
    "linux/time.h",
    "linux/wait.h",
    "linux/sched.h",
    "linux/prctl.h",
    "linux/resource.h",
    "linux/eventfd.h",
    "linux/timerfd.h",
    "linux/signalfd.h",
    "linux/inotify.h",
    "asm/socket.h",
    "linux/in.h",
    "linux/sockios.h",
    "asm/sockios.h",
    "linux/in6.h",
    "linux/tcp.h",
    "linux/un.h",
    "linux/random.h",
    "linux/xattr.h",
    "linux/falloc.h",
    "linux/uio.h",
    "linux/ipc.h",
    "linux/sem.h",
    "linux/shm.h",
    "linux/msg.h",
    "linux/mount.h",
    "linux/limits.h",
    "linux/capability.h",
    "linux/close_range.h",
    "linux/openat2.h",
    "linux/membarrier.h",
    "linux/kcmp.h",
    "linux/personality.h",
    "linux/pidfd.h",
    "linux/rseq.h",
    "linux/seccomp.h",
    "linux/mempolicy.h",
    "linux/userfaultfd.h",
    "linux/aio_abi.h",
    "linux/io_uring.h",
    "linux/utsname.h",
    "linux/net.h",
    "linux/magic.h",
    "linux/signal.h",
    "linux/elf.h",
    "asm/prctl.h",  # x86 only: arch_prctl codes
    "asm/ldt.h",  # x86 only: modify_ldt
    "linux/keyctl.h",
    "linux/landlock.h",
    "linux/bpf.h",  # with linux/bpf_common.h: classic and extended BPF
    "linux/audit.h",  # AUDIT_ARCH_*, what a seccomp filter checks
    "linux/sched/types.h",
    "linux/ioprio.h",
    "linux/mqueue.h",
    "linux/perf_event.h",
    "linux/termios.h",
    "linux/fanotify.h",
    "linux/quota.h",
    "linux/reboot.h",
    "linux/kexec.h",
    "linux/module.h",
    "linux/timex.h",
    "linux/fadvise.h",
    "linux/acct.h",
    "asm/unistd.h",
)
PREFIXES = (
    "O_",
    "AT_",
    "F_",
    "FD_",
    "S_I",
    "SEEK_",
    "STATX_",
    "RENAME_",
    "PROT_",
    "MAP_",
    "MREMAP_",
    "MADV_",
    "MCL_",
    "MLOCK_",
    "MS_",
    "MFD_",
    "FUTEX_",
    "EPOLL",
    "POLL",
    "PTRACE_",
    "SIG",
    "SA_",
    "SS_",
    "SI_",
    "CLD_",
    "SEGV_",
    "TRAP_",
    "CLOCK_",
    "TIMER_",
    "ITIMER_",
    "W",
    "P_",
    "CLONE_",
    "CSIGNAL",
    "PR_",
    "RLIMIT_",
    "RLIM_",
    "RUSAGE_",
    "PRIO_",
    "EFD_",
    "TFD_",
    "SFD_",
    "IN_",
    "SO_",
    "SOL_",
    "SCM_",
    "IPPROTO_",
    "IP_",
    "SIOCATMARK",
    "SIOCINQ",
    "SIOCOUTQ",
    "INADDR_",
    "TCP_",
    "UNIX_PATH_MAX",
    "GRND_",
    "XATTR_",
    "FALLOC_FL_",
    "UIO_",
    "IPC_",
    "GETVAL",
    "SETVAL",
    "GETPID",
    "GETNCNT",
    "GETZCNT",
    "GETALL",
    "SETALL",
    "SEM_",
    "SHM_",
    "MSG_",
    "MOUNT_ATTR_",
    "MOVE_MOUNT_",
    "FSOPEN_",
    "FSMOUNT_",
    "OPEN_TREE_",
    "UMOUNT_",
    "MNT_",
    "PATH_MAX",
    "PIPE_BUF",
    "NAME_MAX",
    "NGROUPS_MAX",
    "CAP_",
    "_LINUX_CAPABILITY_",
    "CLOSE_RANGE_",
    "RESOLVE_",
    "MEMBARRIER_",
    "KCMP_",
    "PER_",
    "PIDFD_",
    "RSEQ_",
    "SECCOMP_",
    "MPOL_",
    "UFFD",
    "IORING_",
    "IOSQE_",
    "IOCB_",
    "AF_",
    "PF_",
    "SOCK_",
    "SYS_",
    "LOCK_",
    # dirent types by name: linux/elf.h has DT_* dynamic-section tags too
    *(f"DT_{t}" for t in ("UNKNOWN", "FIFO", "CHR", "DIR", "BLK", "REG", "LNK", "SOCK", "WHT")),
    "UTIME_",
    "SPLICE_F_",
    "SYNC_FILE_RANGE_",
    "RWF_",
    "*_MAGIC",
    "__W",
    "NT_",
    "MINSIGSTKSZ",
    "SCHED_",
    "ARCH_",
    "LDT_",
    "MODIFY_LDT_",
    "KEYCTL_",
    "KEY_SPEC_",
    "KEY_REQKEY_DEFL_",
    "LANDLOCK_",
    # BPF: classic instruction fields (linux/bpf_common.h: seccomp filters and socket
    # filters are made of them), eBPF's additions, and bpf(2)'s commands, map and program
    # types and update flags; not its hundreds of helper, attach and flag names.
    *(f"BPF_{name}" for name in _BPF_NAMES.split()),
    # what a seccomp filter compares seccomp_data.arch with, for the arches tabled here
    *(f"AUDIT_ARCH_{a}" for a in ("X86_64", "I386", "AARCH64", "RISCV64")),
    "IOPRIO_",
    "MQ_",
    "NOTIFY_",
    "PERF_TYPE_",
    "PERF_COUNT_SW_",
    "PERF_FORMAT_",
    "PERF_FLAG_",
    "PERF_ATTR_SIZE_",
    "PKEY_",
    # ttys: asm-generic/ioctls.h requests, termbits.h flags and c_cc indices
    "TCGET",
    "TCSET",
    "TCFLSH",
    "TCIFLUSH",
    "TCOFLUSH",
    "TCIOFLUSH",
    "TCSA",
    "TCXONC",
    "TCSBRK",
    "TIOC",
    "FIO",
    "N_TTY",
    "ICANON",
    "ECHO",
    "ISIG",
    "IEXTEN",
    "OPOST",
    "ONLCR",
    "ICRNL",
    "IXON",
    "VMIN",
    "VTIME",
    "VEOF",
    "VINTR",
    "FAN_",
    "Q_",
    "QFMT_",
    "USRQUOTA",
    "GRPQUOTA",
    "PRJQUOTA",
    "MAXQUOTAS",
    "SUBCMD",
    "QIF_",
    "LINUX_REBOOT_",
    "KEXEC_",
    "MODULE_INIT_",
    "ADJ_",
    "STA_",
    "MOD_",
    "TIME_",
    "POSIX_FADV_",
    "ACCT_COMM",
    "FSCONFIG_",
    "FSPICK_",
    "IO_URING_",
    "MAX_HANDLE_SZ",
    "FILEID_",
    "SYSLOG_ACTION_",
    "SWAP_FLAG",
    "ERESTART",
    "MAXSYMLINKS",
    "__NR_",
)
# Kernel-internal headers whose simple #defines and enums user space relies on (AF_*,
# SOCK_*, MSG_*, ...): read as text, since they cannot be preprocessed outside a kernel build.
INTERNAL_HEADERS = (
    "include/linux/socket.h",
    "include/linux/net.h",
    "include/linux/eventfd.h",
    "include/linux/fs_types.h",  # DT_*
    "include/linux/stat.h",  # UTIME_NOW, UTIME_OMIT
    "include/linux/splice.h",  # SPLICE_F_*
    "include/linux/fs.h",  # MNT_DETACH, MNT_FORCE, MNT_EXPIRE (umount2 flags)
    "include/linux/exportfs.h",  # MAX_HANDLE_SZ, FILEID_* (file handle types)
    "include/linux/syslog.h",  # SYSLOG_ACTION_* (syslog(2) commands)
    "include/linux/swap.h",  # SWAP_FLAG_* (swapon(2) flags)
    "include/linux/errno.h",  # ERESTARTSYS & co: what a tracer sees in an interrupted call
    "include/linux/namei.h",  # MAXSYMLINKS: how many symlinks one path walk may follow
)


def is_linux_tree(tree: Path) -> bool:
    return (tree / "include/uapi/linux").is_dir() and (tree / "arch").is_dir()


def release(tree: Path) -> str:
    """The tree's version from its top Makefile (VERSION.PATCHLEVEL.SUBLEVEL)."""
    fields = dict(
        re.findall(
            r"^(VERSION|PATCHLEVEL|SUBLEVEL|EXTRAVERSION)[ \t]*=[ \t]*(\S*)",
            read_source(tree / "Makefile"),
            re.M,
        )
    )
    if not all(fields.get(k) for k in ("VERSION", "PATCHLEVEL", "SUBLEVEL")):
        return "unknown"
    return "{VERSION}.{PATCHLEVEL}.{SUBLEVEL}".format(**fields) + fields.get("EXTRAVERSION", "")


def read_tbl(path: Path, abis: tuple[str, ...]) -> dict[str, int]:
    """name -> number from a .tbl file (`nr abi name [entry [compat]]`), for these ABIs."""
    return {name: nr for name, (nr, _) in _tbl_rows(path, abis).items()}


def tbl_entries(path: Path, abis: tuple[str, ...]) -> list[sys_ni.Entry]:
    """Each syscall of a .tbl file with its entry points (native, compat)."""
    return [sys_ni.Entry(name, *entry) for name, (_, entry) in _tbl_rows(path, abis).items()]


def _tbl_rows(
    path: Path, abis: tuple[str, ...]
) -> dict[str, tuple[int, tuple[str | None, str | None]]]:
    rows: dict[str, tuple[int, tuple[str | None, str | None]]] = {}
    names: dict[int, str] = {}
    for n, line in enumerate(read_source(path).splitlines(), 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        number = _tbl_number(path, n, fields[0])  # a typo'd number lost its row unseen
        if len(fields) < 3:
            raise TreeError(f"{path}:{n}: expected <number> <abi> <name> [entry points]")
        if fields[1] in abis:
            name = fields[2]
            if not C_NAME.ok(name):
                raise TreeError(f"{path}:{n}: {name[:40]!r} is not a syscall name")
            if rows.get(name, (number,))[0] != number or names.get(number, name) != name:
                raise TreeError(f"{path}:{n}: {number} {name}: the number or name is taken")
            native = fields[3] if len(fields) > 3 else None
            compat = fields[4] if len(fields) > 4 else None
            rows[name], names[number] = (number, (native, compat)), name
    return rows


_NUMBER = re.compile(r"[0-9]{1,10}")  # ASCII digits: int() also takes "1_0" and "١"


def _tbl_number(path: Path, line: int, text: str) -> int:
    if not _NUMBER.fullmatch(text) or not SYSCALL_NUMBER.ok(int(text)):
        raise TreeError(f"{path}:{line}: {text[:40]!r} is not a syscall number")
    return int(text)


_GENERIC_CALL = re.compile(
    r"^\s*(__SYSCALL|__SC_COMP|__SC_3264|__SC_COMP_3264)\s*\(([^)]*)\)", re.M
)


def generic_entries(
    tree: Path, arch: Arch, syscalls: dict[str, int], values: dict[str, int]
) -> list[sys_ni.Entry]:
    """Entry points of an asm-generic arch (arm64, riscv), from the __SYSCALL(nr, sys_x)
    lines of asm-generic/unistd.h and the arch's own unistd.h, joined by number: the
    64-bit native entry (the second of __SC_3264's). __SC_COMP's compat entries serve
    32-bit tasks, which have a table of their own there."""
    by_number: dict[int, str] = {}
    for rel in (
        "include/uapi/asm-generic/unistd.h",
        f"arch/{arch.karch}/include/uapi/asm/unistd.h",
    ):
        path = tree / rel
        if not path.is_file():
            continue
        text = read_source(path).replace("\\\n", " ")
        numbers = dict(values)
        numbers.update(
            (k, int(v)) for k, v in re.findall(r"^#define\s+(__NR3264_\w+)\s+(\d+)\s*$", text, re.M)
        )
        for macro, args in _GENERIC_CALL.findall(text):
            parts = [a.strip() for a in args.split(",")]
            if parts[0] not in numbers:
                continue  # the macros' own definitions (_nr, _sys)
            native = {"__SYSCALL": 1, "__SC_COMP": 1, "__SC_3264": 2, "__SC_COMP_3264": 2}[macro]
            by_number.setdefault(numbers[parts[0]], parts[native])
    return [sys_ni.Entry(name, by_number.get(nr)) for name, nr in syscalls.items()]


def _generic_abis(tree: Path, arch: Arch) -> tuple[str, ...]:
    """ABIs for scripts/syscall.tbl: the arch's own from its Makefile.syscalls."""
    extra: list[str] = []
    mk = tree / f"arch/{arch.karch}/kernel/Makefile.syscalls"
    if mk.is_file():
        for m in re.finditer(r"^syscall_abis_64\s*\+?=\s*(.*)$", read_source(mk), re.M):
            extra.extend(m.group(1).split())
    return (*arch.abis, *extra)


def _shim_asm(tree: Path, arch: Arch, into: Path) -> None:
    """asm/<h> -> asm-generic/<h> for each header the arch does not provide.

    A kernel build generates these wrappers (Kbuild's generic-y); a clean tree has none.
    """
    asm = into / "asm"
    asm.mkdir()
    # headers_install deletes the uapi headers' includes of these kernel-internal headers.
    (into / "linux").mkdir()
    for name in ("compiler.h", "compiler_types.h"):
        (into / "linux" / name).write_text("")
    own = tree / f"arch/{arch.karch}/include/uapi/asm"
    for header in (tree / "include/uapi/asm-generic").glob("*.h"):
        if not (own / header.name).exists():
            (asm / header.name).write_text(f"#include <asm-generic/{header.name}>\n")


def generate(tree: Path, arch_name: str) -> Table:
    if arch_name not in ARCHES:
        raise TreeError(f"unknown Linux arch {arch_name!r} (known: {', '.join(ARCHES)})")
    arch = ARCHES[arch_name]
    version = release(tree)
    with tempfile.TemporaryDirectory(prefix="syscalls-tables-") as tmp:
        _shim_asm(tree, arch, Path(tmp))
        flags = [
            "-undef",
            "-nostdinc",
            "-D__EXPORTED_HEADERS__",
            *(f"-D{d}" for d in arch.defines),
            "-I",
            str(tree / f"arch/{arch.karch}/include/uapi"),
            "-I",
            str(tree / "include/uapi"),
            "-I",
            tmp,
        ]
        # Headers come and go between versions (eventfd.h became uapi in 6.9): take those there.
        dirs = (tree / f"arch/{arch.karch}/include/uapi", tree / "include/uapi", Path(tmp))
        headers = [
            h
            for h in HEADERS
            if any((d / h).is_file() for d in dirs) and (h != "asm/unistd.h" or arch.tbl is None)
        ]
        internal = [tree / h for h in INTERNAL_HEADERS if (tree / h).is_file()]
        try:
            errno = constants(["linux/errno.h"], flags, ["E"], stubs=Path(tmp))
            values = constants(
                headers,
                flags,
                PREFIXES,
                internal,
                stubs=Path(tmp),
                long_bits=64 if "__LP64__" in arch.defines else 32,
            )
        except CompilerMissing:
            raise  # its own message says what to install
        except RuntimeError as e:
            raise TreeError(f"{tree}: reading the uapi headers failed: {e}") from None
    consts = {k: v for k, v in values.items() if k not in errno and not k.startswith("__NR_")}
    sources = []
    if arch.tbl is not None:
        syscalls = read_tbl(tree / arch.tbl, arch.abis)
        entries = tbl_entries(tree / arch.tbl, arch.abis)
        sources.append(f"{arch.tbl} (Linux {version})")
    elif (tree / "scripts/syscall.tbl").is_file():
        syscalls = read_tbl(tree / "scripts/syscall.tbl", _generic_abis(tree, arch))
        entries = tbl_entries(tree / "scripts/syscall.tbl", _generic_abis(tree, arch))
        sources.append(f"scripts/syscall.tbl (Linux {version})")
    else:
        syscalls = {
            k[5:]: v
            for k, v in values.items()
            if k.startswith("__NR_")
            and k not in ("__NR_syscalls",)
            and not k.startswith("__NR_arch_specific")
        }
        entries = generic_entries(tree, arch, syscalls, values)
        sources.append(
            f"include/uapi/asm-generic/unistd.h via arch/{arch.karch} "
            f"asm/unistd.h (Linux {version})"
        )
    optional: dict[str, str] | None = None
    unimplemented: dict[str, str] = {}
    if (tree / sys_ni.SYS_NI).is_file():
        optional, unimplemented = sys_ni.classify(tree, arch.karch, entries)
        sources.append(
            f"{sys_ni.SYS_NI} (Linux {version}): syscalls a configuration may leave out; "
            "their options from the Makefiles and #ifdefs around their definitions"
        )
    sources.append(
        f"include/uapi and arch/{arch.karch}/include/uapi headers (Linux {version}): "
        f"errno, constants; {', '.join(INTERNAL_HEADERS)}: AF_*, SOCK_*, MSG_*, ERESTART*"
    )
    return Table(
        os="linux",
        arch=arch_name,
        syscalls=syscalls,
        errno=errno,
        constants=consts,
        optional=optional,
        unimplemented=unimplemented,
        release=version,
        sources=sources,
    )
