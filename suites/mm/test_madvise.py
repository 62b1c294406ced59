"""madvise(2): MADV_DONTNEED semantics per mapping kind, hints, and refusals.

MADV_DONTNEED dropping private anonymous pages (they read back as zeros) is Linux's
documented behaviour; POSIX's posix_madvise never discards data, so these are Linux-only.
"""

from pathlib import Path

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")


def test_madvise_dontneed_zeroes_private_anonymous_pages(
    kernel: Kernel, maps, mem, page: int
) -> None:
    addr = maps.anon(page)
    mem(addr, 4)[:] = b"gone"
    kernel.madvise(addr, page, kernel.MADV_DONTNEED).unwrap()
    assert mem(addr, 4)[:] == b"\0\0\0\0"


def test_madvise_dontneed_keeps_shared_anonymous_data(kernel: Kernel, maps, mem, page: int) -> None:
    addr = maps.anon(page, kernel.MAP_SHARED)
    mem(addr, 4)[:] = b"kept"
    kernel.madvise(addr, page, kernel.MADV_DONTNEED).unwrap()
    assert mem(addr, 4)[:] == b"kept"


def test_madvise_dontneed_on_private_file_mapping_restores_file_data(
    kernel: Kernel, tmp: Path, fds, maps, mem, page: int
) -> None:
    (tmp / "f").write_bytes(b"file" + b"\0" * (page - 4))
    fd = kernel.openat(kernel.AT_FDCWD, tmp / "f", kernel.O_RDONLY).unwrap()
    fds.append(fd)
    addr = maps.file(fd, page, kernel.MAP_PRIVATE)
    mem(addr, 4)[:] = b"COWd"
    kernel.madvise(addr, page, kernel.MADV_DONTNEED).unwrap()
    assert mem(addr, 4)[:] == b"file"


def test_madvise_access_pattern_hints_are_accepted(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(4 * page)
    for advice in ("MADV_NORMAL", "MADV_RANDOM", "MADV_SEQUENTIAL", "MADV_WILLNEED"):
        kernel.madvise(addr, 4 * page, getattr(kernel, advice)).unwrap()


def test_madvise_unknown_advice_is_einval(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(page)
    assert kernel.madvise(addr, page, 12345).errno == "EINVAL"


def test_madvise_unaligned_address_is_einval(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(page)
    assert kernel.madvise(addr + 1, page, kernel.MADV_NORMAL).errno == "EINVAL"


def test_madvise_unmapped_range_is_enomem(kernel: Kernel, page: int) -> None:
    assert kernel.madvise(page, page, kernel.MADV_NORMAL).errno == "ENOMEM"


@pytest.mark.min_kernel("4.5")
def test_madvise_free_on_shared_mapping_is_einval(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(page, kernel.MAP_SHARED)
    assert kernel.madvise(addr, page, kernel.MADV_FREE).errno == "EINVAL"
