"""Helpers for the sync suite: futex words, and waiters in threads or children.

futex(uaddr, op, val, timeout|val2, uaddr2, val3). A waiter that is woken returns 0;
blocking waits always carry a timeout and run inside in_child, so a lost wake-up
fails the test instead of hanging the run. `until_waiting` returns once a thread or
process sleeps in futex on a given word (syscalls.procstate), so a test wakes, signals
or requeues a waiter that is really queued, without sleeping.
"""

from __future__ import annotations

import mmap
import time
from collections.abc import Callable
from typing import Any

import pytest

from syscalls import procstate
from syscalls.kernel import Kernel, Result
from syscalls.threads import Waiter

WAIT_LIMIT_NS = 5_000_000_000  # how long a waiter waits before giving up
POLL_S = 0.001


class Futexes:
    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel

    def word(self, value: int = 0, count: int = 1) -> Any:
        """Aligned uint32_t words (cffi allocations are at least 8-byte aligned)."""
        return self.k.new("uint32_t[]", [value] * count)

    def shared_page(self) -> Any:
        """A MAP_SHARED|MAP_ANONYMOUS page as uint32_t[1024], shared with forked children.
        Call it inside in_child: the page goes with that process."""
        k = self.k
        prot, flags = k.PROT_READ | k.PROT_WRITE, k.MAP_SHARED | k.MAP_ANONYMOUS
        addr = k.mmap(0, mmap.PAGESIZE, prot, flags, -1, 0).unwrap()
        return k.ffi.cast("uint32_t *", addr)

    def addr(self, word: Any) -> int:
        return self.k.address(word)

    def until_waiting(self, tid: int, word: Any, calls: tuple[str, ...] = ("futex",)) -> None:
        """Return once thread `tid` sleeps in one of `calls` on `word`."""
        procstate.wait_blocked(self.k, tid, calls, arg0=self.addr(word))

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


@pytest.fixture
def futex(kernel: Kernel) -> Futexes:
    return Futexes(kernel)
