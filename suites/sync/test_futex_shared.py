"""Shared futexes: what a futex is keyed by decides who can wake whom.

kernel/futex/core.c get_futex_key: a private op (FUTEX_PRIVATE_FLAG) keys by address
space and address; a shared op looks the page up: an anonymous page (private memory,
or a copy made by copy-on-write) is still keyed by address space and address, a page
of a file or of shared memory by inode and offset, whoever maps it and wherever. A
shared op takes the page for writing first, which breaks copy-on-write in a writable
private mapping; only a read-only mapping keeps the file's own page, and its key.
"""

import mmap
import signal

import pytest

from syscalls import forking, procstate
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

PAGE = mmap.PAGESIZE


def _file(kernel: Kernel, tmp) -> int:
    path = tmp / "futex"
    path.write_bytes(bytes(PAGE))
    return kernel.openat(kernel.AT_FDCWD, path, kernel.O_RDWR).unwrap()


def _map(kernel: Kernel, fd: int, prot: str = "rw", flags: str = "MAP_SHARED"):
    k = kernel
    p = k.PROT_READ | (k.PROT_WRITE if prot == "rw" else 0)
    return k.ffi.cast("uint32_t *", k.mmap(0, PAGE, p, getattr(k, flags), fd, 0).unwrap())


def _waiting_child(kernel: Kernel, futex, word, op: str = "FUTEX_WAIT", before=None) -> int:
    """A child that waits on `word` (after running `before`); exits 0 once woken."""

    def body() -> int:
        if before:
            before()
        return 0 if futex.wait(word, word[0], op).ok else 1

    pid = forking.fork(kernel, body)
    futex.until_waiting(pid, word)
    return pid


def test_futex_on_a_shared_file_mapping_wakes_another_process(
    kernel: Kernel, futex, in_child, tmp
) -> None:
    def run() -> tuple[int, int]:
        word = _map(kernel, _file(kernel, tmp))
        pid = _waiting_child(kernel, futex, word)
        return futex.wake(word, 1, "FUTEX_WAKE").unwrap(), forking.exit_code(kernel, pid)

    assert in_child(run) == (1, 0)


def test_futex_on_a_file_is_keyed_by_the_page_not_the_mapping(
    kernel: Kernel, futex, in_child, tmp
) -> None:
    """A waiter on one mapping of the file, woken through another mapped elsewhere."""

    def run() -> tuple[bool, int, str]:
        fd = _file(kernel, tmp)
        here, there = _map(kernel, fd), _map(kernel, fd)
        waiter = futex.in_thread(lambda: futex.wait(here, 0, "FUTEX_WAIT").outcome)
        futex.until_waiting(waiter.tid, here)
        woken = futex.wake(there, 1, "FUTEX_WAKE").unwrap()
        return futex.addr(here) != futex.addr(there), woken, waiter.join()

    assert in_child(run) == (True, 1, "ok")


def test_futex_private_ops_on_two_mappings_of_a_file_are_two_futexes(
    kernel: Kernel, futex, in_child, tmp
) -> None:
    def run() -> tuple[int, int, str]:
        fd = _file(kernel, tmp)
        here, there = _map(kernel, fd), _map(kernel, fd)
        waiter = futex.in_thread(lambda: futex.wait(here, 0).outcome)
        futex.until_waiting(waiter.tid, here)
        missed = futex.wake(there).unwrap()
        return missed, futex.wake(here).unwrap(), waiter.join()

    assert in_child(run) == (0, 1, "ok")


def test_futex_private_wake_from_another_process_misses_a_shared_waiter(
    kernel: Kernel, futex, in_child
) -> None:
    def run() -> tuple[int, int, int]:
        word = futex.shared_page()
        pid = _waiting_child(kernel, futex, word)
        missed = futex.wake(word).unwrap()  # keyed by this address space: nobody there
        woken = futex.wake(word, 1, "FUTEX_WAKE").unwrap()
        return missed, woken, forking.exit_code(kernel, pid)

    assert in_child(run) == (0, 1, 0)


@pytest.mark.parametrize("child_writes", [True, False])
def test_futex_in_a_private_mapping_after_fork_is_the_childs_own(
    kernel: Kernel, futex, in_child, tmp, child_writes: bool
) -> None:
    """MAP_PRIVATE of a file, shared by parent and child until one writes. The child's
    shared-op wait takes its page for writing (breaking copy-on-write whether or not it
    wrote first), so the parent's wake at the same address reaches no one."""

    def run() -> tuple[int, bool]:
        word = _map(kernel, _file(kernel, tmp), flags="MAP_PRIVATE")

        def write() -> None:
            word[0] = 0

        pid = _waiting_child(kernel, futex, word, before=write if child_writes else None)
        try:
            missed = futex.wake(word, 1, "FUTEX_WAKE").unwrap()
            return missed, procstate.blocked_in(kernel, pid, "futex", futex.addr(word))
        finally:
            kernel.kill(pid, signal.SIGKILL)
            forking.wait(kernel, pid)

    assert in_child(run) == (0, True)


def test_futex_in_a_read_only_private_file_mapping_is_keyed_by_the_file(
    kernel: Kernel, futex, in_child, tmp
) -> None:
    """Read-only, the page is never copied: the child waits on the file's own page, and
    a wake through a shared mapping of the file reaches it."""

    def run() -> tuple[int, int]:
        fd = _file(kernel, tmp)
        shared = _map(kernel, fd)
        private = _map(kernel, fd, prot="r", flags="MAP_PRIVATE")
        pid = _waiting_child(kernel, futex, private)
        return futex.wake(shared, 1, "FUTEX_WAKE").unwrap(), forking.exit_code(kernel, pid)

    assert in_child(run) == (1, 0)
