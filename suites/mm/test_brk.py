"""brk(2) (Linux): the raw syscall returns the break, never -1.

On failure Linux returns the unchanged current break rather than an error (the libc
wrapper turns that into ENOMEM). Moving the break runs in a child, since the
interpreter's allocator owns the heap.
"""

import resource

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")


def test_brk_zero_reports_the_current_break(kernel: Kernel) -> None:
    first = kernel.brk(0).unwrap()
    assert first > 0
    assert kernel.brk(0).unwrap() == first


def test_brk_grow_maps_usable_memory_and_shrinks_back(kernel: Kernel, in_child, page: int) -> None:
    def grow() -> tuple[int, int, bytes]:
        cur = kernel.brk(0).unwrap()
        top = (cur + 2 * page) & ~(page - 1)
        got = kernel.brk(top).unwrap()
        kernel.ffi.buffer(kernel.ffi.cast("char *", top - page), 3)[:] = b"brk"
        seen = bytes(kernel.ffi.buffer(kernel.ffi.cast("char *", top - page), 3))
        back = kernel.brk(cur).unwrap()
        return got - top, back - cur, seen

    assert in_child(grow) == (0, 0, b"brk")


def test_brk_below_the_heap_start_leaves_break_unchanged(kernel: Kernel, in_child) -> None:
    def shrink_too_far() -> int:
        cur = kernel.brk(0).unwrap()
        return kernel.brk(4096).unwrap() - cur

    assert in_child(shrink_too_far) == 0


def _mem(kernel: Kernel, addr: int, n: int):
    return kernel.ffi.buffer(kernel.ffi.cast("char *", addr), n)


def test_brk_memory_given_back_and_taken_again_is_zero(kernel: Kernel, in_child, page: int):
    def run() -> bytes:
        cur = kernel.brk(0).unwrap()
        top = (cur + 2 * page) & ~(page - 1)
        kernel.brk(top).unwrap()
        _mem(kernel, top - page, 4)[:] = b"old!"
        kernel.brk(cur).unwrap()  # the page goes ...
        kernel.brk(top).unwrap()  # ... and a fresh one comes
        seen = bytes(_mem(kernel, top - page, 4))
        kernel.brk(cur).unwrap()
        return seen

    assert in_child(run) == b"\0\0\0\0"


def test_brk_past_rlimit_data_leaves_the_break_unchanged(kernel: Kernel, in_child, page: int):
    """RLIMIT_DATA bounds the heap with the process's other private writable memory
    (mm/mmap.c: check_data_rlimit, may_expand_vm): one page is far below what this
    process holds already, so the break may not grow; back at the hard limit, it may."""

    def run() -> tuple[int, int]:
        cur = kernel.brk(0).unwrap()
        hard = resource.getrlimit(resource.RLIMIT_DATA)[1]
        resource.setrlimit(resource.RLIMIT_DATA, (page, hard))
        refused = kernel.brk(cur + page).unwrap() - cur
        resource.setrlimit(resource.RLIMIT_DATA, (hard, hard))
        taken = kernel.brk(cur + page).unwrap() - cur
        kernel.brk(cur).unwrap()
        return refused, taken

    assert in_child(run) == (0, page)


def test_brk_onto_another_mapping_leaves_the_break_unchanged(
    kernel: Kernel, in_child, page: int
) -> None:
    def run() -> tuple[int, int, int]:
        cur = kernel.brk(0).unwrap()
        above = ((cur + page - 1) & ~(page - 1)) + 2 * page  # two pages above the break
        prot, flags = kernel.PROT_READ, kernel.MAP_PRIVATE | kernel.MAP_ANONYMOUS
        got = kernel.mmap(above, page, prot, flags | kernel.MAP_FIXED_NOREPLACE, -1, 0)
        if got.errno == "EEXIST":
            pytest.skip("something is mapped just above the break already")
        if got.unwrap() != above:  # before Linux 4.17 the flag was only a hint
            pytest.skip(f"mmap with MAP_FIXED_NOREPLACE did not place the page at {above:#x}")
        onto = kernel.brk(above + page).unwrap() - cur
        short = above - page - cur
        below = kernel.brk(cur + short).unwrap() - cur  # a page short of it
        kernel.brk(cur).unwrap()
        return onto, below, short

    onto, below, short = in_child(run)
    assert onto == 0  # refused: the break stays
    assert below == short  # short of the mapping, it moves
