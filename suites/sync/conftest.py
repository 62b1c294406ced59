"""Helpers for the sync suite: futex words, and waiters in threads or children.

futex(uaddr, op, val, timeout|val2, uaddr2, val3). A waiter that is woken returns 0;
blocking waits always carry a timeout and run inside in_child, so a lost wake-up
fails the test instead of hanging the run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from syscalls.kernel import Kernel, Result

WAIT_LIMIT_NS = 5_000_000_000  # how long a waiter waits before giving up
POLL_S = 0.001


class Futexes:
    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel

    def word(self, value: int = 0, count: int = 1) -> Any:
        """Aligned uint32_t words (cffi allocations are at least 8-byte aligned)."""
        return self.k.new("uint32_t[]", [value] * count)

    def timeout(self, ns: int) -> Any:
        return self.k.new("struct timespec *", divmod(ns, 1_000_000_000))

    def wait(
        self,
        addr: Any,
        val: int,
        op: str = "FUTEX_WAIT_PRIVATE",
        ns: int = WAIT_LIMIT_NS,
        bitset: int = 0,
    ) -> Result:
        return self.k.futex(addr, getattr(self.k, op), val, self.timeout(ns), None, bitset)

    def wake(
        self, addr: Any, n: int = 1, op: str = "FUTEX_WAKE_PRIVATE", bitset: int = 0
    ) -> Result:
        return self.k.futex(addr, getattr(self.k, op), n, None, None, bitset)

    def wake_until(
        self,
        addr: Any,
        want: int = 1,
        op: str = "FUTEX_WAKE_PRIVATE",
        bitset: int = 0,
        before: Callable[[], None] | None = None,
    ) -> int:
        """Wake until `want` waiters have been woken in total (waiters may not be queued
        yet); `before` runs ahead of every attempt. Returns the number woken."""
        woken = 0
        deadline = time.monotonic() + WAIT_LIMIT_NS / 1e9
        while woken < want and time.monotonic() < deadline:
            if before:
                before()
            woken += self.wake(addr, want - woken, op, bitset).unwrap()
            if woken < want:
                time.sleep(POLL_S)
        return woken

    def in_thread(self, fn: Callable[[], Any]) -> Waiter:
        """Start fn in a thread; Waiter.join() returns its result."""
        return Waiter(fn)


class Waiter:
    """fn in a daemon thread. join() returns what it returned, or raises what it raised
    (an ENOSYS skip in the waiter is the test's skip, not a missing result)."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self._result: Any = None
        self._error: BaseException | None = None
        self._fn = fn
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result = self._fn()
        except BaseException as e:  # handed to join()
            self._error = e

    def join(self) -> Any:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._result


@pytest.fixture
def futex(kernel: Kernel) -> Futexes:
    return Futexes(kernel)
