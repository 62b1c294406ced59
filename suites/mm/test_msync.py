"""msync(2): writing a shared file mapping back, and flag/range checks."""

from pathlib import Path

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
