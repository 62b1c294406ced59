"""mmap(2) flags beyond sharing and placement: MAP_GROWSDOWN, MAP_POPULATE, MAP_LOCKED,
MAP_NORESERVE, MAP_STACK, MAP_32BIT, MAP_HUGETLB.

What the flags did is read back from the kernel: residency (mincore), /proc/self/maps
and the VmFlags of /proc/self/smaps (gd grows down, lo locked, nr no reserve, ht
hugetlb, nh no huge pages), VmLck of /proc/self/status. Faults that may kill happen in
a child. MAP_32BIT is x86_64's alone (arch/x86/kernel/sys_x86_64.c; the kernel ignores
it for 32-bit tasks); hugetlb tests need huge pages in the pool and never change it.
"""

import faulthandler
import os
import re
from pathlib import Path

import pytest

from syscalls.child import ChildFailed
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

ANON = ("MAP_PRIVATE", "MAP_SHARED")


def _resident(kernel: Kernel, addr: int, pages: int, page: int) -> list[int]:
    vec = kernel.buf(pages)
    kernel.mincore(addr, pages * page, vec).unwrap()
    return [vec[i][0] & 1 for i in range(pages)]


# --- MAP_GROWSDOWN (LTP mmap18): a fault in the free space below the mapping extends it
# down to the faulting page, unless another accessible mapping is within
# stack_guard_gap (256 pages unless the command line says otherwise, mm/mmap.c) or the
# new size passes RLIMIT_STACK (acct_stack_growth).


def _guard_gap(page: int) -> int:
    with open("/proc/cmdline") as f:
        m = re.search(r"\bstack_guard_gap=(\d+)", f.read())
    return (int(m.group(1)) if m else 256) * page


def _growsdown(kernel: Kernel, page: int, below: int) -> int:
    """In a child: a one-page MAP_GROWSDOWN mapping with `below` bytes plus the guard
    gap free under it; its address."""
    k = kernel
    reserve = _guard_gap(page) + below + page
    flags = k.MAP_PRIVATE | k.MAP_ANONYMOUS
    # Low in the address space, below the program: the room freed under the mapping is
    # then no place for Python's own mmaps (top-down, they fill gaps near the others
    # first; one that landed there stopped the growth short now and then).
    hint = 1 << 36 if k.ffi.sizeof("void *") == 8 else 1 << 28
    base = k.mmap(hint, reserve, k.PROT_NONE, flags, -1, 0).unwrap()
    k.munmap(base, reserve).unwrap()
    top = base + reserve - page
    rw = k.PROT_READ | k.PROT_WRITE
    return k.mmap(top, page, rw, flags | k.MAP_FIXED | k.MAP_GROWSDOWN, -1, 0).unwrap()


def _main_stack_size() -> int:
    with open("/proc/self/maps") as f:
        for line in f:
            if line.rstrip().endswith("[stack]"):
                start, end = (int(x, 16) for x in line.split()[0].split("-"))
                return end - start
    raise AssertionError("no [stack] in /proc/self/maps")


def _touch(kernel: Kernel, addr: int) -> None:
    faulthandler.disable()
    kernel.ffi.cast("char *", addr)[0] = b"x"


def test_mmap_growsdown_grows_to_a_fault_below_it(kernel: Kernel, in_child, vma, page: int) -> None:
    def run() -> int:
        addr = _growsdown(kernel, page, 16 * page)
        _touch(kernel, addr - 8 * page + 1)
        return addr - vma(addr).start

    assert in_child(run) == 8 * page


@pytest.mark.parametrize(("neighbour", "grows"), [("PROT_READ", False), ("PROT_NONE", True)])
def test_mmap_growsdown_keeps_the_guard_gap_from_an_accessible_neighbour(
    kernel: Kernel, maps, mem, in_child, vma, page: int, neighbour: str, grows: bool
) -> None:
    # A PROT_NONE neighbour is itself a guard and does not count (vma_is_accessible).
    progress = mem(maps.anon(page, kernel.MAP_SHARED), 1)

    def run() -> int:
        addr = _growsdown(kernel, page, 16 * page)
        flags = kernel.MAP_PRIVATE | kernel.MAP_ANONYMOUS | kernel.MAP_FIXED
        kernel.mmap(addr - 16 * page, page, getattr(kernel, neighbour), flags, -1, 0).unwrap()
        progress[0] = b"t"  # what kills the child, if anything, is the next line
        _touch(kernel, addr - 8 * page)
        return addr - vma(addr).start

    if grows:
        assert in_child(run) == 8 * page
    else:
        with pytest.raises(ChildFailed, match="SIGSEGV"):
            in_child(run)
        assert progress[0] == b"t"


def test_mmap_growsdown_stops_at_rlimit_stack(
    kernel: Kernel, maps, mem, in_child, page: int
) -> None:
    # The limit is on each growing mapping's size; the main stack keeps room under it.
    limit = _main_stack_size() + 64 * page
    progress = mem(maps.anon(page, kernel.MAP_SHARED), 1)

    def run() -> None:
        addr = _growsdown(kernel, page, limit + 16 * page)
        rl = kernel.new("struct rlimit *")
        kernel.getrlimit(kernel.RLIMIT_STACK, rl).unwrap()
        rl.rlim_cur = limit
        kernel.setrlimit(kernel.RLIMIT_STACK, rl).unwrap()
        _touch(kernel, addr - limit + page)  # the mapping is then `limit` long
        progress[0] = b"t"
        _touch(kernel, addr - limit)  # and this would make it a page longer

    with pytest.raises(ChildFailed, match="SIGSEGV"):
        in_child(run)
    assert progress[0] == b"t"


def test_mmap_growsdown_shared_anonymous_is_einval(kernel: Kernel, page: int) -> None:
    flags = kernel.MAP_SHARED | kernel.MAP_ANONYMOUS | kernel.MAP_GROWSDOWN
    assert kernel.mmap(0, page, kernel.PROT_READ, flags, -1, 0).errno == "EINVAL"


def test_mmap_growsdown_shows_gd_in_vmflags(kernel: Kernel, maps, vm_flags, page: int) -> None:
    addr = maps.anon(page, kernel.MAP_PRIVATE | kernel.MAP_GROWSDOWN)
    assert "gd" in vm_flags(addr)


# --- MAP_POPULATE: pages are faulted in by mmap itself, unless MAP_NONBLOCK is given
# too (mm/mmap.c do_mmap, since 2.6.23). An untouched anonymous page is not resident.


@pytest.mark.parametrize("share", ANON)
@pytest.mark.parametrize(
    ("extra", "resident"),
    [("MAP_POPULATE", 1), ("", 0), ("MAP_POPULATE|MAP_NONBLOCK", 0)],
    ids=["populate", "plain", "populate_nonblock"],
)
def test_mmap_populate_makes_pages_resident_at_once(
    kernel: Kernel, maps, bits, page: int, share: str, extra: str, resident: int
) -> None:
    addr = maps.anon(8 * page, bits(f"{share}|{extra}"))
    assert _resident(kernel, addr, 8, page) == [resident] * 8


def test_mmap_populate_beyond_end_of_file_succeeds(
    kernel: Kernel, tmp: Path, fds, maps, mem, page: int
) -> None:
    (tmp / "f").write_bytes(b"x" * page)
    fd = kernel.openat(kernel.AT_FDCWD, tmp / "f", kernel.O_RDONLY).unwrap()
    fds.append(fd)
    addr = maps.file(fd, 3 * page, kernel.MAP_SHARED | kernel.MAP_POPULATE, kernel.PROT_READ)
    assert mem(addr, 1)[0] == b"x"


# --- MAP_LOCKED: locked and populated at once, counted in VmLck until unmapped.
# (Beyond RLIMIT_MEMLOCK: test_mmap_limits.py.)


def _may_lock(kernel: Kernel, length: int) -> None:
    rl = kernel.new("struct rlimit *")
    kernel.getrlimit(kernel.RLIMIT_MEMLOCK, rl).unwrap()
    if rl.rlim_cur < length and os.geteuid() != 0:
        pytest.skip(f"RLIMIT_MEMLOCK ({rl.rlim_cur} bytes) is below {length} for this user")


def test_mmap_locked_counts_in_vmlck_until_unmapped(
    kernel: Kernel, maps, status, page: int
) -> None:
    _may_lock(kernel, 4 * page)
    before = status("VmLck")
    addr = maps.anon(4 * page, kernel.MAP_PRIVATE | kernel.MAP_LOCKED)
    assert status("VmLck") - before == 4 * page // 1024
    maps.unmap(addr, 4 * page).unwrap()
    assert status("VmLck") == before


def test_mmap_locked_pages_are_resident_and_marked_lo(
    kernel: Kernel, maps, vm_flags, page: int
) -> None:
    _may_lock(kernel, 4 * page)
    addr = maps.anon(4 * page, kernel.MAP_PRIVATE | kernel.MAP_LOCKED)
    assert _resident(kernel, addr, 4, page) == [1] * 4
    assert "lo" in vm_flags(addr)


# --- MAP_NORESERVE: no swap space is reserved; the mapping says so as "nr", except
# under overcommit_memory=2, where the flag is ignored (mm/mmap.c mmap_region). Beyond
# what memory there is: test_mmap_limits.py.


@pytest.mark.parametrize("share", ANON)
def test_mmap_noreserve_shows_nr_in_vmflags(
    kernel: Kernel, maps, mem, bits, vm_flags, overcommit_memory: int, page: int, share: str
) -> None:
    addr = maps.anon(4 * page, bits(f"{share}|MAP_NORESERVE"))
    mem(addr, 4 * page)[:] = b"n" * 4 * page  # usable like any other memory
    assert ("nr" in vm_flags(addr)) == (overcommit_memory != 2)


# --- MAP_STACK: accepted and, from Linux 6.7, kept out of transparent huge pages
# (commit c4608d1bf7c6: VM_NOHUGEPAGE, "nh").


def test_mmap_stack_is_ordinary_memory(kernel: Kernel, maps, mem, vma, page: int) -> None:
    addr = maps.anon(4 * page, kernel.MAP_PRIVATE | kernel.MAP_STACK)
    mem(addr, 4 * page)[:] = b"s" * 4 * page
    assert vma(addr).perms == "rw-p"


@pytest.mark.min_kernel("6.7")
def test_mmap_stack_is_kept_from_transparent_huge_pages(
    kernel: Kernel, maps, vm_flags, page: int
) -> None:
    if not os.path.exists("/sys/kernel/mm/transparent_hugepage"):
        pytest.skip("no transparent huge pages in this kernel")
    addr = maps.anon(4 * page, kernel.MAP_PRIVATE | kernel.MAP_STACK)
    assert "nh" in vm_flags(addr)


# --- MAP_32BIT: the mapping lies in the first 2 GiB, whatever the hint; MAP_FIXED wins.
X86_64_ONLY = pytest.mark.arch("x86_64", reason="MAP_32BIT is for 64-bit x86 tasks")
TWO_GIB = 1 << 31


@X86_64_ONLY
@pytest.mark.parametrize("hint", [0, 1 << 40], ids=["no_hint", "hint_above"])
def test_mmap_32bit_lies_below_2gib(kernel: Kernel, maps, page: int, hint: int) -> None:
    flags = kernel.MAP_PRIVATE | kernel.MAP_ANONYMOUS | kernel.MAP_32BIT
    addr = maps(kernel.mmap(hint, 4 * page, kernel.PROT_READ, flags, -1, 0), 4 * page)
    assert addr + 4 * page <= TWO_GIB


@X86_64_ONLY
def test_mmap_32bit_file_mapping_lies_below_2gib(
    kernel: Kernel, tmp: Path, fds, maps, mem, page: int
) -> None:
    (tmp / "f").write_bytes(b"low")
    fd = kernel.openat(kernel.AT_FDCWD, tmp / "f", kernel.O_RDONLY).unwrap()
    fds.append(fd)
    addr = maps.file(fd, page, kernel.MAP_PRIVATE | kernel.MAP_32BIT, kernel.PROT_READ)
    assert addr + page <= TWO_GIB
    assert mem(addr, 3)[:] == b"low"


@X86_64_ONLY
def test_mmap_32bit_with_map_fixed_maps_at_the_address(kernel: Kernel, maps, page: int) -> None:
    # somewhere high: at a hint (mmap bases differ: UML's lies at 1 GiB)
    anon = kernel.MAP_PRIVATE | kernel.MAP_ANONYMOUS
    addr = maps(kernel.mmap(1 << 32, page, kernel.PROT_READ, anon, -1, 0), page)
    assert addr >= TWO_GIB
    flags = kernel.MAP_PRIVATE | kernel.MAP_ANONYMOUS | kernel.MAP_32BIT | kernel.MAP_FIXED
    assert kernel.mmap(addr, page, kernel.PROT_READ, flags, -1, 0).unwrap() == addr


# --- MAP_HUGETLB: anonymous memory from the hugetlb pool (Documentation/admin-guide/mm/
# hugetlbpage.rst). A size the kernel has no pool for is EINVAL, as is the flag on an
# ordinary file (mm/mmap.c ksys_mmap_pgoff); with the pool empty, ENOMEM.


def _hugetlb_pool() -> tuple[int, int]:
    """(default huge page size, pages that can be had now): skips without hugetlb."""
    if not os.path.exists("/proc/sys/vm/nr_hugepages"):
        pytest.skip("no hugetlb support in this kernel (/proc/sys/vm/nr_hugepages)")
    with open("/proc/meminfo") as f:
        size_kb = int(re.search(r"^Hugepagesize:\s+(\d+) kB", f.read(), re.M).group(1))
    pool = Path(f"/sys/kernel/mm/hugepages/hugepages-{size_kb}kB")
    value = {n: int((pool / n).read_text()) for n in ("free_hugepages", "resv_hugepages")}
    for n in ("nr_overcommit_hugepages", "surplus_hugepages"):
        value[n] = int((pool / n).read_text())
    free = value["free_hugepages"] - value["resv_hugepages"]
    spare = value["nr_overcommit_hugepages"] - value["surplus_hugepages"]
    return size_kb * 1024, max(free, 0) + max(spare, 0)


@pytest.mark.parametrize("size_log2", [5, 40], ids=["32B", "1TiB"])
def test_mmap_hugetlb_with_a_size_no_pool_has_is_einval(
    kernel: Kernel, page: int, size_log2: int
) -> None:
    flags = kernel.MAP_PRIVATE | kernel.MAP_ANONYMOUS | kernel.MAP_HUGETLB
    flags |= size_log2 << kernel.MAP_HUGE_SHIFT
    assert kernel.mmap(0, page, kernel.PROT_READ, flags, -1, 0).errno == "EINVAL"


def test_mmap_hugetlb_on_an_ordinary_file_is_einval(
    kernel: Kernel, tmp: Path, fds, page: int
) -> None:
    (tmp / "f").write_bytes(b"x" * page)
    fd = kernel.openat(kernel.AT_FDCWD, tmp / "f", kernel.O_RDONLY).unwrap()
    fds.append(fd)
    flags = kernel.MAP_PRIVATE | kernel.MAP_HUGETLB
    assert kernel.mmap(0, page, kernel.PROT_READ, flags, fd, 0).errno == "EINVAL"


def test_mmap_hugetlb_with_the_pool_empty_is_enomem(kernel: Kernel, page: int) -> None:
    size, available = _hugetlb_pool()
    if available:
        pytest.skip(f"{available} huge pages can be had: the pool is not empty")
    flags = kernel.MAP_PRIVATE | kernel.MAP_ANONYMOUS | kernel.MAP_HUGETLB
    rw = kernel.PROT_READ | kernel.PROT_WRITE
    assert kernel.mmap(0, size, rw, flags, -1, 0).errno == "ENOMEM"


def test_mmap_hugetlb_maps_huge_pages(kernel: Kernel, maps, mem, vm_flags, page: int) -> None:
    size, available = _hugetlb_pool()
    if not available:
        pytest.skip("no huge pages can be had (nr_hugepages is 0; the pool is left alone)")
    _maps_a_huge_page(kernel, maps, mem, vm_flags, page, size)


@pytest.mark.disposable  # the machine's pool of huge pages grows for it
def test_mmap_hugetlb_maps_huge_pages_from_a_pool_it_grows(
    kernel: Kernel, maps, mem, vm_flags, page: int
) -> None:
    size, _ = _hugetlb_pool()
    pool = Path("/proc/sys/vm/nr_hugepages")
    before = pool.read_text()
    pool.write_text(str(int(before) + 1))
    try:
        if _hugetlb_pool()[1] == 0:
            pytest.skip(f"the pool did not grow (nr_hugepages {pool.read_text().strip()})")
        _maps_a_huge_page(kernel, maps, mem, vm_flags, page, size)
    finally:
        maps.release()
        pool.write_text(before)


def _maps_a_huge_page(kernel: Kernel, maps, mem, vm_flags, page: int, size: int) -> None:
    flags = kernel.MAP_PRIVATE | kernel.MAP_ANONYMOUS | kernel.MAP_HUGETLB
    rw = kernel.PROT_READ | kernel.PROT_WRITE
    addr = maps(kernel.mmap(0, page, rw, flags, -1, 0), size)  # the length rounds up
    assert addr % size == 0
    mem(addr, size)[size - 1 :] = b"h"
    assert "ht" in vm_flags(addr)
