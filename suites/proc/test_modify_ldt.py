"""modify_ldt(2): the process's local descriptor table on x86 (x86_64 and i386; the
generic tables have no such call, and those skip).

Reading (func 0) returns the bytecount asked for, the LDT's entries and then zeros, or
0 while the process has no LDT; func 2 reads the default LDT, all zeros. Writing
(0x11, or 1 for the old format) sets one entry from a struct user_desc; CONFIG_MODIFY_
LDT_SYSCALL off makes the call ENOSYS (a skip). Writes happen in a child.

The call returns an int, not a long: arch/x86/kernel/ldt.c casts its result to
unsigned int, so on x86_64 an error arrives as 0xffffffea (-EINVAL in 32 bits), which
syscall() takes for success and sets no errno. The outcome is read here as the int it
is. An unknown func is ENOSYS from the call itself, not EINVAL.
"""

import pytest

from syscalls import forking
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

ENTRY = 8  # LDT_ENTRY_SIZE
READ, WRITE_OLD, READ_DEFAULT, WRITE = 0, 1, 2, 0x11


@pytest.fixture(autouse=True)
def x86(kernel: Kernel) -> None:
    forking.need(kernel, "modify_ldt")  # and struct user_desc, x86's


def _desc(kernel: Kernel, entry: int, base: int = 0x12345000, limit: int = 0xFFF, **bits: int):
    u = kernel.new("struct user_desc *")
    u.entry_number, u.base_addr, u.limit = entry, base, limit
    u.seg_32bit, u.useable = 1, 1
    for name, value in bits.items():
        setattr(u, name, value)
    return u


def _int_result(kernel: Kernel, r) -> tuple[int, str]:
    """(value, outcome) of a modify_ldt result read as C's int: a 32-bit -errno in a
    64-bit register is an error, whatever syscall() made of it."""
    if not r.ok:
        return -1, r.outcome
    value = r.value & 0xFFFFFFFF
    if value >= 1 << 31:
        return -1, kernel.platform.errno_name((1 << 32) - value)
    return value, "ok"


def _call(kernel: Kernel, func: int, ptr, nbytes: int) -> tuple[int, str]:
    return _int_result(kernel, kernel.modify_ldt(func, ptr, nbytes))


def _write(kernel: Kernel, u, func: int = WRITE, size: int | None = None) -> str:
    n = kernel.ffi.sizeof("struct user_desc") if size is None else size
    return _call(kernel, func, u, n)[1]


def _read(kernel: Kernel, nbytes: int) -> tuple[int, bytes]:
    buf = kernel.buf(b"\xff" * nbytes)
    n, outcome = _call(kernel, READ, buf, nbytes)
    assert outcome == "ok", f"modify_ldt read: {outcome}"
    return n, kernel.bytes(buf, nbytes)


def _decode(raw: bytes) -> tuple[int, int, int, int]:
    """(base, limit, present, dpl) of an 8-byte segment descriptor."""
    d = int.from_bytes(raw, "little")
    limit = (d & 0xFFFF) | ((d >> 48) & 0xF) << 16
    base = ((d >> 16) & 0xFFFFFF) | ((d >> 56) & 0xFF) << 24
    return base, limit, (d >> 47) & 1, (d >> 45) & 3


def test_read_of_a_process_without_an_ldt_is_zero(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: _read(kernel, 64)[0]) == 0


def test_read_default_ldt_is_zeros(kernel: Kernel) -> None:
    buf = kernel.buf(b"\xff" * 256)
    n, outcome = _call(kernel, READ_DEFAULT, buf, 256)
    assert outcome == "ok"
    assert 0 < n <= 256
    assert kernel.bytes(buf, n) == bytes(n)


def test_written_entry_reads_back_as_its_descriptor(kernel: Kernel, in_child) -> None:
    def run() -> tuple[str, int, bytes]:
        written = _write(kernel, _desc(kernel, 0))
        n, data = _read(kernel, 2 * ENTRY)
        return written, n, data

    written, n, data = in_child(run)
    assert written == "ok"
    assert n == 2 * ENTRY  # what was asked: the one entry, then zeros
    assert _decode(data[:ENTRY]) == (0x12345000, 0xFFF, 1, 3)  # present, user privilege
    assert data[ENTRY:] == bytes(ENTRY)


def test_writing_entry_n_grows_the_ldt_to_n_plus_one(kernel: Kernel, in_child) -> None:
    def run() -> bytes:
        _write(kernel, _desc(kernel, 5, base=0x1000))
        return _read(kernel, 8 * ENTRY)[1]

    data = in_child(run)
    assert data[: 5 * ENTRY] == bytes(5 * ENTRY)  # entries 0-4 empty
    assert _decode(data[5 * ENTRY : 6 * ENTRY])[0] == 0x1000


def test_old_format_write_sets_an_entry_too(kernel: Kernel, in_child) -> None:
    def run() -> tuple[str, int]:
        written = _write(kernel, _desc(kernel, 1, base=0x2000), func=WRITE_OLD)
        return written, _decode(_read(kernel, 2 * ENTRY)[1][ENTRY:])[0]

    assert in_child(run) == ("ok", 0x2000)


def test_writing_an_empty_descriptor_clears_the_entry(kernel: Kernel, in_child) -> None:
    def run() -> bytes:
        _write(kernel, _desc(kernel, 0))
        empty = _desc(kernel, 0, base=0, limit=0, read_exec_only=1, seg_not_present=1)
        empty.seg_32bit = empty.useable = 0
        _write(kernel, empty)
        return _read(kernel, ENTRY)[1]

    assert in_child(run) == bytes(ENTRY)


def test_write_with_a_bytecount_other_than_user_desc_is_einval(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: _write(kernel, _desc(kernel, 0), size=8)) == "EINVAL"


def test_write_of_an_entry_past_ldt_entries_is_einval(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: _write(kernel, _desc(kernel, kernel.LDT_ENTRIES))) == "EINVAL"


def test_present_conforming_code_segment_is_einval(kernel: Kernel, in_child) -> None:
    """contents 3 (conforming code) is refused unless the segment is not present."""
    bad = lambda: _write(kernel, _desc(kernel, 0, contents=3))  # noqa: E731
    absent = lambda: _write(kernel, _desc(kernel, 0, contents=3, seg_not_present=1))  # noqa: E731
    assert in_child(lambda: (bad(), absent())) == ("EINVAL", "ok")


def test_unknown_func_is_enosys(kernel: Kernel) -> None:
    """Through syscall() itself: a Kernel call would take -1/ENOSYS for "no such call"
    (on i386, where the 32-bit int is the register)."""
    number = kernel.ffi.cast("long", kernel.platform.syscalls["modify_ldt"])
    cast = kernel.ffi.cast
    ret = int(kernel.libc.syscall(number, cast("long", 3), kernel.buf(16), cast("long", 16)))
    errno = kernel.ffi.errno if ret == -1 else (1 << 32) - (ret & 0xFFFFFFFF)
    assert errno == kernel.ENOSYS


def test_errors_are_a_32_bit_int(kernel: Kernel, in_child) -> None:
    """What the register holds: -EINVAL as C's int (on x86_64, zero-extended)."""

    def run() -> int:
        r = kernel.modify_ldt(WRITE, _desc(kernel, 0), 8)
        return r.value & 0xFFFFFFFF if r.ok else -int(r.errno) & 0xFFFFFFFF

    assert in_child(run) == -kernel.EINVAL & 0xFFFFFFFF


@pytest.mark.requires("fault_handler")
def test_write_from_a_bad_address_is_efault(kernel: Kernel, in_child) -> None:
    size = kernel.ffi.sizeof("struct user_desc")
    assert in_child(lambda: _call(kernel, WRITE, 8, size)[1]) == "EFAULT"
