"""Waiter: a function run in a thread, for tests whose subject blocks (a futex or epoll
waiter) while the test's own thread wakes, signals or inspects it.

Its `tid` is the kernel's thread id (for tgkill, /proc and syscalls.procstate);
join() returns what the function returned or raises what it raised, so an ENOSYS skip
inside the thread is the test's skip, not a missing result.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

# Waiters by their thread id, for syscalls.procstate to learn how a waited-for thread
# ended (a skip or a failure raised in it) when it ends before blocking.
_BY_TID: weakref.WeakValueDictionary[int, Waiter] = weakref.WeakValueDictionary()


def by_tid(tid: int) -> Waiter | None:
    """The Waiter whose thread had this id, if it is still referenced."""
    return _BY_TID.get(tid)


class Waiter:
    """fn in a daemon thread. join() returns what it returned, or raises what it raised
    (an ENOSYS skip in the waiter is the test's skip, not a missing result)."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self._result: Any = None
        self._error: BaseException | None = None
        self._fn = fn
        self._tid = 0
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def tid(self) -> int:
        """The thread's kernel thread id."""
        self._started.wait()
        return self._tid

    def _run(self) -> None:
        self._tid = threading.get_native_id()
        _BY_TID[self._tid] = self
        self._started.set()
        try:
            self._result = self._fn()
        except BaseException as e:  # handed to join()
            self._error = e

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def join(self) -> Any:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._result
