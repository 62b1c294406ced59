"""munmap(2): unmapped memory faults; alignment and length are checked; holes are fine."""

import faulthandler

import pytest

from syscalls.child import ChildFailed
from syscalls.kernel import Kernel


@pytest.mark.smoke
def test_munmap_then_access_is_sigsegv(kernel: Kernel, in_child, page: int) -> None:
    def unmap_and_touch() -> None:
        faulthandler.disable()
        flags = kernel.MAP_PRIVATE | kernel.MAP_ANONYMOUS
        addr = kernel.mmap(0, page, kernel.PROT_READ | kernel.PROT_WRITE, flags, -1, 0).unwrap()
        kernel.munmap(addr, page).unwrap()
        kernel.ffi.cast("char *", addr)[0] = b"x"

    with pytest.raises(ChildFailed, match="SIGSEGV"):
        in_child(unmap_and_touch)


def test_munmap_length_ending_inside_a_page_unmaps_that_whole_page(
    kernel: Kernel, maps, in_child, page: int
) -> None:
    addr = maps.anon(2 * page)
    kernel.munmap(addr, page + 1).unwrap()  # rounded up: both pages go
    maps.forget(addr)

    def touch_second_page() -> None:
        faulthandler.disable()
        kernel.ffi.cast("char *", addr + page)[0] = b"x"

    with pytest.raises(ChildFailed, match="SIGSEGV"):
        in_child(touch_second_page)


@pytest.mark.smoke
def test_munmap_middle_page_keeps_both_neighbours(kernel: Kernel, maps, mem, page: int) -> None:
    addr = maps.anon(3 * page)
    mem(addr, 1)[0] = b"a"
    mem(addr + 2 * page, 1)[0] = b"c"
    kernel.munmap(addr + page, page).unwrap()
    maps.forget(addr)  # teardown must not unmap the hole: someone may map there
    maps.held += [(addr, page), (addr + 2 * page, page)]
    assert mem(addr, 1)[0] == b"a"
    assert mem(addr + 2 * page, 1)[0] == b"c"


@pytest.mark.smoke
def test_munmap_unaligned_address_is_einval(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(page)
    assert kernel.munmap(addr + 1, page).errno == "EINVAL"


@pytest.mark.smoke
def test_munmap_zero_length_is_einval(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(page)
    assert kernel.munmap(addr, 0).errno == "EINVAL"


@pytest.mark.smoke
def test_munmap_of_unmapped_range_succeeds(kernel: Kernel, page: int) -> None:
    # Below mmap_min_addr nothing is ever mapped; POSIX and Linux call this a success.
    kernel.munmap(page, page).unwrap()
