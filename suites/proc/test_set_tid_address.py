"""set_tid_address(2): the word the kernel clears, and wakes as a futex, when the thread
exits (what CLONE_CHILD_CLEARTID sets at clone, and pthread_join waits on).

It returns the caller's thread id. The word is set in a forked child only: glibc keeps
the interpreter's own. The kernel clears it only when other threads share the exiting
one's memory, with a shared (not private) FUTEX_WAKE, which a plain FUTEX_WAIT on the
word receives (kernel/fork.c: mm_release).
"""

import os
import threading

import pytest

from syscalls import forking, procstate
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

MARK = 0x5EED


def test_set_tid_address_returns_the_callers_thread_id(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        word = kernel.new("int *")
        return kernel.set_tid_address(word).unwrap(), kernel.gettid().unwrap()

    tid, gettid = in_child(run)
    assert tid == gettid


def test_set_tid_address_null_is_accepted(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: kernel.set_tid_address(None).value - os.getpid()) == 0


def test_thread_exit_clears_the_word_and_wakes_its_futex_waiter(kernel: Kernel, in_child) -> None:
    """The thread exits only once the main thread sleeps in FUTEX_WAIT on the word, so
    the wait ends by the kernel's wake at exit (0), not by a value already changed."""

    def run() -> tuple[int, int, str, int]:
        word = kernel.new("int *", MARK)
        address = kernel.address(word)
        main = kernel.gettid().unwrap()
        seen: list[int] = []

        def body() -> None:
            seen.extend([kernel.set_tid_address(word).unwrap(), kernel.gettid().unwrap()])
            # in FUTEX_WAIT on the word itself, not on the interpreter lock's
            procstate.wait_blocked(kernel, main, "futex", arg0=address)

        t = threading.Thread(target=body)
        t.start()
        timeout = kernel.new("struct timespec *", (5, 0))
        r = kernel.futex(word, kernel.FUTEX_WAIT, MARK, timeout, None, 0)  # shared: as woken
        t.join()
        return seen[0], seen[1], r.outcome, int(word[0])

    returned, tid, outcome, after = in_child(run)
    assert returned == tid
    assert after == 0
    assert outcome == "ok"


def test_exit_of_a_process_alone_in_its_memory_leaves_the_word(
    kernel: Kernel, shared_page, in_child
) -> None:
    """The kernel clears the word only while other threads share the memory (mm_users
    > 1, kernel/fork.c: mm_release): a single-threaded child's exit leaves it, even
    where its parent can see it."""

    def run() -> int:
        word = kernel.ffi.cast("int *", shared_page)
        word[0] = MARK
        pid = forking.fork(kernel, lambda: kernel.set_tid_address(word).unwrap() and 0)
        forking.exit_code(kernel, pid)
        return int(word[0])

    assert in_child(run) == MARK
