"""BadMemory: the addresses it hands out are refused by the kernel, and it cleans up."""

import mmap
import os

import pytest

from syscalls.abi import Platform
from syscalls.badmem import BadMemory
from syscalls.kernel import Kernel


@pytest.fixture(scope="module")
def k() -> Kernel:
    return Kernel(Platform.load())


def _mincore(k: Kernel, addr: int) -> str:
    return k.mincore(addr, mmap.PAGESIZE, k.buf(1)).outcome


def test_unmapped_names_a_page_that_is_not_mapped(k: Kernel) -> None:
    addr = BadMemory(k).unmapped()
    assert addr >= 0  # unsigned, as a register holds it
    assert _mincore(k, addr) == "ENOMEM"


def test_pages_are_mapped_with_their_protection_until_close(k: Kernel) -> None:
    bad = BadMemory(k)
    addr = bad.page(k.PROT_NONE)
    assert _mincore(k, addr) == "ok"
    r, w = os.pipe()
    try:
        os.write(w, b"x")
        assert k.read(r, addr, 1).outcome == "EFAULT"  # no writing into PROT_NONE
    finally:
        os.close(r)
        os.close(w)
    bad.close()
    assert _mincore(k, addr) == "ENOMEM"


def test_above_user_is_refused_as_efault_on_64_bit(k: Kernel) -> None:
    addr = BadMemory(k).above_user()
    if k.ffi.sizeof("long") == 4:
        assert addr is None
    else:
        assert k.getcwd(addr, 4096).outcome == "EFAULT"  # room for any working directory
