"""mprotect(2): protection changes take effect at once; refusals for bad ranges."""

import faulthandler
from pathlib import Path

import pytest

from syscalls.child import ChildFailed
from syscalls.kernel import Kernel


def test_mprotect_read_only_then_write_is_sigsegv(
    kernel: Kernel, maps, mem, in_child, page: int
) -> None:
    addr = maps.anon(page)
    view = mem(addr, page)
    view[0] = b"a"
    kernel.mprotect(addr, page, kernel.PROT_READ).unwrap()
    assert view[0] == b"a"  # reading is still allowed

    def write() -> None:
        faulthandler.disable()
        view[0] = b"b"

    with pytest.raises(ChildFailed, match="SIGSEGV"):
        in_child(write)


def test_mprotect_restoring_write_allows_writes(kernel: Kernel, maps, mem, page: int) -> None:
    addr = maps.anon(page)
    kernel.mprotect(addr, page, kernel.PROT_NONE).unwrap()
    kernel.mprotect(addr, page, kernel.PROT_READ | kernel.PROT_WRITE).unwrap()
    mem(addr, 1)[0] = b"z"
    assert mem(addr, 1)[0] == b"z"


def test_mprotect_unaligned_address_is_einval(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(page)
    assert kernel.mprotect(addr + 1, 1, kernel.PROT_READ).errno == "EINVAL"


def test_mprotect_unmapped_range_is_enomem(kernel: Kernel, page: int) -> None:
    assert kernel.mprotect(page, page, kernel.PROT_READ).errno == "ENOMEM"


def test_mprotect_unknown_prot_bit_is_einval(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(page)
    assert kernel.mprotect(addr, page, 1 << 20).errno == "EINVAL"


def test_mprotect_write_on_shared_read_only_file_mapping_is_eacces(
    kernel: Kernel, tmp: Path, fds, maps, page: int
) -> None:
    (tmp / "f").write_bytes(b"x" * page)
    fd = kernel.openat(kernel.AT_FDCWD, tmp / "f", kernel.O_RDONLY).unwrap()
    fds.append(fd)
    addr = maps.file(fd, page, kernel.MAP_SHARED, kernel.PROT_READ)
    r = kernel.mprotect(addr, page, kernel.PROT_READ | kernel.PROT_WRITE)
    assert r.errno == "EACCES"


# A zero length changes nothing and succeeds before any mapping is looked up (mm/mprotect.c
# do_mprotect_pkey: "if (!len) return 0"), so an unmapped address is fine.
def test_mprotect_zero_length_succeeds_even_unmapped(kernel: Kernel, page: int) -> None:
    assert kernel.mprotect(page, 0, kernel.PROT_READ).unwrap() == 0


# The length is rounded up to whole pages: a length one byte past a page covers two.
@pytest.mark.os("linux")
def test_mprotect_length_is_rounded_up_to_whole_pages(kernel: Kernel, maps, vma, page: int) -> None:
    addr = maps.anon(3 * page)
    kernel.mprotect(addr, page + 1, kernel.PROT_READ).unwrap()
    assert [vma(addr + i * page).perms for i in range(3)] == ["r--p", "r--p", "rw-p"]


@pytest.mark.os("linux")
def test_mprotect_range_wrapping_the_address_space_is_enomem_and_changes_nothing(
    kernel: Kernel, maps, vma, address_space_end: int, page: int
) -> None:
    addr = maps.anon(page)
    huge = address_space_end - page  # addr + this wraps past 0
    assert kernel.mprotect(addr, huge, kernel.PROT_READ).errno == "ENOMEM"
    assert vma(addr).perms.startswith("rw")


# A hole inside the range: ENOMEM (mm/mprotect.c: the next mapping does not start where
# the last one ended).
def test_mprotect_range_with_a_hole_is_enomem(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(3 * page)
    maps.unmap(addr + page, page)
    maps.held += [(addr, page), (addr + 2 * page, page)]
    assert kernel.mprotect(addr, 3 * page, kernel.PROT_READ).errno == "ENOMEM"


@pytest.mark.os("linux")
def test_mprotect_growsdown_and_growsup_together_is_einval(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(page)
    both = kernel.PROT_GROWSDOWN | kernel.PROT_GROWSUP
    assert kernel.mprotect(addr, page, kernel.PROT_READ | both).errno == "EINVAL"


# PROT_GROWSDOWN asks to extend the change down to the start of a grows-down mapping; on
# an ordinary mapping it is EINVAL.
@pytest.mark.os("linux")
def test_mprotect_growsdown_on_an_ordinary_mapping_is_einval(
    kernel: Kernel, maps, page: int
) -> None:
    addr = maps.anon(page)
    prot = kernel.PROT_READ | kernel.PROT_GROWSDOWN
    assert kernel.mprotect(addr, page, prot).errno == "EINVAL"
