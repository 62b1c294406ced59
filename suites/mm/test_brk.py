"""brk(2) (Linux): the raw syscall returns the break, never -1.

On failure Linux returns the unchanged current break rather than an error (the libc
wrapper turns that into ENOMEM). Moving the break runs in a child, since the
interpreter's allocator owns the heap.
"""

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
