"""Kernel: calls system calls through cffi in ABI mode (no compiler, no build step).

    k = Kernel(Platform.load())
    r = k.openat(k.AT_FDCWD, b"/etc/passwd", k.O_RDONLY)
    r.value, r.errno            # 3, None   or   -1, Errno(ENOENT)

A call never raises for a kernel error: tests assert on errno as often as on success.
A syscall the table lacks raises Unsupported, which the pytest glue turns into a skip
that names the reason. ENOSYS is judged by syscalls.enosys: from a syscall this kernel
may lack, Unsupported (a skip naming the CONFIG_ option, or the target's reason); from
one every kernel has, MissingSyscall, a failure.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import cffi

from syscalls import enosys, kconfig
from syscalls.abi import Platform, PlatformError
from syscalls.cache import ffi_for


class Unsupported(Exception):
    """The syscall is not in this platform's table, or the kernel said ENOSYS."""


class MissingSyscall(AssertionError):
    """ENOSYS from a syscall every kernel of this OS has: the kernel lost it."""


class MissingConstant(Unsupported, AttributeError):
    """A constant this platform's table does not have (hasattr() answers False)."""


class Errno(int):
    """An errno number that prints by name and compares by name: Errno(2) == "ENOENT"."""

    platform: Platform

    def __new__(cls, number: int, platform: Platform) -> Errno:
        self = super().__new__(cls, number)
        self.platform = platform
        return self

    @property
    def name(self) -> str:
        return self.platform.errno_name(int(self))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            number = self.platform.errno.get(other)
            if number is None:
                raise KeyError(f"{other} is not an errno name on {self.platform.name}")
            return int(self) == number
        return int(self) == other

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = int.__hash__

    def __reduce__(self) -> tuple:  # results cross from in_child processes pickled
        return (Errno, (int(self), self.platform))

    def __repr__(self) -> str:
        return self.name

    __str__ = __repr__


@dataclass(frozen=True)
class Result:
    """What the kernel answered: the return value and, on failure, the errno."""

    name: str
    value: int
    errno: Errno | None

    @property
    def ok(self) -> bool:
        return self.errno is None

    def unwrap(self) -> int:
        """The value; a failed call fails the test with the syscall and errno named."""
        if self.errno is not None:
            raise AssertionError(f"{self.name} failed: {self.errno.name}")
        return self.value

    @property
    def outcome(self) -> str:
        """ "ok" or the errno name: what the semantics profile records."""
        return "ok" if self.errno is None else self.errno.name

    def __repr__(self) -> str:
        return f"{self.name} -> {self.value if self.ok else self.outcome}"


Observer = Callable[[Result], None]

# Linux arches whose clone(2) takes (flags, stack, parent_tid, tls, child_tid)
# (CONFIG_CLONE_BACKWARDS; i386's own adapter in abi_i386 does the same). Callers use
# x86_64's order, (flags, stack, parent_tid, child_tid, tls), on every arch.
CLONE_BACKWARDS = {"aarch64", "riscv64"}


def _clone_backwards(name: str, args: tuple) -> tuple[str, tuple]:
    if len(args) != 5:
        raise TypeError("clone takes 5 arguments (flags, stack, parent_tid, child_tid, tls)")
    flags, stack, parent_tid, child_tid, tls = args
    return name, (flags, stack, parent_tid, tls, child_tid)


_BASE_CDEF = "long syscall(long number, ...);\n"


def declarations(platform: Platform) -> cffi.FFI:
    """An FFI with the platform's C declarations (ABI mode: parsed, never compiled).

    A declaration cffi cannot take is a PlatformError naming the table and the .h file,
    with the line where cffi gives one."""
    try:
        # Parsed once per table and kept (syscalls.cache): most of a start-up under TCG.
        return ffi_for(_BASE_CDEF + platform.cdef, platform.cdef_packed)
    except Exception as e:  # cffi's parser raises CDefError, FFIError and others
        raise PlatformError(f"{platform.table}: C declarations: {_culprit(platform, e)}") from None


def _culprit(platform: Platform, error: Exception) -> str:
    """cffi's complaint about the first file it cannot take, on one line, naming it.

    The files are declared again one at a time (only on this path: one text parses
    faster), so that a brace left open is blamed on its file, not the next one. Each
    starts with the `# 1 "file"` marker Platform.load put there, which cffi quotes in
    most of its messages; where it does not, the file is added."""
    ffi = cffi.FFI()
    ffi.cdef(_BASE_CDEF)
    parts = [(text, False) for text in re.split(r'^(?=# 1 ")', platform.cdef, flags=re.M)]
    parts.append((platform.cdef_packed, True))
    where = ""
    for text, packed in parts:
        try:
            if text:
                ffi.cdef(text, packed=packed)
        except Exception as e:
            error = e
            marker = re.match(r'# 1 "(.*)"', text)
            where = marker.group(1) if marker else ""
            break
    message = " ".join(str(error).replace("\n", ": ").split())
    return message if where in message else f"{message} (in {where})"


def load_checked(spec: str | None) -> Platform:
    """Platform.load, and its C declarations compiled: for a table a user names, so that
    a bad one stops a command before it runs anything (PlatformError)."""
    platform = Platform.load(spec)
    declarations(platform)
    return platform


# Per target (a kernel that is not mainline Linux on real hardware): what it lacks that
# @pytest.mark.requires(feature) tests need, and why. Each is the target's own behaviour,
# checked in its source; the tests keep asserting Linux's answer everywhere else.
TARGET_ABSENT_FEATURES: dict[str, dict[str, str]] = {
    # Debian's user-mode-linux 6.1, from /var/tmp/linux-source-6.1 (arch/um, arch/x86/um).
    "uml": {
        "ptrace_regsets": "User-Mode Linux has no ptrace register sets or syscall info "
        "(no CONFIG_HAVE_ARCH_TRACEHOOK): PTRACE_GETREGSET and PTRACE_GET_SYSCALL_INFO "
        "answer EIO",
        "ptrace_sysemu": "User-Mode Linux refuses PTRACE_SYSEMU with EIO (arch/um/kernel/ptrace.c)",
        "user_area_checks": "User-Mode Linux's PTRACE_PEEKUSER/POKEUSER read 0 past the "
        "registers and accept any segment selector or fs_base (arch/x86/um/ptrace_64.c)",
        "debug_registers": "User-Mode Linux has no hardware breakpoints: the debug "
        "registers of its USER area are unchecked words (stored at byte, not word, "
        "indices) that never stop a tracee (arch/x86/um/ptrace_64.c)",
        "arch_prctl_codes": "User-Mode Linux forwards arch_prctl to the host's "
        "PTRACE_ARCH_PRCTL, which knows only the FS/GS codes, and answers EPERM for any "
        "other (arch/x86/um/syscalls_64.c, os-Linux/prctl.c)",
        "nx": "User-Mode Linux maps every readable user page executable (pte_exec in "
        "arch/um/include/asm/pgtable.h)",
        "uffd_kernel_faults": "User-Mode Linux faults user pages in for its own copies as "
        "user faults (maybe_map in arch/um/kernel/skas/uaccess.c): UFFD_USER_MODE_ONLY "
        "does not exempt them, and the copy waits for a handler",
        "syscall_rollback": "User-Mode Linux does not roll a trapped syscall's registers "
        "back (syscall_rollback is empty in arch/um): SECCOMP_RET_TRAP leaves ENOSYS",
    },
}


class Kernel:
    """The syscalls of one platform, called on the running kernel.

    Attribute access is the interface: k.read(fd, buf, n) calls the syscall `read`;
    k.O_CREAT and k.ENOENT are the table's constants; k.ffi allocates memory.
    """

    # True where the kernel runs inside this process (rump): fork and the host's own
    # file system are then not the tested kernel's.
    in_process = False
    # Suite areas that do not apply to this kernel, with the reason their tests skip.
    absent_areas: dict[str, str] = {}  # noqa: RUF012 - read-only, overridden per class
    # What this kernel lacks that @pytest.mark.requires(feature) tests need, and why
    # (and TARGET_ABSENT_FEATURES for a target's kernel, set with `target`).
    absent_features: dict[str, str] = {}  # noqa: RUF012 - read-only, overridden per class

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.ffi = declarations(platform)
        self.libc = self.ffi.dlopen(None)
        self.observers: list[Observer] = []
        self._callers: dict[str, Callable[..., Result]] = {}
        self._features: dict[str, bool] = {}  # provides(), once asked
        # Where this kernel runs (the pytest glue sets gvisor, uml, ...): ENOSYS is
        # judged against what that target legitimately lacks (syscalls.enosys).
        self.target = "host"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        p = self.__dict__["platform"]
        if name in p.constants or name in p.errno:
            return p[name]
        if name.isupper():
            raise MissingConstant(f"{name}: not in the {p.name} table")
        return self.caller(name)

    def caller(self, name: str) -> Callable[..., Result]:
        """A function that calls `name` (following the table's aliases)."""
        fn = self._callers.get(name)
        if fn is None:
            fn = self._callers[name] = self._make_caller(name)
        return fn

    def _make_caller(self, name: str) -> Callable[..., Result]:
        p = self.platform
        if p.os == "linux" and p.arch == "i386":  # 64-bit arguments take two registers
            from syscalls import abi_i386

            if name in abi_i386.ADAPTERS:
                return self._adapted(name, abi_i386.adapt)
        if p.os == "linux" and p.arch in CLONE_BACKWARDS and name == "clone":
            return self._adapted(name, _clone_backwards)
        real = p.resolve(name)
        if real in p.symbols:
            symbol = getattr(self.libc, p.symbols[real])
            return lambda *args: self._finish(name, symbol(*args), args=args)
        if real not in p.syscalls:
            raise Unsupported(f"{name}: not in the {p.name} table")
        number = self.ffi.cast("long", p.syscalls[real])
        syscall = self.libc.syscall

        def call(*args: Any) -> Result:
            keep: list[Any] = []  # buffers made from bytes live until the call returns
            ret = syscall(number, *(self._arg(a, keep) for a in args))
            return self._finish(name, ret, args=args)

        return call

    def _adapted(self, name: str, adapt: Callable[..., tuple]) -> Callable[..., Result]:
        """A caller that rewrites its arguments for the arch's calling convention first.

        adapt(name, args) returns (syscall, registers) or (syscall, registers, after):
        after(ret) turns the kernel's return value into the portable call's (reading
        back what the call wrote through a pointer the adapter made), whatever the
        outcome; errno is read before it runs.
        """

        def call(*args: Any) -> Result:
            real, regs, *rest = adapt(name, args)
            if not self.platform.has(real):
                raise Unsupported(f"{name}: {real} is not in the {self.platform.name} table")
            number = self.ffi.cast("long", self.platform.syscalls[self.platform.resolve(real)])
            keep: list[Any] = []
            ret = int(self.libc.syscall(number, *(self._arg(a, keep) for a in regs)))
            err = self.ffi.errno if ret == -1 else 0
            if rest:
                ret = rest[0](ret)
            return self._finish(name, ret, err, real, args)

        return call

    def _arg(self, value: Any, keep: list[Any]) -> Any:
        """Cast one argument for the variadic part of syscall(): every one must be C-typed."""
        ffi = self.ffi
        if isinstance(value, int):
            return ffi.cast("long", value)
        if value is None:
            return ffi.NULL
        if isinstance(value, str | os.PathLike):
            value = os.fsencode(value)
        if isinstance(value, bytes):
            value = ffi.new("char[]", value)
            keep.append(value)
        if isinstance(value, ffi.CData):
            kind = ffi.typeof(value).kind
            return ffi.cast("void *", value) if kind == "array" else value
        raise TypeError(f"cannot pass {type(value).__name__} to a syscall")

    def _finish(
        self,
        name: str,
        ret: Any,
        err: int | None = None,
        real: str = "",
        args: tuple[Any, ...] = (),
    ) -> Result:
        value = int(ret)
        if err is None:
            err = self.ffi.errno if value == -1 else 0
        in_value = self.platform.errors_in_value  # empty but on NetBSD: the common case first
        if in_value and value > 0 and not err and self.platform.resolve(name) in in_value:
            value, err = -1, value
        result = Result(name, value, Errno(err, self.platform) if err else None)
        self.record(result)  # an ENOSYS too: the profile shows what was lost
        if err == self.platform.errno.get("ENOSYS"):
            rule = enosys.Rule(
                self.platform,
                self.target,
                self.release,
                self.provides,
                lambda: kconfig.running(self.release()),
            )
            answer = rule.judge(self.platform.resolve(real or name), args)
            if answer is not None:  # else an errno of the arguments (enosys.BY_ARGUMENT)
                raise (MissingSyscall if answer.lost else Unsupported)(answer.message)
        return result

    def provides(self, feature: str) -> bool:
        """Whether this kernel has a syscall of enosys.BY_ARGUMENT or a feature of one
        (see _probe), asked once by a harmless call (not recorded); has() says whether
        the table has a name."""
        if feature not in self._features:
            self._features[feature] = self._probe(feature)
        return self._features[feature]

    def _probe(self, feature: str) -> bool:
        """A harmless call that answers ENOSYS only where `feature` is missing: futex's
        FUTEX_WAKE of no waiter; FUTEX_UNLOCK_PI of an unowned word (EPERM, with PI);
        msgrcv of queue -1 (EINVAL). MSG_COPY has no such call: checkpoint/restore,
        which it needs, shows in /proc/sys/kernel/ns_last_pid."""
        p = self.platform
        if feature == "msg_copy":
            return os.path.exists("/proc/sys/kernel/ns_last_pid")
        word = self.ffi.new("uint32_t *")  # 0: no waiter to wake, no owner to be
        private = p.constants.get("FUTEX_PRIVATE_FLAG", 0)
        calls: dict[str, tuple[str, tuple[Any, ...]]] = {
            "futex": ("futex", (word, p.constants.get("FUTEX_WAKE", 1) | private, 0)),
            "futex_pi": ("futex", (word, p.constants.get("FUTEX_UNLOCK_PI", 7) | private, 0)),
            "msgrcv": ("msgrcv", (-1, 0, 0, 0, 0)),  # EINVAL: no queue -1
        }
        if feature not in calls:
            raise ValueError(f"no probe for {feature!r}")
        name, args = calls[feature]
        real = p.resolve(name)
        if real not in p.syscalls:
            return False
        keep: list[Any] = []
        number = self.ffi.cast("long", p.syscalls[real])
        ret = int(self.libc.syscall(number, *(self._arg(a, keep) for a in args)))
        return not (ret == -1 and self.ffi.errno == p.errno.get("ENOSYS"))

    def record(self, result: Result) -> None:
        """Record an answer as a call's: one made unobserved that stands for its tries
        (a call retried while EAGAIN records the answer it ended on, not each try)."""
        for observe in self.observers:
            observe(result)

    @contextlib.contextmanager
    def unobserved(self) -> Iterator[None]:
        """Calls made inside are not recorded (a fixture's setup, not the test's subject)."""
        saved, self.observers = self.observers, []
        try:
            yield
        finally:
            self.observers = saved

    def release(self) -> str:
        """The tested kernel's release, as the profile records it."""
        return os.uname().release

    def close_quietly(self, fd: int) -> None:
        """Close a descriptor the suite opened, unrecorded, whether or not it is open.

        Through the kernel's own close: an in-process kernel's fd numbers are not the
        host's, and os.close would close the host's (pytest's capture files)."""
        with self.unobserved():
            self.close(fd)

    # Small conveniences the suites share.

    def buf(self, size_or_data: int | bytes) -> Any:
        """A zeroed char buffer of a size, or one holding these bytes."""
        return self.ffi.new("char[]", size_or_data)

    def new(self, ctype: str, init: Any = None) -> Any:
        return self.ffi.new(ctype, init)

    def bytes(self, buf: Any, n: int) -> bytes:
        return bytes(self.ffi.buffer(buf, n))

    def address(self, cdata: Any) -> int:
        """Where a buffer or pointer is, as the integer a syscall argument or an iovec,
        iocb or BPF attribute field takes."""
        return int(self.ffi.cast("uintptr_t", cdata))

    def has(self, name: str) -> bool:
        return self.platform.has(name)
