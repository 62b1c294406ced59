"""The process that runs tests, as every test must leave it.

A worker runs hundreds of tests in one process. A test that leaves SIGCHLD ignored,
RLIMIT_NOFILE lowered, a signal blocked, its umask or working directory changed, a
timer armed or a thread running makes the tests after it fail -- or pass -- for its own
reasons, far from the cause. So the state below is compared after each test's teardown
with what it was after the test before. A test that changed it fails at teardown,
naming each change, and the state is put back. What cannot be put back from inside (a
thread still running, credentials, capabilities or a seccomp filter, another namespace,
root directory or session) ends a forked worker after the test: a fresh fork of the
collected session runs its remaining tests. A process that cannot be replaced (plain
pytest, xdist's workers) goes on, and the message says so.

The state: /proc/self/status (umask, signal masks, credentials, capabilities, seccomp,
threads, CPU affinity, locked memory), Python's signal handlers, the resource limits
(/proc/self/limits), the environment, the working and root directories, nine namespaces,
process group and session, interval timers, scheduling policy, nice value and I/O
priority, eight prctl values (child subreaper: the runner's hold on what tests leave
running; dumpable; the parent-death signal; timer slack; THP disabled; keep
capabilities; securebits; memory-deny-write-execute), the personality, the POSIX timers
(runner.posix_timers), the interpreter's recursion limit, switch interval, cyclic GC,
int max str digits, socket default timeout, trace and profile functions and signal
wakeup descriptor, and the C library's locale, the controlling terminal's foreground
process group and settings, the descriptors open below the runner's own, the worker's
pipes made non-blocking, and whether the standard streams are closed
(runner.descriptors), the standard library's functions (runner.patches); and where the
process has namespaces of its own (as root: syscalls.runner.namespaces), its mount
table (syscalls.runner.mounts) and its host and domain names ("mounts" and NAMES
ignored otherwise). Where /proc or prctl are missing (not Linux), those parts are left
out.

Per test only a fingerprint is taken (Watch.fingerprint): raw values compared whole,
both /proc files (and, as root, the domain name's) read with pread() on descriptors
kept open above the tests' range, and a poll() of mountinfo that says whether the mount
table changed.
Between two tests of a whole-suite worker, caches cold, a full reading cost 135 us of
CPU (5% of `syscalls run`'s), the fingerprint about 100 us (30 in a warm loop; 40 with
the descriptors and the standard library): the whole run 0.2 s of CPU more, 2%. Only
when it differs is the state read in full, with fresh descriptors, and compared field
by field.

What pytest-timeout manages stays out: with its signal method it arms ITIMER_REAL and
catches SIGALRM for each test and undoes both after it (or as soon as the test fails),
which also undoes what a test did to them (PYTEST_TIMEOUT_STATE). Handlers are compared
by their code, not their identity: a closure made anew for each test is the same one.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import locale
import mmap
import os
import re
import resource
import signal
import socket
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from syscalls import processes
from syscalls.runner import descriptors, mounts, patches, posix_timers, sysv
from syscalls.runner.descriptors import DESCRIPTORS, NONBLOCKING, STREAMS
from syscalls.runner.highfd import out_of_the_way

State = dict[str, Any]

# mlock() or mlockall() left in place: MCL_FUTURE makes every later mapping resident and
# locked (a later test of lazy faulting, mincore or RLIMIT_MEMLOCK fails for it); read
# while a probe page is mapped, which that flag alone locks too (locked_probe)
LOCKED = "locked memory"

_STATUS_KEYS = {
    b"Umask": "umask",
    b"SigBlk": "blocked signals",
    b"SigIgn": "ignored signals",
    b"SigCgt": "caught signals",
    b"Uid": "user ids",
    b"Gid": "group ids",
    b"Groups": "supplementary groups",
    b"CapInh": "inheritable capabilities",
    b"CapPrm": "permitted capabilities",
    b"CapEff": "effective capabilities",
    b"CapBnd": "capability bounding set",
    b"CapAmb": "ambient capabilities",
    b"NoNewPrivs": "no_new_privs",
    b"Seccomp": "seccomp mode",
    b"Seccomp_filters": "seccomp filters",
    b"Threads": "threads",
    b"Cpus_allowed_list": "CPU affinity",
    b"VmLck": LOCKED,
    # PTRACE_TRACEME made the worker's parent, the run's controller, its tracer: every
    # later signal stops it for a tracer that never continues it (the run hung)
    b"TracerPid": "tracer",
}
_STATUS_LINE = re.compile(rb"\n(" + b"|".join(_STATUS_KEYS) + rb"):[ \t]*([^\n]*)")
# Those that change what the tests after would see: their mounts, their network, their
# ids, their children's pids, their names and IPC objects, their cgroup paths, their
# clocks (and their children's).
_NAMESPACES = (
    "mnt", "net", "user", "pid_for_children", "uts", "ipc", "cgroup", "time", "time_for_children"
)  # fmt: skip
_LINKS = (("root", "root directory"), *((f"ns/{ns}", f"{ns} namespace") for ns in _NAMESPACES))
_RLIMITS = dict(  # by number; RLIMIT_OFILE is RLIMIT_NOFILE: each once, by its first name
    sorted(
        {
            getattr(resource, name): name
            for name in sorted(dir(resource), reverse=True)
            if name.startswith("RLIMIT_")
        }.items()
    )
)
_ITIMERS = tuple(
    (name, getattr(signal, name))
    for name in ("ITIMER_REAL", "ITIMER_VIRTUAL", "ITIMER_PROF")
    if hasattr(signal, name)
)
_SIGNALS = sorted(signal.valid_signals()) if hasattr(signal, "valid_signals") else []
_PRCTL = {  # linux/prctl.h: name -> (get, set, the value comes back through a pointer)
    "child subreaper": (37, 36, True),
    "dumpable": (3, 4, False),
    "parent-death signal": (2, 1, True),  # the worker's: it dies with the controller
    "timer slack": (30, 29, False),  # every later sleep and timeout rounded up by it
    "THP disabled": (42, 41, False),
    "keep capabilities": (7, 8, False),
    "securebits": (27, 28, False),  # how setuid() and exec treat root's capabilities
    "memory-deny-write-execute": (66, 65, False),  # Linux 6.3; once set, for good
}
TIMERS = posix_timers.TIMERS
SYSV = sysv.SYSV  # watched only in an IPC namespace of the worker's own
_QUERY_PERSONALITY = 0xFFFFFFFF  # personality(2): this asks, and changes nothing
PYTEST_TIMEOUT_STATE = frozenset({"ITIMER_REAL", "SIGALRM disposition"})
MOUNTS = "mounts"  # watched only in a mount namespace of the process's own
NAMES = "host and domain names"  # and these in a UTS namespace of its own
_DOMAINNAME = "/proc/sys/kernel/domainname"
UNREADABLE = "unreadable"  # no fd left to read /proc with, or no /proc (a chroot)
THREAD_GRACE = 0.5  # seconds a test's finished thread may take to be gone
STANDARD_LIBRARY = patches.STANDARD_LIBRARY

try:  # the C module's: Python's wrapper makes an enum of each answer, 50 times slower
    from _signal import getsignal as _getsignal
except ImportError:  # pragma: no cover - another Python
    _getsignal = signal.getsignal

_HAS_PRCTL = processes.LINUX
_int_digits = getattr(sys, "get_int_max_str_digits", None)  # Python 3.11 and the backports
# The trace and profile functions: this thread's, and those every new thread starts with
_HOOKS = {
    "trace function": (sys.gettrace, sys.settrace),
    "profile function": (sys.getprofile, sys.setprofile),
    "new threads' trace function": (getattr(threading, "gettrace", None), threading.settrace),
    "new threads' profile function": (getattr(threading, "getprofile", None), threading.setprofile),
}
WAKEUP = "signal wakeup descriptor"


def _wakeup_fd() -> int | None:
    """The descriptor Python writes a byte to for each signal (signal.set_wakeup_fd):
    left set, it writes into whatever a later test opens under that number. Read by
    setting it and back (the only way); None outside the main thread."""
    try:
        fd = signal.set_wakeup_fd(-1)
        if fd != -1:
            signal.set_wakeup_fd(fd)
    except (ValueError, OSError):  # not the main thread; a descriptor closed since
        return None
    return fd


def _hook_view(value: Any) -> str:
    return "none" if value is None else getattr(value, "__qualname__", None) or repr(value)


# --- reading ------------------------------------------------------------------------


def _read_file(path: str) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return os.read(fd, 65536)
    except OSError:
        return None
    finally:
        os.close(fd)


_VM = ctypes.CDLL(None, use_errno=True)  # its own mmap/munmap prototypes, no one else's
_VM.mmap.restype = ctypes.c_void_p
_VM.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                     ctypes.c_int, ctypes.c_long)  # fmt: skip
_VM.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
_PROBE = 4096
_MAP_PRIVATE_ANONYMOUS = mmap.MAP_PRIVATE | getattr(mmap, "MAP_ANONYMOUS", 0)


@contextlib.contextmanager
def locked_probe() -> Iterator[None]:
    """A page mapped PROT_NONE while the body reads /proc/self/status: under
    mlockall(MCL_FUTURE) it counts in VmLck (the kernel accounts a locked mapping at
    mmap, PROT_NONE or not), so that flag shows even when nothing else is locked."""
    anonymous = _HAS_PRCTL and _MAP_PRIVATE_ANONYMOUS != mmap.MAP_PRIVATE
    addr = _VM.mmap(None, _PROBE, 0, _MAP_PRIVATE_ANONYMOUS, -1, 0) if anonymous else None
    mapped = addr is not None and addr != ctypes.c_void_p(-1).value
    try:
        yield
    finally:
        if mapped:
            _VM.munmap(addr, _PROBE)


# ioprio_get/ioprio_set by this process's own ABI (Python has no call for them): a
# test's I/O priority is inherited by every child the tests after it fork
# The controlling terminal's foreground process group and settings. A worker's group is
# in the terminal's background, so a change needs SIGTTOU ignored or blocked; made, it
# stays after the run: echo left off, or the foreground given to a group that is gone
# (Ctrl-C then no longer reaches the run, nor the user's shell its own terminal).
TERMINAL = "controlling terminal"
_LFLAGS = ("ECHO", "ICANON", "ISIG", "TOSTOP")  # a change named; any other is "settings"


_TTY: list[int | None] = [None]  # /dev/tty, kept open above the tests' range (-1: none)


def _terminal() -> tuple[int, list[Any]] | None:
    """None without one (a CI job, a guest's console). Its descriptor is kept: opened
    each time it cost 19 us a test, most of a fingerprint; opened again if a test
    closed or replaced it."""
    for _ in range(2):
        fd = _TTY[0]
        if fd is None:
            try:
                flags = os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC
                fd = _TTY[0] = out_of_the_way(os.open("/dev/tty", flags))
            except OSError:
                fd = _TTY[0] = -1  # no controlling terminal: a process never gains one
        if fd < 0:
            return None
        try:
            return os.tcgetpgrp(fd), termios.tcgetattr(fd)
        except (OSError, termios.error):
            _TTY[0] = None
    return None


def _show_terminal(value: tuple[int, list[Any]], other: tuple[int, list[Any]]) -> str:
    (group, attrs), (_, other_attrs) = value, other
    lflag = attrs[3]
    flags = [
        f"{name} {'on' if lflag & getattr(termios, name) else 'off'}"
        for name in _LFLAGS
        if (lflag ^ other_attrs[3]) & getattr(termios, name)
    ]
    if not flags and attrs != other_attrs:
        flags = ["other settings"]
    return ", ".join([f"foreground group {group}", *flags])


def _put_terminal(value: tuple[int, list[Any]]) -> None:
    fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC)
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTTOU})  # from the background
    try:
        termios.tcsetattr(fd, termios.TCSANOW, value[1])
        os.tcsetpgrp(fd, value[0])
    except termios.error as e:
        raise OSError(*e.args) from None
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        os.close(fd)


IOPRIO = "I/O priority"
IOPRIO_CALLS = {  # (get, set): arch/*/entry/syscalls tables, include/uapi/asm-generic
    ("x86_64", 8): (252, 251),
    ("x86_64", 4): (290, 289),  # a 32-bit process on a 64-bit kernel: the i386 ABI
    ("i686", 4): (290, 289),
    ("aarch64", 8): (31, 30),
    ("riscv64", 8): (31, 30),
}.get((os.uname().machine, ctypes.sizeof(ctypes.c_void_p)))
_IOPRIO_WHO_PROCESS = 1


def _ioprio() -> int | None:
    if IOPRIO_CALLS is None or not _HAS_PRCTL:
        return None
    answer = processes.LIBC.syscall(IOPRIO_CALLS[0], _IOPRIO_WHO_PROCESS, 0)
    return None if answer < 0 else answer


def _set_ioprio(value: int) -> None:
    assert IOPRIO_CALLS is not None
    _succeeded(processes.LIBC.syscall(IOPRIO_CALLS[1], _IOPRIO_WHO_PROCESS, 0, value))


def _show_timeout(value: float | None) -> str:
    return "none (blocking)" if value is None else f"{value} s"


def _show_ioprio(value: int | None) -> str:
    if value is None:
        return UNREADABLE
    names = ("none", "realtime", "best-effort", "idle")
    cls, level = value >> 13, value & 0x1FFF
    return f"{names[cls] if cls < len(names) else cls} {level}"


def _personality() -> int | None:
    answer = processes.LIBC.personality(_QUERY_PERSONALITY)
    return None if answer < 0 else answer


def _prctl_get(get: int, by_pointer: bool) -> int | None:
    if by_pointer:
        value = ctypes.c_int(0)
        return value.value if processes.prctl(get, ctypes.byref(value)) == 0 else None
    answer = processes.prctl(get)
    return None if answer < 0 else answer


def _common(ignore: frozenset[str]) -> list[Any]:
    """The values read alike for the fingerprint and the full state, in _COMMON's order."""
    values: list[Any] = []
    try:
        values.append(os.getcwd())
    except OSError:
        values.append(None)  # removed under us
    for link, _ in _LINKS:
        try:
            values.append(os.readlink(f"/proc/self/{link}"))
        except OSError:
            values.append(None)
    for name, which in _ITIMERS:
        values.append(None if name in ignore else signal.getitimer(which) != (0.0, 0.0))
    values.append(os.getpgrp())
    values.append(os.getsid(0))
    try:
        values.append((os.sched_getscheduler(0), os.sched_getparam(0).sched_priority))
    except (OSError, AttributeError):
        values.append(None)
    try:
        values.append(os.getpriority(os.PRIO_PROCESS, 0))
    except (OSError, AttributeError):
        values.append(None)
    values.append(_ioprio())
    for get, _, by_pointer in _PRCTL.values():
        values.append(_prctl_get(get, by_pointer) if _HAS_PRCTL else None)
    # READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE, ...: what every later mmap() would answer
    values.append(_personality() if _HAS_PRCTL else None)
    # The interpreter's and the C library's own: a recursion limit of 50, the cyclic
    # GC turned off, another locale (strerror's words, strtod's decimal point).
    values.append(sys.getrecursionlimit())
    values.append(sys.getswitchinterval())
    values.append((gc.isenabled(), gc.get_threshold()))
    # str() of a large int refused past it; every later Python socket made non-blocking
    # (0) or timing out
    values.append(_int_digits() if _int_digits else None)
    values.append(socket.getdefaulttimeout())
    # A trace function left set runs on every line of every later test (100x slower)
    for get, _ in _HOOKS.values():
        values.append(get() if get is not None else None)
    values.append(_wakeup_fd())
    try:
        values.append(locale.setlocale(locale.LC_ALL))
    except locale.Error:
        values.append(None)
    values.append(_terminal())
    environ = getattr(os.environ, "_data", None)  # the bytes mapping: no decoding
    environment = dict(environ if environ is not None else os.environ)
    for key in _PYTESTS_OWN:
        environment.pop(key, None)
    values.append(environment)
    return values


def _host_names() -> tuple[str, str] | None:
    """uname()'s node name and the NIS domain name (which uname() in Python leaves out)."""
    try:
        with open(_DOMAINNAME) as f:
            return os.uname().nodename, f.read().strip()
    except OSError:
        return None


def _put_host_names(names: tuple[str, str]) -> None:
    libc = processes.LIBC
    for call, name in ((libc.sethostname, names[0]), (libc.setdomainname, names[1])):
        value = name.encode()
        _succeeded(call(value, len(value)))


# pytest sets it in each phase of a test (setup, call, teardown), and removes it after
_PYTESTS_OWN = (b"PYTEST_CURRENT_TEST", "PYTEST_CURRENT_TEST")


_COMMON = (
    "working directory",
    *(name for _, name in _LINKS),
    *(name for name, _ in _ITIMERS),
    "process group",
    "session",
    "scheduling policy",
    "nice",
    IOPRIO,
    *_PRCTL,
    "personality",
    "recursion limit",
    "thread switch interval",
    "garbage collector",
    "int max str digits",
    "socket default timeout",
    *_HOOKS,
    WAKEUP,
    "locale",
    TERMINAL,
    "environment",
)


class Watch:
    """The fingerprint of this process's state, taken after every test.

    Its two /proc files are read with pread() on descriptors kept open (above the
    tests' range, close-on-exec), opened again in a fork and whenever the fingerprint
    differs: a test may have closed or replaced them."""

    def __init__(self, ignore: frozenset[str] = frozenset()) -> None:
        self.ignore = ignore  # what another plugin manages per test (Change.what)
        self.watched = [
            s for s in _SIGNALS if f"{processes.signal_name(s)} disposition" not in ignore
        ]
        self.pid = -1
        self.fds: dict[str, int] = {}
        self.mounts = None if MOUNTS in ignore else mounts.Table()
        self.library = patches.Fingerprint(_library_names(ignore))
        self.status: bytes | None = None  # /proc/self/status at the last fingerprint

    def _pread(self, path: str) -> bytes | None:
        if self.pid != os.getpid():
            self.fds, self.pid = {}, os.getpid()  # a fork's: the parent's files
        fd = self.fds.get(path)
        if fd is None:
            try:
                fd = out_of_the_way(os.open(path, os.O_RDONLY | os.O_CLOEXEC))
            except OSError:
                return None
            self.fds[path] = fd
        try:
            return os.pread(fd, 65536, 0)
        except OSError:
            return None

    def reopen(self) -> None:
        for fd in self.fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds = {}
        if self.mounts is not None:
            self.mounts.reopen()

    def fingerprint(self) -> tuple[Any, ...]:
        with locked_probe():
            status = self._pread("/proc/self/status")
        self.status = status  # as read here, for what else it tells (runner.memory)
        return (
            _STATUS_LINE.findall(status) if status is not None else None,
            self._pread("/proc/self/limits"),
            tuple(map(_getsignal, self.watched)),
            self.mounts.changed() if self.mounts is not None else None,
            None if NAMES in self.ignore else (os.uname().nodename, self._pread(_DOMAINNAME)),
            descriptors.listing(),
            descriptors.nonblocking(descriptors.PRIVATE),
            descriptors.streams(),
            self._pread(posix_timers.PATH),
            None if SYSV in self.ignore else tuple(map(self._pread, sysv.PATHS.values())),
            self.library(),
            *_common(self.ignore),
        )

    def status_now(self) -> bytes | None:
        """/proc/self/status as it is now, for its memory lines (runner.memory)."""
        return self._pread("/proc/self/status")

    def close(self) -> None:
        if self.pid == os.getpid():
            self.reopen()
        if self.mounts is not None:
            self.mounts.close()


def read(ignore: frozenset[str] = frozenset()) -> State:
    """The process's state in full, each value plain and printable (but the signal
    handlers: the objects Python holds), read with fresh descriptors."""
    state: State = {}
    with locked_probe():
        status = _read_file("/proc/self/status")
    if status is not None:
        for key, value in _STATUS_LINE.findall(status):
            state[_STATUS_KEYS[key]] = value.decode()
    if state.get("threads", "1") != "1":
        state["threads"] = _own_threads(state["threads"])
    state["handlers"] = {sig: _getsignal(sig) for sig in _SIGNALS}
    # One file instead of a getrlimit() per limit; parsed only when it differs
    state["resource limits"] = _read_file("/proc/self/limits") or _getrlimits()
    for name, value in zip(_COMMON, _common(ignore), strict=True):
        if value is not None:
            state[name] = value
    table = mounts.read() if MOUNTS not in ignore else None
    if table is not None:
        state[MOUNTS] = table
    names = _host_names() if NAMES not in ignore else None
    if names is not None:
        state[NAMES] = names
    state[DESCRIPTORS] = descriptors.read()
    state[NONBLOCKING] = descriptors.nonblocking(descriptors.PRIVATE)
    timers = posix_timers.read()
    if timers is not None:
        state[TIMERS] = timers
    objects = sysv.read() if SYSV not in ignore else None
    if objects is not None:
        state[SYSV] = objects
    state[STREAMS] = descriptors.streams()
    state[STANDARD_LIBRARY] = patches.read(_library_names(ignore))
    return state


_LIBRARY: patches.Names | None = None


def _library_names(ignore: frozenset[str]) -> patches.Names:
    """The standard library's names watched, looked up once per process."""
    global _LIBRARY
    if STANDARD_LIBRARY in ignore:
        return ()
    if _LIBRARY is None:
        _LIBRARY = patches.names()
    return _LIBRARY


_KERNELS_OWN = (b"iou-wrk-", b"iou-sqp-")  # io_uring's io-wq workers and SQPOLL thread


def _own_threads(counted: str) -> str:
    """The threads of the process but those the kernel runs in it for io_uring: they
    come and go with its rings (an idle io-wq worker leaves after seconds), and they
    are no test's leftover."""
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return counted
    comms = (_read_file(f"/proc/self/task/{tid}/comm") or b"" for tid in tids)
    return str(sum(1 for comm in comms if not comm.startswith(_KERNELS_OWN)))


# --- comparing ----------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    what: str
    before: str
    after: str
    restore: Callable[[], None] | None  # None: it cannot be put back from inside

    def __str__(self) -> str:
        return f"{self.what}: {self.before} -> {self.after}"


def changes(before: State, after: State, ignore: frozenset[str] = frozenset()) -> list[Change]:
    """What differs, each with how to put it back; `ignore`: what another plugin
    manages per test (Change.what)."""
    found: list[Change] = []
    for key in sorted((before.keys() | after.keys()) - ignore):
        old, new = before.get(key), after.get(key)
        if old == new or key in ("ignored signals", "caught signals", "handlers"):
            continue  # signals: one by one, below
        if key == DESCRIPTORS and old is not None and new is not None and old.keys() == new.keys():
            continue  # the same numbers: what /proc names them by may change (deleted)
        if key == "resource limits":
            found.extend(_limit_changes(old, new))
        else:
            found.append(_change(key, old, new))
    if "caught signals" in before and "caught signals" in after:
        found.extend(c for c in _signal_changes(before, after) if c.what not in ignore)
    else:  # no masks in /proc (gVisor's status has none): Python's own view, at least
        found.extend(c for c in _handler_changes(before, after) if c.what not in ignore)
    return found


def _handler_changes(before: State, after: State) -> list[Change]:
    found = []
    old_handlers, new_handlers = before.get("handlers", {}), after.get("handlers", {})
    for sig in _SIGNALS:
        old, new = old_handlers.get(sig), new_handlers.get(sig)
        if not _same_handler(old, new):
            restore = _set_signal(sig, old) if old is not None else None
            what = f"{processes.signal_name(sig)} disposition"
            found.append(Change(what, _python_view(old), _python_view(new), restore))
    return found


def _python_view(handler: Any) -> str:
    if handler == signal.SIG_DFL:
        return "default"
    if handler == signal.SIG_IGN:
        return "ignored"
    return _show(("caught", handler))


def _signal_mask(value: str | None) -> int:
    return int(value or "0", 16)


def _names(mask: int) -> str:
    names = [processes.signal_name(sig) for sig in range(1, 65) if mask & (1 << (sig - 1))]
    return ", ".join(names) or "none"


def _same_handler(a: Any, b: Any) -> bool:
    code_a, code_b = getattr(a, "__code__", None), getattr(b, "__code__", None)
    if code_a is not None or code_b is not None:
        return code_a is code_b
    return a is b


def _disposition(state: State, sig: int) -> tuple[str, Any]:
    bit = 1 << (sig - 1)
    if _signal_mask(state.get("ignored signals")) & bit:
        return "ignored", None
    if _signal_mask(state.get("caught signals")) & bit:
        return "caught", state["handlers"].get(sig)
    return "default", None


def _show(disposition: tuple[str, Any]) -> str:
    kind, handler = disposition
    if kind != "caught":
        return kind
    if not callable(handler):  # the kernel says caught, Python holds no handler of its own
        return "caught (by a handler Python did not install)"
    name = getattr(handler, "__qualname__", None) or repr(handler)
    return f"caught by {name}"


def _signal_changes(before: State, after: State) -> list[Change]:
    found = []
    for sig in _SIGNALS:
        (old, handler), (new, now) = _disposition(before, sig), _disposition(after, sig)
        if old == new and (old != "caught" or _same_handler(handler, now)):
            continue
        if old == "caught":
            restore = _set_signal(sig, handler) if callable(handler) else None
        else:
            restore = _set_signal(sig, signal.SIG_IGN if old == "ignored" else signal.SIG_DFL)
        what = f"{processes.signal_name(sig)} disposition"
        found.append(Change(what, _show((old, handler)), _show((new, now)), restore))
    return found


def _set_signal(sig: int, handler: Any) -> Callable[[], None]:
    def restore() -> None:
        signal.signal(sig, handler)

    return restore


def _change(key: str, old: Any, new: Any) -> Change:
    restore: Callable[[], None] | None = None
    shown_old, shown_new = _shown(old), _shown(new)
    if key == "umask":
        restore = lambda: os.umask(int(old, 8))  # noqa: E731
    elif key == "blocked signals":
        shown_old, shown_new = _names(_signal_mask(old)), _names(_signal_mask(new))
        mask = _signal_mask(old)
        restore = lambda: signal.pthread_sigmask(  # noqa: E731
            signal.SIG_SETMASK, [s for s in range(1, 65) if mask & (1 << (s - 1))]
        )
    elif key == "environment":
        shown_old, shown_new = "as it was", _environment_diff(old or {}, new or {})
        restore = lambda: _put_environment(old or {})  # noqa: E731
    elif key == "working directory" and old is not None:
        restore = lambda: os.chdir(old)  # noqa: E731
    elif key == "process group":
        restore = lambda: os.setpgid(0, old)  # noqa: E731 - within the same session only
    elif key.startswith("ITIMER_"):
        shown_old, shown_new = ("armed" if old else "disarmed"), ("armed" if new else "disarmed")
        which = getattr(signal, key)
        if not old:
            restore = lambda: signal.setitimer(which, 0)  # noqa: E731
    elif key == "CPU affinity" and old is not None:
        cpus = _cpu_list(old)
        restore = lambda: os.sched_setaffinity(0, cpus)  # noqa: E731
    elif key == "scheduling policy" and old is not None:
        policy, priority = old
        restore = lambda: os.sched_setscheduler(0, policy, os.sched_param(priority))  # noqa: E731
    elif key == "nice" and old is not None:
        restore = lambda: os.setpriority(os.PRIO_PROCESS, 0, old)  # noqa: E731
    elif key == LOCKED and old is not None and old.split()[:1] == ["0"]:
        restore = lambda: processes.LIBC.munlockall()  # noqa: E731 - MCL_FUTURE too
    elif key == IOPRIO and old is not None:
        shown_old, shown_new = _show_ioprio(old), _show_ioprio(new)
        restore = lambda: _set_ioprio(old)  # noqa: E731
    elif key == "recursion limit":
        restore = lambda: sys.setrecursionlimit(old)  # noqa: E731
    elif key == "thread switch interval":
        restore = lambda: sys.setswitchinterval(old)  # noqa: E731
    elif key == "int max str digits" and old is not None:
        restore = lambda: sys.set_int_max_str_digits(old)  # noqa: E731
    elif key == "socket default timeout":
        shown_old, shown_new = (_show_timeout(v) for v in (old, new))
        restore = lambda: socket.setdefaulttimeout(old)  # noqa: E731
    elif key in _HOOKS:
        shown_old, shown_new = _hook_view(old), _hook_view(new)
        setter = _HOOKS[key][1]
        restore = lambda: setter(old)  # noqa: E731
        return Change(key, shown_old, shown_new, restore)
    elif key == WAKEUP and old is not None:
        shown_old, shown_new = (str(v) if v != -1 else "none" for v in (old, new))
        restore = lambda: signal.set_wakeup_fd(old)  # noqa: E731
    elif key == "garbage collector":
        restore = lambda: _put_gc(*old)  # noqa: E731
    elif key == MOUNTS and old is not None and new is not None:
        shown_old, shown_new = "as they were", mounts.differences(old, new)
        left = mounts.added(old, new)
        if left:
            restore = lambda: mounts.unmount(left)  # noqa: E731
    elif key == NAMES and old is not None:
        restore = lambda: _put_host_names(old)  # noqa: E731
        shown_old, shown_new = (f"node {v[0]}, domain {v[1]}" if v else "" for v in (old, new))
    elif key == DESCRIPTORS and old is not None and new is not None:
        shown_old, shown_new = "as they were", descriptors.difference(old, new)
        left = descriptors.added(old, new)
        if left:
            restore = lambda: descriptors.close(left)  # noqa: E731 - those closed, not put back
    elif key == TIMERS and old is not None and new is not None:
        shown_old, shown_new = "as they were", posix_timers.difference(old, new)
        added = descriptors.added(old, new)
        if added:
            restore = lambda: posix_timers.delete(list(added))  # noqa: E731
    elif key == SYSV and old is not None and new is not None:
        shown_old, shown_new = "as they were", descriptors.difference(old, new)
        left = descriptors.added(old, new)
        if left:
            restore = lambda: sysv.remove(list(left))  # noqa: E731 - removed, not put back
    elif key == "personality" and old is not None:
        shown_old, shown_new = f"{old:#x}", (f"{new:#x}" if new is not None else UNREADABLE)
        restore = lambda: processes.LIBC.personality(old)  # noqa: E731
    elif key == NONBLOCKING and old is not None and new is not None:
        shown_old, shown_new = (", ".join(map(str, sorted(v))) or "none" for v in (old, new))
        restore = lambda: descriptors.set_blocking(new - old)  # noqa: E731
    elif key == STREAMS:
        shown_old, shown_new = descriptors.show_streams(old), descriptors.show_streams(new)
    elif key == STANDARD_LIBRARY and old is not None and new is not None:
        which = patches.replaced(old, new)
        shown_old = "as imported"
        shown_new = "; ".join(patches.show(n, new.get(n, patches.GONE)) for n in which)
        restore = lambda: patches.put_back(old, which)  # noqa: E731
    elif key == TERMINAL and old is not None:
        shown_old, shown_new = _show_terminal(old, new or old), "none"
        if new is not None:
            shown_new = _show_terminal(new, old)
        restore = lambda: _put_terminal(old)  # noqa: E731
    elif key == "locale" and old is not None:
        restore = lambda: locale.setlocale(locale.LC_ALL, old)  # noqa: E731
    elif key in _PRCTL and old is not None:
        setter = _PRCTL[key][1]
        restore = lambda: _prctl_set(setter, old)  # noqa: E731
    if new is None:
        shown_new = UNREADABLE
    return Change(key, shown_old, shown_new, restore)


def _shown(value: Any) -> str:
    return UNREADABLE if value is None else " ".join(str(value).split())


def _getrlimits() -> dict[int, tuple[int, int]]:
    limits = {}
    for which in _RLIMITS:
        with contextlib.suppress(OSError, ValueError):
            limits[which] = resource.getrlimit(which)
    return limits


def _parse_limits(text: bytes) -> dict[int, tuple[int, int]]:
    """/proc/PID/limits: a heading, then one line per limit in the order of their numbers
    ("Max open files  1024  1048576  files": name, soft, hard, unit)."""
    limits = {}
    for which, line in enumerate(text.decode(errors="replace").splitlines()[1:]):
        fields = re.split(r"\s{2,}", line.strip())
        if len(fields) >= 3 and which in _RLIMITS:
            soft, hard = (
                resource.RLIM_INFINITY if v == "unlimited" else int(v) for v in fields[1:3]
            )
            limits[which] = (soft, hard)
    return limits


def _limit_changes(old: Any, new: Any) -> list[Change]:
    if new is None:
        return [Change("resource limits", "readable", UNREADABLE, None)]
    before = _parse_limits(old) if isinstance(old, bytes) else dict(old or {})
    after = _parse_limits(new) if isinstance(new, bytes) else dict(new)
    found = []
    for which, name in _RLIMITS.items():
        was, now = before.get(which), after.get(which)
        if was != now and was is not None:
            restore = lambda which=which, was=was: resource.setrlimit(which, was)  # noqa: E731
            found.append(Change(name, _limit(was), _limit(now), restore))
    return found


def _limit(value: Any) -> str:
    if not isinstance(value, tuple):
        return _shown(value)
    return "/".join("unlimited" if v == resource.RLIM_INFINITY else str(v) for v in value)


def _environment_diff(old: dict[Any, Any], new: dict[Any, Any]) -> str:
    def name(key: Any) -> str:
        return key.decode(errors="replace") if isinstance(key, bytes) else str(key)

    gone = sorted(name(k) for k in old.keys() - new.keys())
    added = sorted(name(k) for k in new.keys() - old.keys())
    changed = sorted(name(k) for k in old.keys() & new.keys() if old[k] != new[k])
    parts = [f"{label} {_some(keys)}" for label, keys in
             (("removed", gone), ("added", added), ("changed", changed)) if keys]  # fmt: skip
    return "; ".join(parts)


def _some(names: list[str], most: int = 8) -> str:
    shown = ", ".join(names[:most])
    return shown if len(names) <= most else f"{shown} and {len(names) - most} more"


def _put_environment(old: dict[Any, Any]) -> None:
    def text(value: Any) -> str:
        return os.fsdecode(value) if isinstance(value, bytes) else value

    os.environ.clear()
    os.environ.update({text(k): text(v) for k, v in old.items()})


def _cpu_list(text: str) -> set[int]:
    cpus: set[int] = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        if first.strip():
            cpus.update(range(int(first), int(last or first) + 1))
    return cpus


def _put_gc(enabled: bool, threshold: tuple[int, ...]) -> None:
    gc.set_threshold(*threshold)
    (gc.enable if enabled else gc.disable)()


def _prctl_set(option: int, value: int) -> None:
    _succeeded(processes.prctl(option, value))


def _succeeded(answer: int) -> None:
    """A C call's answer; OSError with its errno where it failed (-1)."""
    if answer < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


# --- after a test -------------------------------------------------------------------


def settle(before: State, after: State, ignore: frozenset[str] = frozenset()) -> State:
    """`after` read again while it has more threads than `before`, for up to
    THREAD_GRACE seconds: a thread the test has told to stop may still be on its way out."""
    deadline = time.monotonic() + THREAD_GRACE
    while int(after.get("threads") or 0) > int(before.get("threads") or 0):
        if time.monotonic() >= deadline:
            break
        time.sleep(0.01)
        after = read(ignore)
    return after


def repair(
    before: State, found: list[Change], ignore: frozenset[str] = frozenset()
) -> tuple[list[Change], list[Change], State]:
    """Each change undone where it can be, then the state read again: (the changes worth
    naming, those still there, the state now)."""
    for change in sorted(found, key=lambda c: c.what != DESCRIPTORS):  # fds for the rest
        if change.restore is not None:
            with contextlib.suppress(OSError, ValueError, TypeError, OverflowError):
                change.restore()  # whether it worked, the reading below tells
    now = read(ignore)
    stuck = changes(before, now, ignore)
    still = {c.what for c in stuck}
    shown = [c for c in found if c.after != UNREADABLE or c.what in still]
    return _summary(shown), _summary(stuck), now


def _summary(found: list[Change]) -> list[Change]:
    """Values that could not be read are left out beside one that could (out of fds:
    a lowered RLIMIT_NOFILE says why), or told as one change (in a chroot /proc tells
    nothing)."""
    unread = [c.what for c in found if c.after == UNREADABLE]
    rest = [c for c in found if c.after != UNREADABLE]
    if not unread or rest:
        return rest
    return [Change("/proc/self", "readable", f"{UNREADABLE} ({len(unread)} values)", None)]
