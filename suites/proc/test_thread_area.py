"""set_thread_area(2), get_thread_area(2): 32-bit x86 TLS descriptors in the GDT.

Only i386 has them for real (and the 32-bit ABI on an x86_64 kernel, which is what
ci/run-arch i386 runs); x86_64's own numbers have no entry point (syscall_64.tbl), so
the platform leaves them out and these tests skip, saying so (x86_64 sets its TLS with
arch_prctl). entry_number -1 asks for a free TLS slot, which the kernel writes back;
glibc holds one for its own TLS, so the test takes another, in a child.
"""

import pytest

from syscalls import forking
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")


@pytest.fixture(autouse=True)
def real_here(kernel: Kernel) -> None:
    forking.need(kernel, "set_thread_area", "get_thread_area")  # and x86's user_desc


def _desc(kernel: Kernel, entry: int, base: int = 0x1234000, limit: int = 0xFFFFF):
    u = kernel.new("struct user_desc *")
    u.entry_number, u.base_addr, u.limit = entry & 0xFFFFFFFF, base, limit
    u.seg_32bit, u.limit_in_pages, u.useable = 1, 1, 1
    return u


def test_set_thread_area_in_a_free_slot_reads_back(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int, int, int]:
        u = _desc(kernel, -1)
        kernel.set_thread_area(u).unwrap()
        slot = int(u.entry_number)
        got = kernel.new("struct user_desc *")
        got.entry_number = slot
        kernel.get_thread_area(got).unwrap()
        return slot, int(got.base_addr), int(got.limit), int(got.seg_32bit)

    slot, base, limit, seg_32bit = in_child(run)
    assert slot != 0xFFFFFFFF  # a slot was chosen
    assert (base, limit, seg_32bit) == (0x1234000, 0xFFFFF, 1)


def test_set_thread_area_in_a_chosen_slot_replaces_it(kernel: Kernel, in_child) -> None:
    def run() -> int:
        u = _desc(kernel, -1)
        kernel.set_thread_area(u).unwrap()
        again = _desc(kernel, u.entry_number, base=0x5000)
        kernel.set_thread_area(again).unwrap()
        got = kernel.new("struct user_desc *")
        got.entry_number = u.entry_number
        kernel.get_thread_area(got).unwrap()
        return int(got.base_addr)

    assert in_child(run) == 0x5000


def test_get_thread_area_of_a_non_tls_entry_is_einval(kernel: Kernel) -> None:
    u = kernel.new("struct user_desc *")
    u.entry_number = 1  # a GDT entry, but not one of the TLS slots
    assert kernel.get_thread_area(u).errno == "EINVAL"


def test_set_thread_area_of_a_non_tls_entry_is_einval(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: kernel.set_thread_area(_desc(kernel, 1)).outcome) == "EINVAL"


@pytest.mark.requires("fault_handler")
def test_get_thread_area_into_a_bad_address_is_efault(kernel: Kernel) -> None:
    assert kernel.get_thread_area(8).errno == "EFAULT"
