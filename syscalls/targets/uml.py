"""--target uml: the suite under User-Mode Linux (Debian package user-mode-linux).

`linux.uml` is a Linux kernel that runs as an ordinary host process. It boots with the
host's root file system over hostfs, which opens host paths with linux.uml's own
syscalls: so linux.uml runs where every host file system is read-only but the results
directory (syscalls.targets.readonly), and a guest that remounts its root read-write
still writes nothing else on the host. Our init (a busybox script in a private
host directory) mounts /proc, /sys, /dev/{pts,shm,mqueue}, tmpfs on /tmp and /run, the
results directory read-write over hostfs at its own path, brings up loopback, runs
guest.sh (the suite, syscalls.targets.guest) and powers off. UML exits 0 after any clean
power-off, so the suite's status comes from the results directory; when init dies the
kernel panics and UML exits by itself (TARGETS-NOTES.md: status 134 within ~1.5 s).

On a host whose XSAVE state is not the size linux.uml was built for (2696 bytes; 11008
here, with AMX), UML 6.1 cannot write its processes' FP registers and panics at
the first one. There linux.uml starts under syscalls.targets.xstate's seccomp filter,
which hides ptrace's XSAVE register set from it, so that it keeps them in FXSAVE format
(x87 and SSE) instead. That loses the AVX and AVX-512 registers of guest processes
(measured: busybox's static glibc crashes at start-up with its EVEX string functions),
so the guest then runs with glibc's AVX routines off (GUEST_TUNABLES, in init's
environment and so every guest process's). Limitation: other code that uses those
registers on its own (OpenSSL's, a program built for x86-64-v3) may compute wrong results
in the guest there; the suite's own code does not (Debian's CPython, cffi and libffi have
no AVX instruction; glibc's are off). A host whose
size matches runs UML unchanged.

UML is uniprocessor; the default `-n auto` still forks two workers inside (its one CPU
and one more): while one test waits (on a child, a timer) the other runs -- the smoke
selection 18 s instead of 22 s, the whole suite 173 s instead of 259 s. Its scratch
files (the guest's memory file, uml_dir) go on a tmpfs private to its mount namespace,
gone when it exits.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
from pathlib import Path

from syscalls import kconfig
from syscalls.targets import Options, TargetUnavailable, readonly, results, xstate
from syscalls.targets.guest import (
    TARGET_FAILED,
    Limits,
    bytecode_job,
    check_out,
    kept,
    kernel_config,
    launch,
    write_script,
)

NAME = "uml"
BINARY = "linux.uml"
# Debian's user-mode-linux: its kernel's configuration, for the guest's ENOSYS verdicts
DEBIAN_BINARY = Path("/usr/bin/linux.uml")
DEBIAN_CONFIG = Path("/usr/share/doc/user-mode-linux/config.gz")
BUSYBOX = "/bin/busybox"  # Debian busybox-static: the init needs no host tools beyond it
TIME_SCALE = 3.0  # a syscall costs ~30x native, a fork much more: stretch waits
TEST_TIMEOUT = 300.0
BOOT_LIMIT = 60.0
TIME_LIMIT = 3600.0
MEMORY_MB = 1024  # guest memory unless --memory says otherwise
# UML 6.1 sets each process's FP registers with PTRACE_SETREGSET NT_X86_XSTATE and a
# buffer of this size (Debian's linux.uml, measured with strace); the host kernel wants
# exactly its own XSAVE size (arch/x86/kernel/fpu/regset.c): else the first process dies.
UML_XSTATE_SIZE = 2696
CANNOT_SAVE_FP = b"ptrace set fp regs failed"
# glibc 2.36's names (older ones such as AVX2_Usable are ignored): every AVX and AVX-512
# routine off, AVX_Fast_Unaligned_Load too (memmove's AVX variants check only that).
GUEST_TUNABLES = (
    "glibc.cpu.hwcaps=-AVX,-AVX2,-AVX512F,-AVX512VL,-AVX512BW,-AVX512DQ,-AVX512CD,"
    "-FMA,-FMA4,-AVX_Fast_Unaligned_Load"
)

INIT = """#!{busybox} sh
# PID 1 of the UML guest, on the host's root over hostfs (read-only); by syscalls.
B={busybox}
$B mount -t proc proc /proc
$B mount -t sysfs sysfs /sys
$B grep -q "^[^ ]* /dev " /proc/mounts || $B mount -t devtmpfs devtmpfs /dev
$B mkdir -p /dev/pts /dev/shm /dev/mqueue
$B mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
$B mount -t tmpfs -o mode=1777 tmpfs /dev/shm
$B mount -t mqueue mqueue /dev/mqueue 2>/dev/null
$B mount -t tmpfs -o mode=1777 tmpfs /tmp
$B mount -t tmpfs -o mode=755 tmpfs /run
{keep}$B mkdir -p {out}
if ! $B mount -t hostfs -o {out} hostfs {out}; then
    echo "syscalls-init: cannot mount the results directory {out} over hostfs"
    $B poweroff -f
fi
$B ip link set lo up
$B hostname syscalls-uml
/bin/sh {script}
$B sync
$B poweroff -f
"""


def keep() -> str:
    """Init lines that mount a checkout under /tmp or /run again over the tmpfs."""
    lines = ""
    for path in map(shlex.quote, map(str, kept())):
        lines += f"$B mkdir -p {path}\n$B mount -r -t hostfs -o {path} hostfs {path}\n"
    return lines


def command(
    binary: str, init: Path, scratch: Path, memory_mb: int, fxsave: bool = False
) -> list[str]:
    """linux.uml's argv; with `fxsave`, under the filter that makes it keep its processes'
    FP registers in FXSAVE format, and its guest without glibc's AVX routines."""
    argv = [
        binary,
        f"mem={memory_mb}M",
        "root=/dev/root",
        "rootfstype=hostfs",
        "rootflags=/",
        "ro",
        f"init={init}",
        f"uml_dir={scratch}",
        "con=null",
        "con0=fd:0,fd:1",
        "ssl=null",
        "quiet",
    ]
    if fxsave:  # a K=V kernel argument reaches init's environment
        return xstate.command([*argv, f"GLIBC_TUNABLES={GUEST_TUNABLES}"])
    return argv


def needs_fxsave() -> bool:
    """Whether this host's XSAVE size is not the one linux.uml was built for."""
    size = xstate.host_size()
    return size is not None and size != UML_XSTATE_SIZE


def run(opts: Options) -> int:
    binary = shutil.which(BINARY)
    if binary is None:
        raise TargetUnavailable(f"{BINARY} not found (Debian package user-mode-linux)")
    if not os.path.exists(BUSYBOX):
        raise TargetUnavailable(f"{BUSYBOX} not found (Debian package busybox-static)")
    if "," in str(opts.out):
        raise TargetUnavailable(f"{opts.out}: hostfs cannot mount a path with a comma")
    check_out(opts.out)
    why = readonly.available()
    if why is not None:  # hostfs has no read-only mode of its own
        raise TargetUnavailable(f"{why}: linux.uml would reach the host root writable")
    results.clear(opts.out)
    scale = opts.time_scale or TIME_SCALE
    job = bytecode_job(opts, NAME)
    config = kconfig.load(DEBIAN_CONFIG) if Path(binary).resolve() == DEBIAN_BINARY else None
    env = kernel_config(config, opts.out, opts.out)  # the guest sees OUT where it is
    script = write_script(opts, NAME, TEST_TIMEOUT, scale, job=job, extra_env=env)
    limits = Limits(boot=BOOT_LIMIT, test=TEST_TIMEOUT + 60, total=opts.time_limit or TIME_LIMIT)
    out = shlex.quote(str(opts.out))
    with tempfile.TemporaryDirectory(prefix="syscalls-uml-") as tmp:
        scratch = Path(tmp)
        init = scratch / "init"
        init.write_text(
            INIT.format(busybox=BUSYBOX, out=out, script=shlex.quote(str(script)), keep=keep())
        )
        init.chmod(0o755)
        # UML's scratch files -- the guest's memory (a file in TMPDIR), uml_dir -- go on
        # a tmpfs private to its mount namespace; on the host it writes only opts.out.
        private = scratch / "run"
        private.mkdir()
        env = {**os.environ, "TMPDIR": str(private)}
        argv = command(binary, init, private, opts.memory_mb or MEMORY_MB, fxsave=needs_fxsave())
        confined = readonly.command(argv, writable=[opts.out], tmpfs=[private])
        status = launch(opts, NAME, confined, limits, env=env, job=job)
    if status == TARGET_FAILED and CANNOT_SAVE_FP in (
        results.read_guest(opts.out / results.CONSOLE) or b""
    ):
        raise TargetUnavailable(
            f"{BINARY} cannot run on this CPU: the host refuses (EFAULT) every write of a "
            "process's FP registers from the buffer this UML has for them, whose size is "
            f"not the host's XSAVE size ({xstate.host_size()} bytes), and init dies"
        )
    return status
