"""madvise(2): MADV_DONTNEED semantics per mapping kind, hints, and refusals.

MADV_DONTNEED dropping private anonymous pages (they read back as zeros) is Linux's
documented behaviour; POSIX's posix_madvise never discards data, so these are Linux-only.
"""

from pathlib import Path

import pytest

from syscalls import kconfig
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


# A zero length does nothing and succeeds before any mapping is looked at; a length
# that rounds up to zero (a small negative one) is EINVAL (mm/madvise.c do_madvise).
def test_madvise_zero_length_succeeds_even_unmapped(kernel: Kernel, page: int) -> None:
    kernel.madvise(page, 0, kernel.MADV_DONTNEED).unwrap()


def test_madvise_length_rounding_up_to_zero_is_einval(
    kernel: Kernel, maps, page: int, address_space_end: int
) -> None:
    addr = maps.anon(page)
    assert kernel.madvise(addr, address_space_end - 1, kernel.MADV_NORMAL).errno == "EINVAL"


# MADV_WIPEONFORK (Linux 4.14): a child gets zeros where the parent has data; only for
# private anonymous memory, EINVAL on a shared mapping. MADV_KEEPONFORK undoes it.
@pytest.mark.min_kernel("4.14")
def test_madvise_wipeonfork_gives_the_child_zeros(
    kernel: Kernel, maps, mem, in_child, page: int
) -> None:
    wiped, kept = maps.anon(page), maps.anon(page)
    mem(wiped, 4)[:] = b"data"
    mem(kept, 4)[:] = b"data"
    kernel.madvise(wiped, page, kernel.MADV_WIPEONFORK).unwrap()
    kernel.madvise(kept, page, kernel.MADV_WIPEONFORK).unwrap()
    kernel.madvise(kept, page, kernel.MADV_KEEPONFORK).unwrap()
    assert in_child(lambda: (bytes(mem(wiped, 4)), bytes(mem(kept, 4)))) == (b"\0" * 4, b"data")
    assert mem(wiped, 4)[:] == b"data"  # the parent's own stay


@pytest.mark.min_kernel("4.14")
def test_madvise_wipeonfork_on_a_shared_mapping_is_einval(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(page, kernel.MAP_SHARED)
    assert kernel.madvise(addr, page, kernel.MADV_WIPEONFORK).errno == "EINVAL"


# MADV_DONTFORK: the child has no mapping there at all.
def test_madvise_dontfork_leaves_the_range_unmapped_in_the_child(
    kernel: Kernel, maps, in_child, page: int
) -> None:
    addr = maps.anon(page)
    kernel.madvise(addr, page, kernel.MADV_DONTFORK).unwrap()
    vec = kernel.buf(1)
    assert in_child(lambda: kernel.mincore(addr, page, vec).outcome) == "ENOMEM"
    kernel.mincore(addr, page, vec).unwrap()  # the parent keeps it


# MADV_DONTDUMP/MADV_DODUMP set and clear VM_DONTDUMP, "dd" in VmFlags.
def test_madvise_dontdump_and_dodump_toggle_dd(kernel: Kernel, maps, vm_flags, page: int) -> None:
    addr = maps.anon(page)
    kernel.madvise(addr, page, kernel.MADV_DONTDUMP).unwrap()
    assert "dd" in vm_flags(addr)
    kernel.madvise(addr, page, kernel.MADV_DODUMP).unwrap()
    assert "dd" not in vm_flags(addr)


# MADV_REMOVE punches a hole in the file behind a shared writable mapping (mm/madvise.c
# madvise_remove); private anonymous memory has no file: EINVAL; a shared mapping that
# may never be written (its fd read-only): EACCES.
def test_madvise_remove_punches_a_hole_in_the_file(
    kernel: Kernel, tmp: Path, fds, maps, mem, page: int
) -> None:
    (tmp / "f").write_bytes(b"x" * 2 * page)
    fd = kernel.openat(kernel.AT_FDCWD, tmp / "f", kernel.O_RDWR).unwrap()
    fds.append(fd)
    addr = maps.file(fd, 2 * page, kernel.MAP_SHARED)
    r = kernel.madvise(addr, page, kernel.MADV_REMOVE)
    if r.errno == "EOPNOTSUPP":
        pytest.skip(f"the file system under {tmp} cannot punch holes")
    r.unwrap()
    assert (tmp / "f").read_bytes() == b"\0" * page + b"x" * page
    assert mem(addr, 1)[0] == b"\0"


def test_madvise_remove_refusals(kernel: Kernel, tmp: Path, fds, maps, page: int) -> None:
    anon = maps.anon(page)
    assert kernel.madvise(anon, page, kernel.MADV_REMOVE).errno == "EINVAL"
    (tmp / "f").write_bytes(b"x" * page)
    fd = kernel.openat(kernel.AT_FDCWD, tmp / "f", kernel.O_RDONLY).unwrap()
    fds.append(fd)
    ro = maps.file(fd, page, kernel.MAP_SHARED, kernel.PROT_READ)
    assert kernel.madvise(ro, page, kernel.MADV_REMOVE).errno == "EACCES"
    assert (tmp / "f").read_bytes() == b"x" * page


# A hole in the range: ENOMEM, yet the advice is applied to the mappings on both sides
# of it (mm/madvise.c madvise_walk_vmas carries on past a hole).
def test_madvise_across_a_hole_is_enomem_but_advises_both_sides(
    kernel: Kernel, maps, mem, page: int
) -> None:
    addr = maps.anon(3 * page)
    mem(addr, 3 * page)[:] = b"x" * 3 * page
    maps.unmap(addr + page, page).unwrap()
    maps.held += [(addr, page), (addr + 2 * page, page)]
    assert kernel.madvise(addr, 3 * page, kernel.MADV_DONTNEED).errno == "ENOMEM"
    assert mem(addr, 1)[0] == b"\0" and mem(addr + 2 * page, 1)[0] == b"\0"


# Injecting memory errors is CAP_SYS_ADMIN's (mm/madvise.c madvise_inject_error), asked
# before any page is touched. Disposable: a kernel that let a user through would take a
# page of the machine's memory out of use.
@pytest.mark.disposable
@pytest.mark.as_user("root may poison or offline pages (CAP_SYS_ADMIN)")
@pytest.mark.parametrize("advice", ["MADV_HWPOISON", "MADV_SOFT_OFFLINE"])
def test_madvise_memory_error_injection_as_a_user_is_eperm(
    kernel: Kernel, maps, mem, page: int, advice: str
) -> None:
    addr = maps.anon(page)
    mem(addr, 1)[:] = b"\x01"  # a page there to poison
    r = kernel.madvise(addr, page, getattr(kernel, advice))
    if r.errno == "EINVAL" and kconfig.built_without("CONFIG_MEMORY_FAILURE"):
        pytest.skip(f"{advice} is unknown here (EINVAL: no CONFIG_MEMORY_FAILURE)")
    assert r.errno == "EPERM"
