"""The process that ran the tests ends, whatever the tests left to run at its exit.

When pytest returns, Python waits for every thread that is not a daemon (and for a
thread pool's workers) and then runs the exit handlers (atexit). A test that left a
thread blocked for ever, or registered a handler that blocks, made a serial run hang
after it had printed its results, and an xdist worker end only when xdist gave up on it
(10 s). So where something is left (`left()`, asked when the session ends) a daemon
thread watches for the interpreter's shutdown: once the main thread has returned, it
gives the shutdown GRACE seconds, then says why on stderr and ends the process with
pytest's exit status. A forked worker (syscalls.runner.pool) never waits: it ends with
os._exit().
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time

GRACE = 5.0  # seconds; an exit handler of a plugin (coverage's report) takes less


def handlers() -> int:
    """How many exit handlers are registered (CPython's count; 0 where unknown)."""
    count = getattr(atexit, "_ncallbacks", None)
    return count() if callable(count) else 0


class Before:
    """What this process had before its tests: threads and exit handlers."""

    def __init__(self) -> None:
        self.threads = frozenset(threading.enumerate())
        self.handlers = handlers()


def left(before: Before) -> str | None:
    """What could hold up this process's exit: threads started since `before` that
    still run (the runner's own aside), exit handlers registered since; None if none."""
    threads = [
        t
        for t in threading.enumerate()
        if t not in before.threads and t.is_alive() and not t.name.startswith("syscalls-")
    ]
    added = handlers() - before.handlers
    what = []
    if threads:
        names = ", ".join(t.name for t in threads[:4]) + (", ..." if len(threads) > 4 else "")
        what.append(f"{len(threads)} thread{'s' * (len(threads) > 1)} still running ({names})")
    if added > 0:
        what.append(f"{added} exit handler{'s' * (added > 1)} (atexit) registered since it began")
    return " and ".join(what) or None


def guard(what: str, status: int, grace: float = GRACE) -> threading.Thread:
    """A daemon thread that ends the process with `status` once its interpreter has been
    shutting down for `grace` seconds, naming `what` the tests left behind."""
    main = threading.main_thread()

    def watch() -> None:
        while main.is_alive():  # until pytest has returned and Python winds down
            time.sleep(0.1)
        time.sleep(grace)
        message = (
            f"syscalls: the tests are over, but this process did not end within {grace:g} s: "
            f"the tests left {what}; it ends without them\n"
        )
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            os.write(2, message.encode())
        finally:
            os._exit(status)

    thread = threading.Thread(target=watch, name="syscalls-exit-guard", daemon=True)
    thread.start()
    return thread
