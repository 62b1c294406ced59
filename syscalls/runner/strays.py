"""Signals that reach the run's controller from a test.

A test runs in a worker whose parent is the controller: a test of kill() that signals
getppid(), as if its parent were a shell, or the process group it came from, sends
SIGUSR1 (say) to the controller -- whose default action for it is to die, taking the
whole run and its results along. The controller has no use for these signals, so it
blocks them before it starts any thread or worker (block), and takes them as they come
(Receiver): each with the pid that sent it, from which the test's worker is found (the
sender itself, or one of its children). The test that worker runs fails at teardown
naming the signal and, when the worker has run others since it was sent, each test that
may have sent it (syscalls.runner.pool); one from elsewhere is told and ignored.

SIGTERM, SIGHUP and SIGINT are taken the same way while the tests run
(syscalls.runner.pool): from a test they are strays like the others; from anyone else
(Ctrl-C: the kernel; the command's own process; the run's time limit, which the
watchdog's thread sends the main one) they end the run, as they always did. Outside
that time (collecting, writing the results) they reach their handlers as before.
Signals the kernel sends for a fault (SIGSEGV, SIGBUS, ...) or a limit (SIGXCPU), job
control's, and those whose default is to be ignored are left as they are.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import struct
from collections.abc import Iterable
from typing import NamedTuple

from syscalls import processes
from syscalls.runner.highfd import out_of_the_way

_NAMES = ("SIGUSR1", "SIGUSR2", "SIGALRM", "SIGVTALRM", "SIGPROF", "SIGIO", "SIGPWR", "SIGSTKFLT")
# Terminating by default, and none of the controller's; the real-time ones above the C
# library's own (SIGRTMIN is past those).
STRAYS = frozenset(
    {getattr(signal, name) for name in _NAMES if hasattr(signal, name)}
    | (set(range(signal.SIGRTMIN, signal.SIGRTMAX + 1)) if hasattr(signal, "SIGRTMIN") else set())
)
CAN_WAIT = hasattr(signal, "sigtimedwait") and hasattr(signal, "pthread_sigmask")
# The command (syscalls.runner.supervisor) passes on to the controller, queued with this
# signal, one that a test sent it: the signal and its sender packed in the value.
RELAY = getattr(signal, "SIGRTMAX", 0)
SI_QUEUE = -1  # asm-generic/siginfo.h: sigqueue()'s
_PID_BITS = 22  # a Linux pid is below 2**22 (PID_MAX_LIMIT)


class Stray(NamedTuple):
    signum: int
    sender: int  # its pid
    to_command: bool = False  # sent to the command, and passed on by it


def relayed(signum: int, sender: int) -> int:
    """The value the command queues RELAY with for `signum` from `sender`."""
    return signum << _PID_BITS | sender


def _unpacked(value: int) -> tuple[int, int]:
    return value >> _PID_BITS, value & ((1 << _PID_BITS) - 1)


def block(signals: frozenset[int] = STRAYS) -> frozenset[int]:
    """`signals` blocked in this thread and the threads it starts from now on: those
    blocked, none where they cannot be waited for (not Linux)."""
    if not CAN_WAIT:
        return frozenset()
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    return signals


def unblock(signals: Iterable[int]) -> None:
    """`signals` unblocked in this thread (a worker forked from a blocking one: back as
    they were)."""
    if signals:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, signals)


class Receiver:
    """The blocked signals as they arrive. On Linux a signalfd, which a select() wakes
    on at once -- while the sender, which may be a test's short-lived child, is still
    there to be traced to its worker; elsewhere sigtimedwait(), between other work."""

    def __init__(self, signals: frozenset[int]) -> None:
        self.signals = signals
        self.fd = _signalfd(signals) if signals else None

    def take(self) -> list[Stray]:
        """Those that have arrived, each taken once; one the command passed on (RELAY
        queued by this process's parent) as the signal the test sent it."""
        taken = []
        if self.fd is not None:
            command = processes.parent_pid()
            with contextlib.suppress(BlockingIOError, InterruptedError):
                while len(data := os.read(self.fd, _SIGINFO.size * 16)) >= _SIGINFO.size:
                    for at in range(0, len(data) - _SIGINFO.size + 1, _SIGINFO.size):
                        signo, _, code, pid, value = _SIGINFO.unpack_from(data, at)
                        if signo == RELAY and code == SI_QUEUE and pid == command:
                            taken.append(Stray(*_unpacked(value), to_command=True))
                        else:
                            taken.append(Stray(signo, pid))
        while self.fd is None and self.signals:
            info = signal.sigtimedwait(self.signals, 0)
            if info is None:
                break
            taken.append(Stray(info.si_signo, info.si_pid))
        return taken

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


# struct signalfd_siginfo (linux/signalfd.h): ssi_signo, ssi_errno, ssi_code, ssi_pid
# first, then ssi_uid, ssi_fd, ssi_tid, ssi_band, ssi_overrun, ssi_trapno, ssi_status and
# ssi_int (the value sigqueue() gave), 128 bytes in all
_SIGINFO = struct.Struct("=IiiI28xi80x")
_SFD_NONBLOCK, _SFD_CLOEXEC = os.O_NONBLOCK, os.O_CLOEXEC


def _signalfd(signals: frozenset[int]) -> int | None:
    if not processes.LINUX:
        return None
    mask = (ctypes.c_ulong * (1024 // (8 * ctypes.sizeof(ctypes.c_ulong))))()
    bits = 8 * ctypes.sizeof(ctypes.c_ulong)
    for sig in signals:
        mask[(sig - 1) // bits] |= 1 << ((sig - 1) % bits)
    fd = processes.LIBC.signalfd(-1, mask, _SFD_NONBLOCK | _SFD_CLOEXEC)
    return out_of_the_way(fd) if fd >= 0 else None


def what(signum: int, sender: int) -> str:
    """ "SIGUSR1 from pid 123" """
    return f"{processes.signal_name(signum)} from pid {sender}"


def told(signum: int, sender: int, worker: int, reached: str) -> str:
    """Why the test that sent it fails: the signal, who of its worker sent it, and whom
    it `reached` ("the run's controller (pid 12), which ignored it")."""
    by = "its worker" if sender == worker else f"a child of its worker (pid {worker})"
    return (
        f"{what(signum, sender)} ({by}) reached {reached}: a test signals only the "
        "processes it started."
    )


def owner(sender: int, pids: Iterable[int]) -> int | None:
    """Which of `pids` sent it, itself or through a process it started (while that
    process is there to ask /proc about); None if none did."""
    mine = set(pids)
    seen = set()
    while sender > 1 and sender not in seen:
        if sender in mine:
            return sender
        seen.add(sender)
        fields = processes.stat_fields(sender)
        if fields is None or len(fields) < 2 or not fields[1].isdigit():
            return None
        sender = int(fields[1])  # its parent
    return None
