"""remap_file_pages(2): rearranging which file pages a shared mapping shows. Deprecated
since Linux 3.16 and emulated since: the kernel makes a new mapping of the file at that
offset over the range (mm/mmap.c), so it works on shared file mappings only, and it
logs a deprecation warning once per boot.
"""

from pathlib import Path

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

PAGES = 4


@pytest.fixture
def shared_file(kernel: Kernel, tmp: Path, maps, page: int, fds: list[int]) -> int:
    """A MAP_SHARED mapping of a 4-page file whose page i is filled with digit i."""
    path = tmp / "pages"
    path.write_bytes(b"".join(str(i).encode() * page for i in range(PAGES)))
    fd = kernel.openat(kernel.AT_FDCWD, path, kernel.O_RDWR, 0).unwrap()
    fds.append(fd)
    return maps.file(fd, PAGES * page, kernel.MAP_SHARED)


def _page_byte(kernel: Kernel, addr: int) -> bytes:
    return kernel.bytes(kernel.ffi.cast("char *", addr), 1)


def test_remap_shows_another_file_page_at_the_start(
    kernel: Kernel, shared_file: int, page: int
) -> None:
    kernel.remap_file_pages(shared_file, page, 0, 2, 0).unwrap()
    seen = [_page_byte(kernel, shared_file + i * page) for i in range(PAGES)]
    assert seen == [b"2", b"1", b"2", b"3"]


def test_remap_of_two_pages_shows_them_in_file_order(
    kernel: Kernel, shared_file: int, page: int
) -> None:
    kernel.remap_file_pages(shared_file + 2 * page, 2 * page, 0, 0, 0).unwrap()
    seen = [_page_byte(kernel, shared_file + i * page) for i in range(PAGES)]
    assert seen == [b"0", b"1", b"0", b"1"]


def test_writes_through_a_remapped_page_reach_that_file_page(
    kernel: Kernel, shared_file: int, page: int, tmp: Path
) -> None:
    kernel.remap_file_pages(shared_file, page, 0, 3, 0).unwrap()
    kernel.ffi.cast("char *", shared_file)[0] = b"W"
    kernel.msync(shared_file, page, kernel.MS_SYNC).unwrap()
    assert (tmp / "pages").read_bytes()[3 * page] == ord("W")


def test_remap_of_a_private_mapping_is_einval(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(page)
    assert kernel.remap_file_pages(addr, page, 0, 0, 0).errno == "EINVAL"


def test_remap_with_a_protection_is_einval(kernel: Kernel, shared_file: int, page: int) -> None:
    assert kernel.remap_file_pages(shared_file, page, kernel.PROT_READ, 1, 0).errno == "EINVAL"


def test_remap_ignores_its_flags(kernel: Kernel, shared_file: int, page: int) -> None:
    """The emulation reads no flag (MAP_NONBLOCK is the only one documented)."""
    assert kernel.remap_file_pages(shared_file, page, 0, 1, kernel.MAP_NONBLOCK).unwrap() == 0
    assert kernel.remap_file_pages(shared_file, page, 0, 3, 1 << 30).unwrap() == 0
    assert _page_byte(kernel, shared_file) == b"3"


def test_remap_rounds_an_unaligned_start_down(kernel: Kernel, shared_file: int, page: int) -> None:
    kernel.remap_file_pages(shared_file + 100, page, 0, 2, 0).unwrap()
    assert _page_byte(kernel, shared_file) == b"2"


def test_remap_past_the_mapping_is_einval(kernel: Kernel, shared_file: int, page: int) -> None:
    r = kernel.remap_file_pages(shared_file + page, PAGES * page, 0, 0, 0)
    assert r.errno == "EINVAL"


def test_remap_of_unmapped_memory_is_einval(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(page)
    maps.unmap(addr, page)
    assert kernel.remap_file_pages(addr, page, 0, 0, 0).errno == "EINVAL"
