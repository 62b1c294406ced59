"""Waiter: runs a function in a thread; join() hands back its result or its exception."""

import threading

import pytest

from syscalls.threads import Waiter


def test_join_returns_what_the_function_returned() -> None:
    assert Waiter(lambda: 42).join() == 42


def test_join_raises_what_the_function_raised() -> None:
    def boom() -> None:
        raise ValueError("inside")

    with pytest.raises(ValueError, match="inside"):
        Waiter(boom).join()


def test_tid_is_the_threads_own_kernel_id() -> None:
    seen: list[int] = []
    w = Waiter(lambda: seen.append(threading.get_native_id()))
    tid = w.tid
    w.join()
    assert tid == seen[0] != threading.get_native_id()
