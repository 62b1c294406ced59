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
