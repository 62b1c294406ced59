"""seccomp(2): strict mode, and filter mode with classic BPF programs built from the
kernel's own constants (linux/filter.h, linux/seccomp.h, linux/audit.h).

A filter sees struct seccomp_data (nr, arch, instruction pointer, six arguments) and
returns an action: ALLOW, ERRNO with its errno in the low 16 bits (capped at 4095),
TRAP (SIGSYS with si_code SYS_SECCOMP, si_syscall, si_arch and the data as si_errno),
KILL_PROCESS (the process dies of SIGSYS), LOG. With several filters the most
restrictive action wins, and among equal actions the newest filter's. A user needs
no_new_privs to install one (EACCES without); root (CAP_SYS_ADMIN) does not.

Filters are never removed, so every one is installed in a child; those whose action
kills, in a raw-forked grandchild without core dumps. The filtered call is getppid,
which nothing else in a child makes. TRAP's SIGSYS is caught by a C-level handler that
cffi makes from a Python function, installed with the C library's sigaction, to read
the siginfo the kernel wrote.
"""

import errno
import os
import resource
import signal
from typing import Any

import cffi
import pytest

from syscalls import forking
from syscalls.kernel import Kernel

pytestmark = [pytest.mark.os("linux"), pytest.mark.min_kernel("3.17")]

AS_USER = pytest.mark.as_user("root installs filters without no_new_privs (CAP_SYS_ADMIN)")
AUDIT_ARCH = {
    "x86_64": "AUDIT_ARCH_X86_64",
    "i386": "AUDIT_ARCH_I386",
    "aarch64": "AUDIT_ARCH_AARCH64",
    "riscv64": "AUDIT_ARCH_RISCV64",
}
NR, ARCH, ARG0 = 0, 4, 16  # offsets in struct seccomp_data (little-endian: arg's low half)
ENOTTY = 25


def _arch(kernel: Kernel) -> int:
    return getattr(kernel, AUDIT_ARCH[kernel.platform.arch])


def _program(kernel: Kernel, insns: list[tuple[int, int, int, int]]) -> Any:
    """A struct sock_fprog over these (code, jt, jf, k) instructions."""
    filt = kernel.new("struct sock_filter[]", insns)
    return kernel.new("struct sock_fprog *", [len(insns), filt]), filt


def _on_syscall(kernel: Kernel, name: str, action: int, arg0: int | None = None) -> list:
    """Instructions: `action` for syscall `name` (with args[0] == arg0, if given) on this
    arch, ALLOW for everything else."""
    k = kernel
    ld, jeq, ret = (
        k.BPF_LD | k.BPF_W | k.BPF_ABS,
        k.BPF_JMP | k.BPF_JEQ | k.BPF_K,
        k.BPF_RET | k.BPF_K,
    )
    check_arg = [] if arg0 is None else [(ld, 0, 0, ARG0), (jeq, 0, 1, arg0)]
    tail = [(ret, 0, 0, action), (ret, 0, 0, k.SECCOMP_RET_ALLOW)]
    skip = len(check_arg) + 1  # from the nr test to ALLOW
    return [
        (ld, 0, 0, ARCH),
        (jeq, 0, 2 + skip, _arch(k)),
        (ld, 0, 0, NR),
        (jeq, 0, skip, k.platform.syscalls[k.platform.resolve(name)]),
        *check_arg,
        *tail,
    ]


def _install(kernel: Kernel, insns: list, flags: int = 0, nnp: bool = True) -> str:
    if nnp:
        kernel.prctl(kernel.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0).unwrap()
    prog, _keep = _program(kernel, insns)
    return kernel.seccomp(kernel.SECCOMP_SET_MODE_FILTER, flags, prog).outcome


def _errno(kernel: Kernel, value: int) -> int:
    return kernel.SECCOMP_RET_ERRNO | value


def _grandchild_status(kernel: Kernel, body) -> int:
    """Run body in a raw-forked child without core dumps; the signal that killed it, or
    minus its exit code."""

    def child() -> int:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        return body()

    status = forking.wait(kernel, forking.fork(kernel, child))
    return os.WTERMSIG(status) if os.WIFSIGNALED(status) else -os.WEXITSTATUS(status)


# Strict mode: read, write, exit and rt_sigreturn only. On x86 it also turns the TSC off
# (TIF_NOTSC: rdtsc faults), which the interpreter's own clock reads (the vDSO's
# clock_gettime) would hit: after entering it the child makes only raw calls prepared
# beforehand, through the C library's syscall(), which `syscalls list` is told of.


def _raw(kernel: Kernel, name: str, *args: Any) -> tuple:
    """syscall()'s arguments for `name(*args)`, every one made a C value in advance."""
    number = kernel.platform.syscalls[kernel.platform.resolve(name)]
    cast = kernel.ffi.cast
    return (cast("long", number), *(cast("long", a) if isinstance(a, int) else a for a in args))


@pytest.mark.calls("seccomp", "write", "getpid")
def test_strict_mode_allows_write_and_kills_on_anything_else(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, bytes]:
        rfd, wfd = os.pipe()
        text = kernel.buf(b"written")
        steps = [
            _raw(kernel, "seccomp", kernel.SECCOMP_SET_MODE_STRICT, 0, kernel.ffi.NULL),
            _raw(kernel, "write", wfd, text, 7),
            _raw(kernel, "getpid"),  # not allowed: SIGKILL
        ]
        syscall = kernel.libc.syscall

        def body() -> int:
            for step in steps:
                syscall(*step)
            return 5

        died = _grandchild_status(kernel, body)
        os.close(wfd)
        return died, os.read(rfd, 64)

    assert in_child(run) == (signal.SIGKILL, b"written")


@pytest.mark.calls("seccomp", "exit")
def test_strict_mode_allows_exit(kernel: Kernel, in_child) -> None:
    def run() -> int:
        strict = _raw(kernel, "seccomp", kernel.SECCOMP_SET_MODE_STRICT, 0, kernel.ffi.NULL)
        leave = _raw(kernel, "exit", 7)  # the thread's exit, not exit_group
        syscall = kernel.libc.syscall

        def body() -> int:
            syscall(*strict)
            syscall(*leave)
            return 5

        return _grandchild_status(kernel, body)

    assert in_child(run) == -7


def test_strict_mode_with_flags_is_einval(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: kernel.seccomp(kernel.SECCOMP_SET_MODE_STRICT, 1, None).outcome) == (
        "EINVAL"
    )


# Filter mode


def test_filter_errno_action_returns_its_errno(kernel: Kernel, in_child) -> None:
    def run() -> tuple[str, str, int]:
        installed = _install(kernel, _on_syscall(kernel, "getppid", _errno(kernel, ENOTTY)))
        return installed, kernel.getppid().outcome, kernel.getpid().unwrap() - os.getpid()

    assert in_child(run) == ("ok", "ENOTTY", 0)


def test_filter_errno_above_max_errno_is_capped_at_4095(kernel: Kernel, in_child) -> None:
    def run() -> int | str:
        _install(kernel, _on_syscall(kernel, "getppid", _errno(kernel, 5000)))
        r = kernel.getppid()
        return r.outcome if r.errno is None else int(r.errno)

    assert in_child(run) == 4095


def test_filter_checks_the_arguments(kernel: Kernel, in_child) -> None:
    """getpriority(which, who): refused only for which == PRIO_PGRP."""

    def run() -> tuple[str, str]:
        action = _errno(kernel, ENOTTY)
        _install(kernel, _on_syscall(kernel, "getpriority", action, arg0=kernel.PRIO_PGRP))
        pgrp = kernel.getpriority(kernel.PRIO_PGRP, 0).outcome
        return pgrp, kernel.getpriority(kernel.PRIO_PROCESS, 0).outcome

    assert in_child(run) == ("ENOTTY", "ok")


def test_filter_kill_process_kills_with_sigsys(kernel: Kernel, in_child) -> None:
    def run() -> int:
        def body() -> int:
            _install(kernel, _on_syscall(kernel, "getppid", kernel.SECCOMP_RET_KILL_PROCESS))
            kernel.getppid()
            return 5

        return _grandchild_status(kernel, body)

    assert in_child(run) == signal.SIGSYS


def test_filter_kill_thread_of_a_single_thread_kills_the_process(kernel: Kernel, in_child) -> None:
    def run() -> int:
        def body() -> int:
            _install(kernel, _on_syscall(kernel, "getppid", kernel.SECCOMP_RET_KILL_THREAD))
            kernel.getppid()
            return 5

        return _grandchild_status(kernel, body)

    assert in_child(run) == signal.SIGSYS


_c = cffi.FFI()
_c.cdef(
    """
    struct libc_sigaction { void *handler; uint64_t mask[16]; int flags; void *restorer; };
    int sigaction(int, const struct libc_sigaction *, struct libc_sigaction *);
    """
)
_C = _c.dlopen(None)


@pytest.mark.requires("syscall_rollback")
def test_filter_trap_delivers_sigsys_with_the_syscall(kernel: Kernel, in_child) -> None:
    """The C library's struct sigaction (handler, 128-byte mask, flags, restorer on the
    arches here): SA_SIGINFO hands the handler the kernel's siginfo."""

    def run() -> tuple[int, ...]:
        seen: list[tuple[int, ...]] = []

        def handler(signo: int, info: Any, _context: Any) -> None:
            si = kernel.ffi.cast("siginfo_t *", int(_c.cast("uintptr_t", info)))
            seen.append((si.si_signo, si.si_code, si.si_errno, si.si_syscall, si.si_arch))

        callback = _c.callback("void(int, void *, void *)", handler)
        act = _c.new("struct libc_sigaction *")
        act.handler, act.flags = callback, kernel.SA_SIGINFO
        assert _C.sigaction(signal.SIGSYS, act, _c.NULL) == 0
        _install(kernel, _on_syscall(kernel, "getppid", kernel.SECCOMP_RET_TRAP | 42))
        kernel.getppid()
        return seen[0] if seen else ()

    nr = kernel.platform.syscalls["getppid"]
    assert in_child(run) == (signal.SIGSYS, kernel.SYS_SECCOMP, 42, nr, _arch(kernel))


@pytest.mark.calls("getppid")
def test_filter_trace_without_a_tracer_fails_the_call_with_enosys(kernel: Kernel, in_child) -> None:
    """SECCOMP_RET_TRACE hands the call to a tracer that asked for PTRACE_O_TRACESECCOMP;
    with none the call is skipped and answers ENOSYS. getppid is made through the C
    library's syscall(), since ENOSYS from kernel.getppid would be judged a lost syscall."""

    def run() -> tuple[str, int, int]:
        installed = _install(kernel, _on_syscall(kernel, "getppid", kernel.SECCOMP_RET_TRACE))
        ret = kernel.libc.syscall(*_raw(kernel, "getppid"))
        return installed, ret, kernel.ffi.errno

    assert in_child(run) == ("ok", -1, errno.ENOSYS)


@pytest.mark.min_kernel("5.0")
def test_new_listener_returns_a_close_on_exec_fd(kernel: Kernel, in_child) -> None:
    """SECCOMP_FILTER_FLAG_NEW_LISTENER: the filter's notification fd is the call's
    answer, opened O_CLOEXEC."""

    def run() -> int:
        kernel.prctl(kernel.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0).unwrap()
        allow = [(kernel.BPF_RET | kernel.BPF_K, 0, 0, kernel.SECCOMP_RET_ALLOW)]
        prog, _keep = _program(kernel, allow)
        flag = kernel.SECCOMP_FILTER_FLAG_NEW_LISTENER
        fd = kernel.seccomp(kernel.SECCOMP_SET_MODE_FILTER, flag, prog).unwrap()
        return kernel.fcntl(fd, kernel.F_GETFD, 0).unwrap() & kernel.FD_CLOEXEC

    assert in_child(run) == kernel.FD_CLOEXEC


def test_filter_log_action_lets_the_call_run(kernel: Kernel, in_child) -> None:
    def run() -> int:
        _install(kernel, _on_syscall(kernel, "getppid", kernel.SECCOMP_RET_LOG))
        return kernel.getppid().unwrap() - os.getppid()

    assert in_child(run) == 0


def test_newest_filter_wins_between_equal_actions(kernel: Kernel, in_child) -> None:
    def run() -> str:
        _install(kernel, _on_syscall(kernel, "getppid", _errno(kernel, 1)))
        _install(kernel, _on_syscall(kernel, "getppid", _errno(kernel, ENOTTY)))
        return kernel.getppid().outcome

    assert in_child(run) == "ENOTTY"


def test_most_restrictive_filter_wins(kernel: Kernel, in_child) -> None:
    """An older ERRNO is not lifted by a newer ALLOW-everything filter."""

    def run() -> str:
        _install(kernel, _on_syscall(kernel, "getppid", _errno(kernel, ENOTTY)))
        _install(kernel, [(kernel.BPF_RET | kernel.BPF_K, 0, 0, kernel.SECCOMP_RET_ALLOW)])
        return kernel.getppid().outcome

    assert in_child(run) == "ENOTTY"


def test_filter_is_inherited_by_fork(kernel: Kernel, in_child) -> None:
    def run() -> int:
        _install(kernel, _on_syscall(kernel, "getppid", _errno(kernel, ENOTTY)))
        pid = forking.fork(kernel, lambda: 0 if kernel.getppid().errno == "ENOTTY" else 1)
        return forking.exit_code(kernel, pid)

    assert in_child(run) == 0


def test_prctl_get_seccomp_reports_filter_mode(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        before = kernel.prctl(kernel.PR_GET_SECCOMP, 0, 0, 0, 0).unwrap()
        _install(kernel, [(kernel.BPF_RET | kernel.BPF_K, 0, 0, kernel.SECCOMP_RET_ALLOW)])
        return before, kernel.prctl(kernel.PR_GET_SECCOMP, 0, 0, 0, 0).unwrap()

    assert in_child(run) == (kernel.SECCOMP_MODE_DISABLED, kernel.SECCOMP_MODE_FILTER)


@AS_USER
def test_filter_without_no_new_privs_as_a_user_is_eacces(kernel: Kernel, in_child) -> None:
    allow = [(kernel.BPF_RET | kernel.BPF_K, 0, 0, kernel.SECCOMP_RET_ALLOW)]
    assert in_child(lambda: _install(kernel, allow, nnp=False)) == "EACCES"


@pytest.mark.root
def test_filter_without_no_new_privs_as_root_is_installed(kernel: Kernel, in_child) -> None:
    def run() -> tuple[str, str]:
        installed = _install(kernel, _on_syscall(kernel, "getppid", _errno(kernel, 1)), nnp=False)
        return installed, kernel.getppid().outcome

    assert in_child(run) == ("ok", "EPERM")


@pytest.mark.parametrize(
    "insns",
    [
        pytest.param([], id="empty"),
        pytest.param([(0xFFFF, 0, 0, 0)], id="unknown-opcode"),
        pytest.param([(0x20, 0, 0, 0)], id="no-return"),  # BPF_LD|BPF_W|BPF_ABS alone
        pytest.param([(0x20, 0, 0, 3), (0x06, 0, 0, 0)], id="misaligned-load"),
        pytest.param([(0x20, 0, 0, 64), (0x06, 0, 0, 0)], id="load-past-seccomp-data"),
        pytest.param([(0x15, 5, 5, 0), (0x06, 0, 0, 0)], id="jump-out-of-the-program"),
    ],
)
def test_filter_that_fails_the_checker_is_einval(kernel: Kernel, in_child, insns: list) -> None:
    assert in_child(lambda: _install(kernel, insns)) == "EINVAL"


def test_filter_longer_than_bpf_maxinsns_is_einval(kernel: Kernel, in_child) -> None:
    ret = (kernel.BPF_RET | kernel.BPF_K, 0, 0, kernel.SECCOMP_RET_ALLOW)
    insns = [ret] * (kernel.BPF_MAXINSNS + 1)
    assert in_child(lambda: _install(kernel, insns)) == "EINVAL"


def test_filter_with_unknown_flags_is_einval(kernel: Kernel, in_child) -> None:
    allow = [(kernel.BPF_RET | kernel.BPF_K, 0, 0, kernel.SECCOMP_RET_ALLOW)]
    assert in_child(lambda: _install(kernel, allow, flags=1 << 30)) == "EINVAL"


def test_seccomp_unknown_operation_is_einval(kernel: Kernel) -> None:
    assert kernel.seccomp(42, 0, None).errno == "EINVAL"


@pytest.mark.parametrize(
    "action",
    [
        "SECCOMP_RET_KILL_PROCESS",
        "SECCOMP_RET_KILL_THREAD",
        "SECCOMP_RET_TRAP",
        "SECCOMP_RET_ERRNO",
        "SECCOMP_RET_USER_NOTIF",
        "SECCOMP_RET_TRACE",
        "SECCOMP_RET_LOG",
        "SECCOMP_RET_ALLOW",
    ],
)
def test_get_action_avail_knows_every_action(kernel: Kernel, action: str) -> None:
    value = kernel.new("uint32_t *", getattr(kernel, action))
    assert kernel.seccomp(kernel.SECCOMP_GET_ACTION_AVAIL, 0, value).unwrap() == 0


def test_get_action_avail_of_an_unknown_action_is_eopnotsupp(kernel: Kernel) -> None:
    value = kernel.new("uint32_t *", 0x7FF00000 - 0x10000)  # between TRACE and ALLOW
    assert kernel.seccomp(kernel.SECCOMP_GET_ACTION_AVAIL, 0, value).errno == "EOPNOTSUPP"


def test_get_notif_sizes_reports_seccomp_data(kernel: Kernel) -> None:
    sizes = kernel.new("uint16_t[3]")  # struct seccomp_notif_sizes
    kernel.seccomp(kernel.SECCOMP_GET_NOTIF_SIZES, 0, sizes).unwrap()
    assert sizes[2] == kernel.ffi.sizeof("struct seccomp_data")
    assert sizes[0] >= 16 + sizes[2] and sizes[1] >= 24  # notif, notif_resp
