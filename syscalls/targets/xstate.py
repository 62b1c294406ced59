"""ptrace's XSAVE register set hidden from a program, for linux.uml on hosts where its
buffer for that set has the wrong size (x86_64 only).

Debian 12's UML 6.1 reads and writes each guest process's FP registers with
PTRACE_GETREGSET/SETREGSET NT_X86_XSTATE and a buffer of its own build's size, 2696
bytes (AVX-512 and PKRU included). The host kernel's xstateregs_set accepts a write of
exactly its own XSAVE size and nothing else (EFAULT; arch/x86/kernel/fpu/regset.c), so
on a host whose size differs -- ~11 KB with AMX -- the first guest process dies and UML
panics. UML probes the set once at boot (arch_init_registers) and, when the probe fails,
uses PTRACE_GETFPREGS/SETFPREGS (FXSAVE format: x87 and SSE) instead; the host accepts
those. So this module, as a program of its own,

    python -I -S xstate.py -- PROGRAM ARG...

installs a seccomp filter (with PR_SET_NO_NEW_PRIVS) that makes exactly ptrace(
PTRACE_GETREGSET or PTRACE_SETREGSET, any pid, NT_X86_XSTATE, ...) of x86_64 fail with
EIO, the errno of an unknown register set, and executes PROGRAM. The filter is inherited
by UML's host processes, and does not reach what the guest runs: a guest process's
syscalls stop for UML under PTRACE_SYSEMU before seccomp looks at them (kernel/entry/
common.c, syscall_trace_enter) and are never executed by the host; the host syscalls
UML's stub makes (mmap, munmap, mprotect, ...) are not ptrace.

The price: UML then keeps only the SSE part of its processes' vector registers, and we
measured that guest code using AVX/AVX-512 registers computes wrong results (busybox's
static glibc, with its EVEX string functions, crashes at start-up). The UML target
therefore turns glibc's AVX routines off in the guest (GUEST_TUNABLES, see uml.py).

host_size() measures the host's XSAVE size; standard library only, run with -I -S.
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

PTRACE_GETREGSET, PTRACE_SETREGSET = 0x4204, 0x4205
PTRACE_SEIZE, PTRACE_INTERRUPT, WALL = 0x4206, 0x4207, 0x40000000
NT_X86_XSTATE = 0x202
NR_PTRACE = 101  # x86_64
AUDIT_ARCH_X86_64 = 0xC000003E
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO = 0x7FFF0000, 0x00050000
EIO = 5
# classic BPF opcodes: BPF_LD|BPF_W|BPF_ABS, BPF_JMP|BPF_JEQ|BPF_K, BPF_RET|BPF_K
LD, JEQ, RET = 0x20, 0x15, 0x06
# struct seccomp_data offsets: nr, arch, args[0] (low and high word), args[2] (low)
NR, ARCH, ARG0_LO, ARG0_HI, ARG2_LO = 0, 4, 16, 20, 32
# Both answers are the last two instructions of the program (see program()).
DENY, ALLOW = "deny", "allow"
SETUP_FAILED = 125  # exit status when the filter could not be installed

_libc = ctypes.CDLL(None, use_errno=True)
_libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]


def program() -> bytes:
    """The filter, as struct sock_filter[]. The request is compared whole (sys_ptrace
    takes a long), the register set by its low 32 bits (ptrace_regset takes an
    unsigned int, so 0x1_00000202 is NT_X86_XSTATE too)."""
    steps: list[tuple[int, int, str | None, str | None]] = [
        (LD, ARCH, None, None),
        (JEQ, AUDIT_ARCH_X86_64, None, ALLOW),
        (LD, NR, None, None),
        (JEQ, NR_PTRACE, None, ALLOW),
        (LD, ARG0_HI, None, None),
        (JEQ, 0, None, ALLOW),
        (LD, ARG0_LO, None, None),
        (JEQ, PTRACE_GETREGSET, "regset", None),
        (JEQ, PTRACE_SETREGSET, None, ALLOW),
        (LD, ARG2_LO, None, None),  # "regset"
        (JEQ, NT_X86_XSTATE, None, ALLOW),
        (RET, SECCOMP_RET_ERRNO | EIO, None, None),  # DENY
        (RET, SECCOMP_RET_ALLOW, None, None),  # ALLOW
    ]
    labels = {"regset": 9, DENY: len(steps) - 2, ALLOW: len(steps) - 1}
    code = b""
    for i, (op, k, yes, no) in enumerate(steps):
        jt = labels[yes] - i - 1 if yes else 0
        jf = labels[no] - i - 1 if no else 0
        code += struct.pack("=HBBI", op, jt, jf, k)
    return code


class _Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install() -> None:
    """Install the filter on the calling thread (and what it will execute and fork)."""
    code = program()
    buf = ctypes.create_string_buffer(code, len(code))
    fprog = _Fprog(len(code) // 8, ctypes.addressof(buf))
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    if _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")


class _Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


def regset_size(pid: int, regset: int) -> int:
    """The size in bytes of a register set of a ptrace-stopped tracee of this thread
    (PTRACE_GETREGSET into a 64 KiB buffer shortens iov_len to it); OSError else."""
    buf = ctypes.create_string_buffer(1 << 16)
    iov = _Iovec(ctypes.addressof(buf), len(buf))
    if _libc.ptrace(PTRACE_GETREGSET, pid, regset, ctypes.byref(iov)) != 0:
        raise OSError(ctypes.get_errno(), "PTRACE_GETREGSET")
    return iov.len


def host_size() -> int | None:
    """The host's XSAVE state size as ptrace gives and takes it (NT_X86_XSTATE), read
    from a stopped child; None where there is none or it cannot be read (not x86_64, no
    XSAVE, ptrace not allowed: UML then has no use for the set or cannot run at all)."""
    if platform.machine() != "x86_64":
        return None
    child = subprocess.Popen(
        [sys.executable, "-I", "-S", "-c", "import signal; signal.pause()"],
        stdin=subprocess.DEVNULL,
    )
    try:
        if _libc.ptrace(PTRACE_SEIZE, child.pid, None, None) != 0:
            return None
        _libc.ptrace(PTRACE_INTERRUPT, child.pid, None, None)
        os.waitpid(child.pid, WALL)
        try:
            return regset_size(child.pid, NT_X86_XSTATE)
        except OSError:
            return None
    finally:
        child.kill()
        child.wait()


def command(program_argv: Sequence[str]) -> list[str]:
    """The argv that runs `program_argv` under the filter."""
    return [sys.executable, "-I", "-S", str(Path(__file__).resolve()), "--", *program_argv]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        print("usage: xstate.py -- PROGRAM [ARG]...", file=sys.stderr)
        return 2
    try:
        install()
    except OSError as e:
        print(f"syscalls: cannot install the seccomp filter: {e}", file=sys.stderr)
        return SETUP_FAILED
    try:
        os.execvp(args[0], args)
    except OSError as e:
        print(f"syscalls: {args[0]}: {e.strerror}", file=sys.stderr)
        return 127
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
