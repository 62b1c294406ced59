"""rseq(2): registering a thread's restartable-sequences area, which the kernel keeps
updated with the CPU the thread runs on, and unregistering it with its signature.

glibc >= 2.35 registers an area for every thread itself (__rseq_size > 0; it then lives
at the thread pointer + __rseq_offset). A thread has one registration, so the tests
that register their own run in a child that first takes glibc's back: on x86 the
thread pointer is pthread_self() (TLS variant II); on arm64 two instructions of
machine code read it (mrs x0, tpidr_el0); elsewhere those tests skip, saying so, when
glibc holds the registration. The area is
32 bytes, 32-byte aligned (linux/rseq.h); the signature is the caller's choice, checked
at unregistration (glibc uses RSEQ_SIG, per arch).
"""

import mmap
import os
import struct
from typing import Any

import cffi
import pytest

from syscalls.kernel import Kernel

pytestmark = [pytest.mark.os("linux"), pytest.mark.min_kernel("4.18")]

SIG = 0x53053053  # any value will do for our own registration
GLIBC_SIG = {"x86_64": 0x53053053, "i386": 0x53053053, "aarch64": 0xD428BC00}
TP_IS_PTHREAD_SELF = {"x86_64", "i386"}  # TLS variant II: the TCB is the pthread
READ_TP = {"aarch64": struct.pack("<2I", 0xD53BD040, 0xD65F03C0)}  # mrs x0, tpidr_el0; ret

_libc = cffi.FFI()
_libc.cdef(
    "unsigned long pthread_self(void);"
    "extern ptrdiff_t __rseq_offset; extern unsigned int __rseq_size;"
)
_LIBC = _libc.dlopen(None)


def _glibc_registration(kernel: Kernel) -> tuple[int, int] | None:
    """(address, size) of the area glibc registered for this thread, or None."""
    try:
        offset, size = _LIBC.__rseq_offset, _LIBC.__rseq_size
    except KeyError:  # glibc < 2.35 has no such symbols, and registers nothing
        return None
    if size == 0:  # glibc.pthread.rseq=0, or registration refused
        return None
    return _thread_pointer(kernel) + offset, max(size, 32)


def _thread_pointer(kernel: Kernel) -> int:
    arch = kernel.platform.arch
    if arch in TP_IS_PTHREAD_SELF:
        return int(_LIBC.pthread_self())
    if arch not in READ_TP:
        pytest.skip(
            f"glibc registered rseq, and {arch}'s thread pointer is not readable here "
            "to unregister it"
        )
    code, page = READ_TP[arch], mmap.PAGESIZE
    flags = kernel.MAP_PRIVATE | kernel.MAP_ANONYMOUS
    addr = kernel.mmap(0, page, kernel.PROT_READ | kernel.PROT_WRITE, flags, -1, 0).unwrap()
    kernel.ffi.memmove(kernel.ffi.cast("char *", addr), code, len(code))
    kernel.mprotect(addr, page, kernel.PROT_READ | kernel.PROT_EXEC).unwrap()
    try:
        return int(kernel.ffi.cast("uintptr_t (*)(void)", addr)())
    finally:
        kernel.munmap(addr, page)


def _free_thread(kernel: Kernel) -> None:
    """Unregister glibc's area for this thread (in a child), if it has one."""
    held = _glibc_registration(kernel)
    if held is not None:
        address, size = held
        sig = GLIBC_SIG[kernel.platform.arch]
        kernel.rseq(address, size, kernel.RSEQ_FLAG_UNREGISTER, sig).unwrap()


def _area(kernel: Kernel) -> tuple[Any, Any]:
    """A zeroed struct rseq at a 32-byte boundary (and the buffer that holds it)."""
    buf = kernel.buf(64)
    address = (kernel.address(buf) + 31) & ~31
    return kernel.ffi.cast("struct rseq *", address), buf


def _pin(kernel: Kernel) -> int:
    """Pin this process to one CPU, so that cpu_id cannot change under the test."""
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def _size(kernel: Kernel) -> int:
    return kernel.ffi.sizeof("struct rseq")


def test_rseq_registration_reports_the_cpu_the_thread_runs_on(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int, int]:
        cpu = _pin(kernel)
        _free_thread(kernel)
        rs, _keep = _area(kernel)
        rs.cpu_id = kernel.RSEQ_CPU_ID_UNINITIALIZED & 0xFFFFFFFF
        kernel.rseq(rs, _size(kernel), 0, SIG).unwrap()
        here = kernel.new("unsigned int *")
        kernel.getcpu(here, None, None).unwrap()
        return cpu, int(rs.cpu_id), int(rs.cpu_id_start) - int(here[0])

    cpu, cpu_id, start_delta = in_child(run)
    assert cpu_id == cpu
    assert start_delta == 0


def test_rseq_registering_the_same_area_again_is_ebusy(kernel: Kernel, in_child) -> None:
    def run() -> str:
        _free_thread(kernel)
        rs, _keep = _area(kernel)
        kernel.rseq(rs, _size(kernel), 0, SIG).unwrap()
        return kernel.rseq(rs, _size(kernel), 0, SIG).outcome

    assert in_child(run) == "EBUSY"


def test_rseq_registering_a_second_area_is_einval(kernel: Kernel, in_child) -> None:
    def run() -> str:
        _free_thread(kernel)
        first, _keep1 = _area(kernel)
        second, _keep2 = _area(kernel)
        kernel.rseq(first, _size(kernel), 0, SIG).unwrap()
        return kernel.rseq(second, _size(kernel), 0, SIG).outcome

    assert in_child(run) == "EINVAL"


def test_rseq_registering_again_with_another_signature_is_eperm(kernel: Kernel, in_child) -> None:
    def run() -> str:
        _free_thread(kernel)
        rs, _keep = _area(kernel)
        kernel.rseq(rs, _size(kernel), 0, SIG).unwrap()
        return kernel.rseq(rs, _size(kernel), 0, SIG + 1).outcome

    assert in_child(run) == "EPERM"


def test_rseq_unregister_with_the_signature_resets_cpu_id(kernel: Kernel, in_child) -> None:
    def run() -> tuple[str, int, str]:
        _free_thread(kernel)
        rs, _keep = _area(kernel)
        kernel.rseq(rs, _size(kernel), 0, SIG).unwrap()
        wrong = kernel.rseq(rs, _size(kernel), kernel.RSEQ_FLAG_UNREGISTER, SIG + 1).outcome
        kernel.rseq(rs, _size(kernel), kernel.RSEQ_FLAG_UNREGISTER, SIG).unwrap()
        cpu_id = int(rs.cpu_id)
        again = kernel.rseq(rs, _size(kernel), 0, SIG).outcome  # free to register anew
        return wrong, cpu_id, again

    wrong, cpu_id, again = in_child(run)
    assert wrong == "EPERM"
    assert cpu_id == kernel.RSEQ_CPU_ID_UNINITIALIZED & 0xFFFFFFFF  # -1 in a __u32
    assert again == "ok"


def test_rseq_with_a_length_other_than_the_structs_is_einval(kernel: Kernel, in_child) -> None:
    def run() -> str:
        _free_thread(kernel)
        rs, _keep = _area(kernel)
        return kernel.rseq(rs, 16, 0, SIG).outcome

    assert in_child(run) == "EINVAL"


def test_rseq_of_a_misaligned_area_is_einval(kernel: Kernel, in_child) -> None:
    def run() -> str:
        _free_thread(kernel)
        rs, _keep = _area(kernel)
        misaligned = kernel.address(rs) + 8
        return kernel.rseq(misaligned, _size(kernel), 0, SIG).outcome

    assert in_child(run) == "EINVAL"


def test_rseq_unknown_flag_is_einval(kernel: Kernel) -> None:
    rs, _keep = _area(kernel)
    assert kernel.rseq(rs, _size(kernel), 2, SIG).errno == "EINVAL"


def test_rseq_unregistering_an_area_never_registered_is_einval(kernel: Kernel) -> None:
    rs, _keep = _area(kernel)
    r = kernel.rseq(rs, _size(kernel), kernel.RSEQ_FLAG_UNREGISTER, SIG)
    assert r.errno == "EINVAL"
