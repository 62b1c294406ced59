"""Runs part of a test in a forked child with a time limit.

Tests that fork, ptrace, take signals or wait on futexes may crash, hang or leave the
interpreter in a state the next test should not inherit. In a child, a kernel bug
becomes a failed test with a reason (timed out, killed by SIGSEGV) instead of a hung or
dead run. The child leads its own process group; whatever it leaves behind is killed
and the child itself is always reaped. It dumps no core (RLIMIT_CORE 0).
"""

from __future__ import annotations

import contextlib
import faulthandler
import math
import os
import pickle
import re
import select
import signal
import time
import traceback
from collections.abc import Callable
from typing import Any

from syscalls.processes import fork, no_core_dumps, signal_name
from syscalls.runner import stacks


def time_scale(text: str | None) -> float:
    """SYSCALLS_TIME_SCALE's factor: a positive, finite number (1 when unset or empty).
    0, a negative number or nan spent every child's limit at once (ten tests of openat
    failed for it), inf waited for a hung child until the test's own limit; ValueError
    names the variable (`syscalls run` refuses it before it starts)."""
    try:
        value = float(text or 1)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"SYSCALLS_TIME_SCALE={text!r}: must be a positive number")
    return value


# Slow targets (software-emulated VMs) stretch every time limit by this factor.
TIME_SCALE = time_scale(os.environ.get("SYSCALLS_TIME_SCALE"))


class ChildFailed(AssertionError):
    """The child raised, crashed or ran out of time."""


def run(
    fn: Callable[[], Any],
    timeout: float = 10.0,
    sink: list[str] | None = None,
    passthrough: tuple[type[BaseException], ...] = (),
) -> Any:
    """fn() in a child process; its return value (pickled) or its exception, re-raised.

    `sink` is the test's observation list: what the child records is appended to it.
    Exceptions of the `passthrough` types (skips) are re-raised as themselves; any other
    becomes a ChildFailed carrying the child's traceback.
    """
    start = len(sink) if sink is not None else 0
    rfd, wfd = os.pipe()
    stack_r, stack_w = os.pipe2(os.O_NONBLOCK)  # the dump is there once the child is
    pid = fork()
    if pid == 0:  # pragma: no cover - runs in the child; its outcome reaches the parent
        os.close(stack_r)
        _child(fn, wfd, rfd, sink, start, stack_w)
    os.close(wfd)
    os.close(stack_w)
    try:
        data, status = _collect(pid, rfd, timeout * TIME_SCALE)
        stack = _stack(stack_r) if os.WIFSIGNALED(status) else ""
    except _TimedOut as e:
        raise ChildFailed(f"{e}{_stack(stack_r)}") from None
    finally:
        os.close(rfd)
        os.close(stack_r)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)  # anything the child left running
    if data:
        kind, payload, entries = pickle.loads(data)
        if sink is not None:
            sink.extend(entries)
        if kind == "ok":
            return payload
        if kind == "skip":  # (class names, message): rebuilt as the parent's own class
            names, message = payload
            for cls in passthrough:
                if cls.__name__ in names:
                    raise cls(message)
            raise ChildFailed(f"child raised {names[0]}: {message}")
        if isinstance(payload, passthrough):
            raise payload
        raise ChildFailed(payload if isinstance(payload, str) else repr(payload))
    if os.WIFSIGNALED(status):
        raise ChildFailed(f"child killed by {signal_name(os.WTERMSIG(status))}{stack}")
    raise ChildFailed(
        f"child exited with status {os.waitstatus_to_exitcode(status)} without a result"
    )


def _child(
    fn: Callable[[], Any], wfd: int, rfd: int, sink: list[str] | None, start: int, stack: int
) -> None:
    code = 0
    try:
        os.close(rfd)
        os.setpgid(0, 0)
        no_core_dumps()  # a child that crashes on purpose leaves no core file
        # A fault in the child (SIGSEGV, SIGBUS, SIGABRT, ...): where it was, for the
        # failure, instead of a dump on the run's stderr that names no test
        faulthandler.enable(stack)
        try:
            result: tuple[str, Any] = ("ok", fn())
        except BaseException as e:
            # Skips cross as their class name and message (pytest 7's Skipped does not
            # pickle); failures as text, since tracebacks do not pickle.
            if _is_skip(e):
                names = [c.__name__ for c in type(e).__mro__]
                result = ("skip", (names, _message(e)))
            else:
                result = ("raise", "".join(traceback.format_exception(e)))
        entries = sink[start:] if sink is not None else []
        try:
            data = pickle.dumps((*result, entries))
        except Exception as e:
            data = pickle.dumps(("raise", f"the child's result does not pickle: {e!r}", entries))
        view = memoryview(data)
        while view:
            view = view[os.write(wfd, view) :]
    except BaseException:
        code = 70
    finally:
        os._exit(code)


class _TimedOut(Exception):
    pass


STACK_LIMIT = 8192  # bytes of the child's fault dump kept in the failure, at most
_OURS = re.compile(re.escape(f'  File "{__file__}"'))  # below fn: this module, pytest


def _stack(fd: int) -> str:
    """The Python stack a faulting child dumped (faulthandler), as lines for the
    failure; "" when it dumped nothing (killed from outside, or it exited)."""
    try:
        dump = os.read(fd, STACK_LIMIT).decode(errors="replace")
    except OSError:
        return ""
    return stacks.shown(stacks.frames(dump, _OURS))


def _is_skip(e: BaseException) -> bool:
    return any(c.__name__ in ("Unsupported", "Skipped") for c in type(e).__mro__)


def _message(e: BaseException) -> str:
    msg = getattr(e, "msg", None)  # pytest's OutcomeException keeps it here
    return msg if isinstance(msg, str) else str(e)


def _collect(pid: int, rfd: int, timeout: float) -> tuple[bytes, int]:
    """Read the child's result and reap it; kill it if time runs out.

    A grandchild may hold the pipe open long after the child exits, so EOF is not
    awaited once the child is gone and the pipe holds nothing more.
    """
    deadline = time.monotonic() + timeout
    chunks = []
    status: int | None = None
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            if status is None:  # first its stack: where it hung (SIGABRT, briefly)
                stacks.ask(pid)
            os.killpg(pid, signal.SIGKILL)
            if status is None:
                os.waitpid(pid, 0)
            raise _TimedOut(f"child timed out after {timeout:.1f}s and was killed")
        if select.select([rfd], [], [], min(left, 0.05))[0]:
            chunk = os.read(rfd, 65536)
            if chunk:
                chunks.append(chunk)
                continue
            break  # EOF: every writer is gone
        if status is None:
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                status = st
        elif not select.select([rfd], [], [], 0)[0]:
            break
    if status is None:
        status = os.waitpid(pid, 0)[1]
    return b"".join(chunks), status
