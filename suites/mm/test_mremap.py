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


def test_mremap_unknown_flag_is_einval(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(page)
    assert kernel.mremap(addr, page, 2 * page, kernel.MREMAP_MAYMOVE | 1 << 6, 0).errno == "EINVAL"


def test_mremap_to_zero_length_is_einval(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(page)
    assert kernel.mremap(addr, page, 0, kernel.MREMAP_MAYMOVE, 0).errno == "EINVAL"


# MREMAP_DONTUNMAP is always a move of the same size (mm/mremap.c).
@pytest.mark.min_kernel("5.7")
def test_mremap_dontunmap_without_maymove_or_resizing_is_einval(
    kernel: Kernel, maps, page: int
) -> None:
    addr = maps.anon(2 * page)
    dontunmap = kernel.MREMAP_DONTUNMAP
    assert kernel.mremap(addr, page, page, dontunmap, 0).errno == "EINVAL"
    flags = dontunmap | kernel.MREMAP_MAYMOVE
    assert kernel.mremap(addr, page, 2 * page, flags, 0).errno == "EINVAL"


def test_mremap_fixed_onto_an_overlapping_range_is_einval(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(4 * page)
    flags = kernel.MREMAP_MAYMOVE | kernel.MREMAP_FIXED
    assert kernel.mremap(addr, 2 * page, 2 * page, flags, addr + page).errno == "EINVAL"
    assert kernel.mremap(addr + page, 2 * page, 2 * page, flags, addr).errno == "EINVAL"


def test_mremap_fixed_to_an_unaligned_address_is_einval(kernel: Kernel, maps, page: int) -> None:
    src = maps.anon(page)
    dst = maps.anon(page)
    flags = kernel.MREMAP_MAYMOVE | kernel.MREMAP_FIXED
    assert kernel.mremap(src, page, page, flags, dst + 1).errno == "EINVAL"


# The old range must lie in one mapping: past its end is EFAULT (mm/mremap.c
# vma_to_resize), even when the next mapping follows at once.
def test_mremap_old_range_across_two_mappings_is_efault(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(2 * page)
    kernel.mprotect(addr + page, page, kernel.PROT_READ).unwrap()  # now two mappings
    assert kernel.mremap(addr, 2 * page, 3 * page, kernel.MREMAP_MAYMOVE, 0).errno == "EFAULT"


# An old length of 0 on a shared mapping makes a second mapping of the same pages
# (mm/mremap.c: the "duplicate shm area" case).
def test_mremap_zero_old_length_duplicates_a_shared_mapping(
    kernel: Kernel, maps, mem, page: int
) -> None:
    addr = maps.anon(page, kernel.MAP_SHARED)
    twin = maps(kernel.mremap(addr, 0, page, kernel.MREMAP_MAYMOVE, 0), page)
    assert twin != addr
    mem(twin, 4)[:] = b"twin"
    assert mem(addr, 4)[:] == b"twin"


# Growing with free room right after the mapping: it grows where it is, no
# MREMAP_MAYMOVE needed (mm/mremap.c vma_expandable). The room is made by unmapping
# the tail of a larger mapping.
def test_mremap_grows_in_place_into_free_room(kernel: Kernel, maps, mem, page: int) -> None:
    addr = maps.anon(4 * page)
    maps.unmap(addr + page, 3 * page).unwrap()
    maps.held.append((addr, page))
    mem(addr, 4)[:] = b"stay"
    assert kernel.mremap(addr, page, 3 * page, 0, 0).unwrap() == addr
    maps.forget(addr)
    maps.held.append((addr, 3 * page))
    assert mem(addr, 4)[:] == b"stay"
    mem(addr + 3 * page - 1, 1)[0] = b"!"  # the grown tail is mapped and writable
