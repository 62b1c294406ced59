"""msync(2): writing a shared file mapping back, and flag/range checks."""

from pathlib import Path

import pytest

from syscalls.kernel import Kernel


def test_msync_sync_leaves_mapping_data_in_the_file(
    kernel: Kernel, tmp: Path, fds, maps, mem, page: int
) -> None:
    (tmp / "f").write_bytes(b"\0" * page)
    fd = kernel.openat(kernel.AT_FDCWD, tmp / "f", kernel.O_RDWR).unwrap()
    fds.append(fd)
    addr = maps.file(fd, page, kernel.MAP_SHARED)
    mem(addr, 6)[:] = b"synced"
    kernel.msync(addr, page, kernel.MS_SYNC).unwrap()
    assert (tmp / "f").read_bytes()[:6] == b"synced"


def test_msync_async_and_invalidate_are_accepted(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(page, kernel.MAP_SHARED)
    kernel.msync(addr, page, kernel.MS_ASYNC).unwrap()
    kernel.msync(addr, page, kernel.MS_INVALIDATE).unwrap()


def test_msync_async_with_sync_is_einval(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(page, kernel.MAP_SHARED)
    assert kernel.msync(addr, page, kernel.MS_ASYNC | kernel.MS_SYNC).errno == "EINVAL"


def test_msync_unknown_flag_is_einval(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(page, kernel.MAP_SHARED)
    assert kernel.msync(addr, page, 1 << 10).errno == "EINVAL"


def test_msync_unaligned_address_is_einval(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(page, kernel.MAP_SHARED)
    assert kernel.msync(addr + 1, page, kernel.MS_SYNC).errno == "EINVAL"


def test_msync_unmapped_range_is_enomem(kernel: Kernel, page: int) -> None:
    assert kernel.msync(page, page, kernel.MS_SYNC).errno == "ENOMEM"


def test_msync_zero_length_succeeds_even_unmapped(kernel: Kernel, page: int) -> None:
    kernel.msync(page, 0, kernel.MS_SYNC).unwrap()


@pytest.mark.os("linux")
def test_msync_range_wrapping_the_address_space_is_enomem(
    kernel: Kernel, maps, page: int, address_space_end: int
) -> None:
    addr = maps.anon(page, kernel.MAP_SHARED)
    huge = address_space_end - page
    assert kernel.msync(addr, huge, kernel.MS_SYNC).errno == "ENOMEM"


# MS_INVALIDATE on locked pages: EBUSY (mm/msync.c).
@pytest.mark.os("linux")
def test_msync_invalidate_of_locked_pages_is_ebusy(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(page, kernel.MAP_SHARED)
    r = kernel.mlock(addr, page)
    if r.errno in ("EPERM", "ENOMEM"):
        pytest.skip(f"cannot lock a page here (RLIMIT_MEMLOCK): {r.errno}")
    r.unwrap()
    assert kernel.msync(addr, page, kernel.MS_INVALIDATE).errno == "EBUSY"
    kernel.msync(addr, page, kernel.MS_SYNC).unwrap()  # without MS_INVALIDATE: fine
