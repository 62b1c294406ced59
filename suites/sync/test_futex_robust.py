"""Robust futexes: when a thread dies, the kernel walks the list it registered with
set_robust_list(2) and marks each futex it still owned (kernel/futex/core.c
exit_robust_list, handle_futex_death).

A listed futex whose word holds the dying thread's tid becomes
(word & FUTEX_WAITERS) | FUTEX_OWNER_DIED, and with FUTEX_WAITERS set one waiter is
woken (a shared wake: the waiter may be another process). A word owned by someone else
is left alone. list_op_pending, the lock being taken at the moment of death, is handled
too. Entries with bit 0 set are PI futexes: the word is marked the same way and a PI
waiter gets the lock through the PI state (exit_pi_state_list), with FUTEX_OWNER_DIED
kept in the word; that bit is what glibc's pthread_mutex_lock turns into EOWNERDEAD
(the kernel's own FUTEX_LOCK_PI returns 0: kernel/futex has no EOWNERDEAD). A PI
waiter gets FUTEX_OWNER_DIED even when the owner had no robust list.

The owner is a forked child holding a futex in a shared page; the list head is its own.
"""

import os
import signal
import time

import pytest

from syscalls import forking
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

WORD_AT = 64  # byte offset of the futex word from the list entry (futex_offset)


class Owner:
    """A child that owns the futex word at entry + WORD_AT of a shared page, optionally
    listed in its robust list, and dies when told to (exit or SIGKILL)."""

    def __init__(self, kernel: Kernel, futex, value=None, listed="list", pi=False) -> None:
        k = self.k = kernel
        page = futex.shared_page()
        self.entry = k.ffi.cast("struct robust_list *", page)
        self.word = k.ffi.cast("uint32_t *", k.ffi.cast("char *", page) + WORD_AT)
        ready_r, ready_w = os.pipe()
        self._go_r, self._go_w = os.pipe()

        def body() -> int:
            self.word[0] = k.gettid().unwrap() if value is None else value
            if listed:
                self._register(listed, pi)
            os.write(ready_w, b"r")
            os.read(self._go_r, 1)
            return 0

        self.pid = forking.fork(k, body)
        os.close(ready_w)
        assert os.read(ready_r, 1) == b"r"
        os.close(ready_r)

    def _register(self, listed: str, pi: bool) -> None:
        k, ffi = self.k, self.k.ffi
        self._head = head = k.new("struct robust_list_head *")
        empty = ffi.addressof(head[0], "list")
        mark = ffi.cast("struct robust_list *", int(ffi.cast("uintptr_t", self.entry)) | pi)
        head.futex_offset = WORD_AT
        self.entry.next = empty  # the list is circular: it ends at the head
        head.list.next = mark if listed == "list" else empty
        head.list_op_pending = mark if listed == "pending" else ffi.NULL
        k.set_robust_list(head, ffi.sizeof("struct robust_list_head")).unwrap()

    def die(self, how: str = "exit") -> int:
        """Let it exit (or SIGKILL it) and reap it; its wait status."""
        if how == "kill":
            self.k.kill(self.pid, signal.SIGKILL).unwrap()
        else:
            os.write(self._go_w, b"g")
        os.close(self._go_w)
        os.close(self._go_r)
        return forking.wait(self.k, self.pid)


@pytest.mark.parametrize("how", ["exit", "kill"])
def test_robust_futex_of_a_dead_owner_is_marked_owner_died(
    kernel: Kernel, futex, in_child, how: str
) -> None:
    def run() -> int:
        owner = Owner(kernel, futex)
        owner.die(how)
        return owner.word[0]

    assert in_child(run) == kernel.FUTEX_OWNER_DIED  # the owner's tid is cleared


def test_robust_futex_of_a_dead_owner_wakes_a_waiter(kernel: Kernel, futex, in_child) -> None:
    def run() -> tuple[str, int]:
        owner = Owner(kernel, futex)
        held = owner.word[0] | kernel.FUTEX_WAITERS
        owner.word[0] = held
        waiter = futex.in_thread(lambda: futex.wait(owner.word, held, "FUTEX_WAIT").outcome)
        futex.until_waiting(waiter.tid, owner.word)
        owner.die()
        return waiter.join(), owner.word[0]

    outcome, word = in_child(run)
    assert outcome == "ok"
    assert word == kernel.FUTEX_WAITERS | kernel.FUTEX_OWNER_DIED


def test_robust_futex_owned_by_another_task_is_left_alone(kernel: Kernel, futex, in_child) -> None:
    def run() -> int:
        mine = kernel.gettid().unwrap()
        owner = Owner(kernel, futex, value=mine)  # listed, but not the child's
        owner.die()
        return owner.word[0] - mine

    assert in_child(run) == 0


def test_robust_futex_in_list_op_pending_is_handled_too(kernel: Kernel, futex, in_child) -> None:
    def run() -> int:
        owner = Owner(kernel, futex, listed="pending")
        owner.die()
        return owner.word[0]

    assert in_child(run) == kernel.FUTEX_OWNER_DIED


def test_robust_futex_unlisted_keeps_the_dead_owners_tid(kernel: Kernel, futex, in_child) -> None:
    def run() -> int:
        owner = Owner(kernel, futex, listed=None)
        owner.die()
        return owner.word[0] - owner.pid

    assert in_child(run) == 0


def _lock_pi(kernel: Kernel, word):
    deadline = kernel.new("struct timespec *", divmod(time.time_ns() + 5_000_000_000, 10**9))
    return kernel.futex(word, kernel.FUTEX_LOCK_PI, 0, deadline, None, 0)


def test_robust_pi_futex_of_a_dead_owner_is_taken_with_owner_died(
    kernel: Kernel, futex, in_child
) -> None:
    def run() -> tuple[int, str, int, int]:
        owner = Owner(kernel, futex, pi=True)
        owner.die()
        marked = owner.word[0]
        taken = _lock_pi(kernel, owner.word)
        word = owner.word[0]
        return marked, taken.outcome, word & kernel.FUTEX_TID_MASK, word & ~kernel.FUTEX_TID_MASK

    marked, outcome, tid, bits = in_child(run)
    assert marked == kernel.FUTEX_OWNER_DIED
    assert outcome == "ok"  # no EOWNERDEAD from the kernel: the bit says it
    assert tid != 0
    assert bits == kernel.FUTEX_OWNER_DIED


@pytest.mark.parametrize("listed", ["list", None])
def test_pi_waiter_gets_the_lock_with_owner_died_when_the_owner_dies(
    kernel: Kernel, futex, in_child, listed
) -> None:
    """A waiter blocked in FUTEX_LOCK_PI when the owner dies is handed the lock, its tid
    in the word with FUTEX_OWNER_DIED, robust list or not."""

    def run() -> tuple[str, bool, bool]:
        owner = Owner(kernel, futex, listed=listed, pi=True)

        def wait() -> tuple[str, bool, bool]:
            r = _lock_pi(kernel, owner.word)
            word = owner.word[0]
            mine = word & kernel.FUTEX_TID_MASK == kernel.gettid().unwrap()
            kernel.futex(owner.word, kernel.FUTEX_UNLOCK_PI, 0, None, None, 0)
            return r.outcome, mine, bool(word & kernel.FUTEX_OWNER_DIED)

        waiter = futex.in_thread(wait)
        futex.until_waiting(waiter.tid, owner.word)
        owner.die()
        return waiter.join()

    assert in_child(run) == ("ok", True, True)
