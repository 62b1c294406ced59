"""swapon(2) and swapoff(2) (mm/swapfile.c). Unknown flags are EINVAL before anything
else; then, without CAP_SYS_ADMIN, EPERM. As root the host sees only refusals: a file
with no swap signature is EINVAL, a missing one ENOENT, swapoff of something that is not
swap EINVAL. Swapping for real is disposable: in a VM the tests write a swap header onto
a RAM disk of brd (suites/misc/conftest.py; tmpfs cannot hold a swap file) with the
kernel's own write(2), switch it on and off, and read /proc/swaps and sysinfo.

The header (include/linux/swap.h union swap_header): version 1 at byte 1024, the last
usable page after it, no bad pages, and "SWAPSPACE2" in the last ten bytes of page 0.
"""

import os
import struct
from pathlib import Path

import pytest

from syscalls import namespaces
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

AS_USER = pytest.mark.as_user("root may swap (CAP_SYS_ADMIN)")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _swaps() -> list[list[str]]:
    if not Path("/proc/swaps").exists():
        pytest.skip("no /proc/swaps here: the swap areas in use cannot be read")
    return [line.split() for line in Path("/proc/swaps").read_text().splitlines()[1:]]


def _make_swap(kernel: Kernel, device: Path, pages: int) -> None:
    """A swap area of `pages` pages on the device, written with write(2)."""
    header = bytearray(PAGE)
    struct.pack_into("=III", header, 1024, 1, pages - 1, 0)  # version, last_page, nr_bad
    header[PAGE - 10 :] = b"SWAPSPACE2"
    fd = kernel.openat(kernel.AT_FDCWD, device, kernel.O_WRONLY, 0).unwrap()
    try:
        assert kernel.write(fd, bytes(header), PAGE).unwrap() == PAGE
        kernel.fsync(fd).unwrap()
    finally:
        kernel.close(fd)


# --- anyone --------------------------------------------------------------------------------


def test_swapon_unknown_flag_is_einval_before_the_privilege_check(
    kernel: Kernel, tmp: Path
) -> None:
    (tmp / "f").write_bytes(b"")
    assert kernel.swapon(tmp / "f", 1 << 30).errno == "EINVAL"


@AS_USER
def test_swapon_as_a_user_is_eperm(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(bytes(PAGE))
    assert kernel.swapon(tmp / "f", 0).errno == "EPERM"


@AS_USER
def test_swapoff_as_a_user_is_eperm(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    assert kernel.swapoff(tmp / "f").errno == "EPERM"


def test_swapon_as_root_of_a_user_namespace_is_eperm(kernel: Kernel, tmp: Path, in_child) -> None:
    (tmp / "f").write_bytes(bytes(PAGE))

    def run() -> str:
        namespaces.user_namespace_or_skip(kernel)
        return kernel.swapon(tmp / "f", 0).outcome

    assert in_child(run) == "EPERM"


# --- root: refusals ----------------------------------------------------------------------------


@pytest.mark.root
def test_swapon_of_a_file_without_a_swap_signature_is_einval(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(bytes(4 * PAGE))
    before = _swaps()
    assert kernel.swapon(tmp / "f", 0).errno == "EINVAL"
    assert _swaps() == before


@pytest.mark.root
def test_swapon_of_a_missing_file_is_enoent(kernel: Kernel, tmp: Path) -> None:
    assert kernel.swapon(tmp / "absent", 0).errno == "ENOENT"


@pytest.mark.root
def test_swapon_of_a_directory_is_eisdir(kernel: Kernel, tmp: Path) -> None:
    assert kernel.swapon(tmp, 0).errno == "EISDIR"


@pytest.mark.root
def test_swapoff_of_a_file_that_is_not_swap_is_einval(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    assert kernel.swapoff(tmp / "f").errno == "EINVAL"


@pytest.mark.root
def test_swapoff_of_a_missing_file_is_enoent(kernel: Kernel, tmp: Path) -> None:
    assert kernel.swapoff(tmp / "absent").errno == "ENOENT"


# --- a disposable VM: swap on a RAM disk ---------------------------------------------------------


@pytest.mark.disposable
@pytest.mark.root
def test_swapon_of_a_swap_area_adds_it_and_swapoff_removes_it(
    kernel: Kernel, ramdisk: Path
) -> None:
    _make_swap(kernel, ramdisk, 256)
    info = kernel.new("struct sysinfo *")
    kernel.sysinfo(info).unwrap()
    before = info.totalswap * info.mem_unit
    kernel.swapon(ramdisk, 0).unwrap()
    kernel.sysinfo(info).unwrap()
    during, listed = info.totalswap * info.mem_unit, len(_swaps())
    kernel.swapoff(ramdisk).unwrap()
    assert during - before == 255 * PAGE  # page 0 is the header
    assert listed == 1 and _swaps() == []


@pytest.mark.disposable
@pytest.mark.root
def test_swapon_with_a_priority_shows_it_in_proc_swaps(kernel: Kernel, ramdisk: Path) -> None:
    _make_swap(kernel, ramdisk, 64)
    kernel.swapon(ramdisk, kernel.SWAP_FLAG_PREFER | 7).unwrap()
    assert [row[-1] for row in _swaps()] == ["7"]


@pytest.mark.disposable
@pytest.mark.root
def test_swapon_twice_is_ebusy(kernel: Kernel, ramdisk: Path) -> None:
    _make_swap(kernel, ramdisk, 64)
    kernel.swapon(ramdisk, 0).unwrap()
    assert kernel.swapon(ramdisk, 0).errno == "EBUSY"


@pytest.mark.disposable
@pytest.mark.root
def test_swapoff_twice_is_einval(kernel: Kernel, ramdisk: Path) -> None:
    _make_swap(kernel, ramdisk, 64)
    kernel.swapon(ramdisk, 0).unwrap()
    kernel.swapoff(ramdisk).unwrap()
    assert kernel.swapoff(ramdisk).errno == "EINVAL"


@pytest.mark.disposable
@pytest.mark.root
def test_swapon_of_a_device_without_a_signature_is_einval(kernel: Kernel, ramdisk: Path) -> None:
    assert kernel.swapon(ramdisk, 0).errno == "EINVAL"
