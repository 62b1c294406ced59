"""`syscalls run`'s pytest session in a child of the command's process, so that the
command outlives its controller.

The controller imports every test module as it collects them, in its own process. A
module that crashes the interpreter at import (a NULL pointer read through ctypes,
os.abort(), a C extension's fault) or leaves it (os._exit(0)) took the whole command
with it: status 139 -- or 0, with no results at all. Here the session runs in a forked
child that reports its end (pytest's status and the run's RunEnd) through a pipe
before it exits; a child gone without that report died. If it died while importing a
module (the module being collected is noted in a file, Note), the session starts
again with that module collected as an error that says how it ended, as a module that
raises at import is: pytest stops at collection errors unless told to go on
(--continue-on-collection-errors). A death anywhere else ends the run incomplete.

SIGTERM and SIGHUP sent to the command go on to the child, whose controller ends the run
as for one sent to it. So does SIGINT, unless the command runs in a terminal's
foreground, where Ctrl-C reaches the child already. A child stopped by SIGSTOP is
continued (job control's stops are the terminal's). A command SIGKILLed takes the child
with it (PR_SET_PDEATHSIG), and the child its workers. Stray signals (a test's, sent to
the controller's process group; syscalls.runner.strays) do not end the command.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from syscalls import processes
from syscalls.runner import highfd, strays
from syscalls.runner.controller import RunEnd, RunEndCapture

FORWARDED = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
NOTE = "collecting"  # the file, in the run's own directory, naming the module in import


def run(argv: list[str], own: Path) -> tuple[int, RunEnd]:
    """pytest.main(argv) in a child, again without a module whose import killed it:
    pytest's status and how the run ended."""
    crashed: dict[str, str] = {}
    note = own / NOTE
    while True:
        outcome, status = _session(argv, note, crashed)
        if outcome is not None:
            return outcome
        how = _how(status)
        module = _read(note)
        shown = os.path.relpath(module) if module is not None else None
        if module is None or module in crashed:
            reason = f"the run's controller {how}"
            if shown is not None:
                reason += f" while importing {shown}"
            return int(pytest.ExitCode.INTERNAL_ERROR), RunEnd(incomplete=reason, failed=True)
        print(f"syscalls: the run's controller {how} while importing {shown}; "
              "collecting again with it as an error", file=sys.stderr)  # fmt: skip
        crashed[module] = f"the interpreter {how} while importing this module"


def _session(
    argv: list[str], note: Path, crashed: dict[str, str]
) -> tuple[tuple[int, RunEnd] | None, int]:
    """One session in a child: (its status and end, or None if it died; its wait status)."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()  # or what is buffered would be written twice
    read_end, write_end = os.pipe()
    parent = processes.own_pid()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; its report is what the parent reads
        os.close(read_end)
        processes.die_with_parent()  # the command SIGKILLed: the session goes too
        if processes.parent_pid() != parent:
            os._exit(70)
        _child(argv, note, crashed, highfd.run_only(write_end))
    os.close(write_end)
    with _forwarding(pid) as forwarded:
        status = _wait(pid, forwarded)
    data = _read_all(read_end)  # what the child wrote before it ended (not EOF: what it
    os.close(read_end)  # forked may hold the pipe open for longer)
    if not data:
        return None, status
    try:
        answer = json.loads(data)
        return (int(answer["code"]), RunEnd(answer["incomplete"], answer["failed"])), status
    except (ValueError, KeyError, TypeError):  # not what _child writes: nothing else may
        shown = data[:60].decode(errors="replace")
        why = f"the run's controller sent an unreadable report ({shown!r})"
        return (int(pytest.ExitCode.INTERNAL_ERROR), RunEnd(incomplete=why, failed=True)), status


def _child(argv: list[str], note: Path, crashed: dict[str, str], report: int) -> None:
    code = 70
    try:
        capture = RunEndCapture()
        extra = [Note(note), Crashed(crashed)]
        code = int(pytest.main(argv, plugins=[capture, *extra]))
        end = capture.end
        answer = {"code": code, "incomplete": end.incomplete, "failed": end.failed}
        atexit._run_exitfuncs()  # as an interpreter's exit would, before the report
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        os.write(report, json.dumps(answer).encode())
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(code)


@contextlib.contextmanager
def _forwarding(pid: int) -> Iterator[frozenset[int]]:
    """The command's signals on to the child while it runs. Where they can be waited
    for (Linux), they are blocked here and taken by _wait, which knows who sent each:
    the signals that yields. Elsewhere a handler forwards them."""

    def forward(signum: int, frame: object) -> None:
        _forward(pid, signum, None)

    old: dict[int, Callable[..., Any] | int | None] = {}
    waited: frozenset[int] = frozenset()
    ours = frozenset(sig for sig in FORWARDED if signal.getsignal(sig) != signal.SIG_IGN)
    if strays.CAN_WAIT:  # nohup's, a background job's ignored ones: kept
        waited = ours
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, ours | {signal.SIGCHLD})
    else:
        for sig in ours:
            old[sig] = signal.signal(sig, forward)
    for sig in strays.STRAYS:  # a test's, sent to the controller's process group: the
        if signal.getsignal(sig) == signal.SIG_DFL:  # controller takes it (strays), and
            old[sig] = signal.signal(sig, _ignore)  # this process must not die of it
    try:
        yield waited
    finally:
        if strays.CAN_WAIT:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _forward(pid: int, signum: int, sender: int | None) -> None:
    """`signum`, which the command received from `sender` (None: not known), on to the
    child -- unless Ctrl-C reached the child already, or a process of the run sent it:
    a test's kill() of its worker's grandparent used to end the whole run."""
    if signum == signal.SIGINT and _in_terminal_foreground():
        return  # Ctrl-C: the terminal sent it to the child as well
    me = processes.own_pid()
    if sender and sender != me and strays.owner(sender, [me]) == me:  # one of the run's
        if not _relay(pid, signum, sender):
            print(f"syscalls: ignored {processes.signal_name(signum)} from pid {sender}, a "
                  "process of the run (a test's?)", file=sys.stderr)  # fmt: skip
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _relay(pid: int, signum: int, sender: int) -> bool:
    """Tell the child's controller, where it takes strays (its RELAY blocked: a run with
    workers), which test's process sent `signum` to the command, for that test to
    fail; whether it was told."""
    fields = processes.status(pid)
    try:
        blocked = int(fields.get(b"SigBlk", b"0"), 16)
    except ValueError:
        return False
    if not strays.RELAY or not blocked & 1 << (strays.RELAY - 1):
        return False
    value = ctypes.c_void_p(strays.relayed(signum, sender))  # union sigval, its int
    return processes.LIBC.sigqueue(pid, strays.RELAY, value) == 0


def _ignore(signum: int, frame: object) -> None:
    pass


def _in_terminal_foreground() -> bool:
    try:
        fd = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(fd)


def _read_all(fd: int) -> bytes:
    os.set_blocking(fd, False)
    chunks = []
    with contextlib.suppress(BlockingIOError):
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _wait(pid: int, signals: frozenset[int] = frozenset()) -> int:
    """Its wait status once it has ended; meanwhile the `signals` the command receives
    (blocked by _forwarding) go on to it, by _forward. Stopped by SIGSTOP -- which no
    terminal sends: a test's kill(getppid(), SIGSTOP) from a worker, say -- it is
    continued, or the run would wait for ever (its watchdog is stopped with it)."""
    while True:
        if signals:
            status = _ended(pid)
            if status is None:
                info = signal.sigtimedwait(signals | {signal.SIGCHLD}, 1.0)
                if info is not None and info.si_signo != signal.SIGCHLD:
                    _forward(pid, info.si_signo, info.si_pid)
                continue
        else:
            status = os.waitpid(pid, os.WUNTRACED)[1]  # a forwarded signal: retried (PEP 475)
        if not os.WIFSTOPPED(status):
            return status
        if os.WSTOPSIG(status) == signal.SIGSTOP:
            print("syscalls: the run's controller was stopped by SIGSTOP (a test's?); "
                  "continued", file=sys.stderr)  # fmt: skip
            os.kill(pid, signal.SIGCONT)


def _ended(pid: int) -> int | None:
    """Its wait status if it has ended or stopped, else None."""
    found, status = os.waitpid(pid, os.WNOHANG | os.WUNTRACED)
    return status if found else None


def _how(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"was killed by {processes.signal_name(os.WTERMSIG(status))}"
    return f"exited with status {os.waitstatus_to_exitcode(status)} before the run ended"


def _read(note: Path) -> str | None:
    try:
        return note.read_text() or None
    except OSError:
        return None


class Note:
    """pytest plugin in the child: the module being imported, in a file the parent reads
    when the child has died (one pwrite per module, a truncate after it)."""

    def __init__(self, path: Path) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
        self.fd = highfd.run_only(os.open(path, flags, 0o600))

    def pytest_collectstart(self, collector: pytest.Collector) -> None:
        if isinstance(collector, pytest.Module):  # its import runs the module's code
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, str(collector.path).encode(), 0)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        os.ftruncate(self.fd, 0)

    def pytest_unconfigure(self) -> None:
        highfd.forget(self.fd)
        os.close(self.fd)


class Crashed:
    """pytest plugin in the child: each module that killed an earlier child at import,
    collected as an error saying how, instead of imported again."""

    def __init__(self, crashed: dict[str, str]) -> None:
        self.crashed = crashed

    @pytest.hookimpl(tryfirst=True)
    def pytest_pycollect_makemodule(
        self, module_path: Path, parent: pytest.Collector
    ) -> pytest.Module | None:
        why = self.crashed.get(str(module_path))
        if why is None:
            return None
        return CrashedModule.from_parent(parent, path=module_path, why=why)


class CrashedModule(pytest.Module):
    """A module not imported: its collection fails with why."""

    def __init__(self, *args: Any, why: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.why = why

    def collect(self) -> list[Any]:
        raise self.CollectError(self.why)
