"""mremap(2) (Linux): growing, shrinking and moving mappings with their contents.

MREMAP_DONTUNMAP needs Linux 5.7.
"""

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")


def test_mremap_grow_maymove_keeps_contents(kernel: Kernel, maps, mem, page: int) -> None:
    addr = maps.anon(page)
    mem(addr, 5)[:] = b"hello"
    new = kernel.mremap(addr, page, 4 * page, kernel.MREMAP_MAYMOVE, 0).unwrap()
    maps.forget(addr)
    maps.held.append((new, 4 * page))
    view = mem(new, 4 * page)
    assert view[0:5] == b"hello"
    view[4 * page - 1] = b"!"  # the grown tail is mapped and writable


def test_mremap_shrink_keeps_address(kernel: Kernel, maps, mem, page: int) -> None:
    addr = maps.anon(4 * page)
    mem(addr, 3)[:] = b"abc"
    assert kernel.mremap(addr, 4 * page, page, 0, 0).unwrap() == addr
    maps.forget(addr)
    maps.held.append((addr, page))
    assert mem(addr, 3)[:] == b"abc"
    assert kernel.mincore(addr + page, page, kernel.buf(1)).errno == "ENOMEM"  # tail gone


def test_mremap_grow_in_place_into_a_neighbour_is_enomem(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(2 * page)
    # A neighbour with another protection, so the two mappings cannot merge.
    kernel.mprotect(addr + page, page, kernel.PROT_READ).unwrap()
    assert kernel.mremap(addr, page, 2 * page, 0, 0).errno == "ENOMEM"


def test_mremap_fixed_moves_to_the_given_address(kernel: Kernel, maps, mem, page: int) -> None:
    src = maps.anon(page)
    dst = maps.anon(page)
    mem(src, 4)[:] = b"move"
    flags = kernel.MREMAP_MAYMOVE | kernel.MREMAP_FIXED
    assert kernel.mremap(src, page, page, flags, dst).unwrap() == dst
    maps.forget(src)
    assert mem(dst, 4)[:] == b"move"


def test_mremap_fixed_without_maymove_is_einval(kernel: Kernel, maps, page: int) -> None:
    src = maps.anon(page)
    dst = maps.anon(page)
    assert kernel.mremap(src, page, page, kernel.MREMAP_FIXED, dst).errno == "EINVAL"


def test_mremap_unaligned_address_is_einval(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(page)
    assert kernel.mremap(addr + 1, page, 2 * page, kernel.MREMAP_MAYMOVE, 0).errno == "EINVAL"


@pytest.mark.requires("fault_handler")
def test_mremap_unmapped_address_is_efault(kernel: Kernel, page: int) -> None:
    assert kernel.mremap(page, page, 2 * page, kernel.MREMAP_MAYMOVE, 0).errno == "EFAULT"


@pytest.mark.min_kernel("5.7")
def test_mremap_dontunmap_moves_pages_and_leaves_old_range_empty(
    kernel: Kernel, maps, mem, page: int
) -> None:
    addr = maps.anon(page)
    mem(addr, 4)[:] = b"data"
    flags = kernel.MREMAP_MAYMOVE | kernel.MREMAP_DONTUNMAP
    new = maps(kernel.mremap(addr, page, page, flags, 0), page)
    assert mem(new, 4)[:] == b"data"
    assert mem(addr, 4)[:] == b"\0\0\0\0"  # still mapped, its pages moved away
