"""mincore(2): residency of touched pages, and argument checks.

Whether an untouched page counts as resident differs (gVisor reports every page
resident), so only pages the test touched are asserted.
"""

import pytest

from syscalls.kernel import Kernel

BAD_ADDRESS = 8


def test_mincore_reports_touched_pages_resident(kernel: Kernel, maps, mem, page: int) -> None:
    addr = maps.anon(3 * page)
    view = mem(addr, 3 * page)
    for i in range(3):
        view[i * page] = b"x"
    vec = kernel.buf(3)
    kernel.mincore(addr, 3 * page, vec).unwrap()
    assert [vec[i][0] & 1 for i in range(3)] == [1, 1, 1]


def test_mincore_length_ending_inside_a_page_covers_that_page(
    kernel: Kernel, maps, mem, page: int
) -> None:
    addr = maps.anon(2 * page)
    view = mem(addr, 2 * page)
    view[0] = b"x"
    view[page] = b"x"
    vec = kernel.buf(2)
    kernel.mincore(addr, page + 1, vec).unwrap()
    assert [vec[i][0] & 1 for i in range(2)] == [1, 1]


def test_mincore_unaligned_address_is_einval(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(page)
    assert kernel.mincore(addr + 1, page, kernel.buf(1)).errno == "EINVAL"


def test_mincore_unmapped_range_is_enomem(kernel: Kernel, page: int) -> None:
    assert kernel.mincore(page, page, kernel.buf(1)).errno == "ENOMEM"


@pytest.mark.requires("fault_handler")
def test_mincore_bad_vector_is_efault(kernel: Kernel, maps, mem, page: int) -> None:
    addr = maps.anon(page)
    mem(addr, 1)[0] = b"x"
    assert kernel.mincore(addr, page, BAD_ADDRESS).errno == "EFAULT"
