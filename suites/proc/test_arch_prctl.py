"""arch_prctl(2): x86_64's per-thread FS and GS bases and CPUID faulting.

The FS and GS codes belong to the 64-bit ABI; i386's arch_prctl (the 32-bit ABI on an
x86_64 kernel) has only the common ones (CPUID, XCOMP): there the base tests skip.
arm64 and riscv have no such call (a skip). glibc keeps
its thread control block at the FS base, and the x86_64 TLS ABI puts the TCB's own
address in its first word, which the FS test reads back. GS is free for applications
on x86_64, so setting it is safe in a child; FS is only ever set to its current value.
ARCH_SET_CPUID needs the CPU's CPUID faulting (/proc/cpuinfo flag cpuid_fault):
arch/x86/kernel/process.c answers ENODEV without it, even for enabling.
"""

from pathlib import Path

import pytest

from syscalls import forking
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

BAD_ADDRESS = 8  # inside the never-mapped first page
NON_CANONICAL = 1 << 63  # above TASK_SIZE_MAX: no user address
CPUID_FAULT = "cpuid_fault" in Path("/proc/cpuinfo").read_text().split()
SET_CPUID = "ok" if CPUID_FAULT else "ENODEV"
XFEATURE_FP_SSE = 0b11  # x87 and SSE state: every x86_64 CPU has both


@pytest.fixture
def bases(kernel: Kernel) -> None:
    forking.need(kernel, "arch_prctl")
    if kernel.platform.arch != "x86_64":
        pytest.skip("FS and GS bases are arch_prctl's in the 64-bit ABI only")


def _get(kernel: Kernel, code: int) -> int:
    out = kernel.new("unsigned long *")
    kernel.arch_prctl(code, out).unwrap()
    return int(out[0])


def test_arch_prctl_get_fs_is_the_thread_control_block(kernel: Kernel, bases) -> None:
    fs = _get(kernel, kernel.ARCH_GET_FS)
    assert fs != 0
    # glibc's TCB begins with a pointer to itself (the %fs:0 the ABI promises)
    assert kernel.ffi.cast("unsigned long *", fs)[0] == fs


def test_arch_prctl_set_gs_is_read_back_by_get_gs(kernel: Kernel, in_child, bases) -> None:
    def run() -> int:
        kernel.arch_prctl(kernel.ARCH_SET_GS, 0x12345000).unwrap()
        return _get(kernel, kernel.ARCH_GET_GS)

    assert in_child(run) == 0x12345000


def test_arch_prctl_set_fs_to_its_own_value_round_trips(kernel: Kernel, in_child, bases) -> None:
    def run() -> tuple[int, int]:
        fs = _get(kernel, kernel.ARCH_GET_FS)
        kernel.arch_prctl(kernel.ARCH_SET_FS, fs).unwrap()
        return fs, _get(kernel, kernel.ARCH_GET_FS)

    before, after = in_child(run)
    assert after == before


def test_arch_prctl_gs_base_is_inherited_by_fork(kernel: Kernel, in_child, bases) -> None:
    def run() -> int:
        kernel.arch_prctl(kernel.ARCH_SET_GS, 0x7000).unwrap()
        # the forked child's GS base comes back as its exit code, in pages
        pid = forking.fork(kernel, lambda: _get(kernel, kernel.ARCH_GET_GS) >> 12)
        return forking.exit_code(kernel, pid) << 12

    assert in_child(run) == 0x7000


@pytest.mark.parametrize("code", ["ARCH_SET_FS", "ARCH_SET_GS"])
def test_arch_prctl_set_base_to_a_non_user_address_is_eperm(
    kernel: Kernel, in_child, code: str, bases
) -> None:
    assert in_child(lambda: kernel.arch_prctl(getattr(kernel, code), NON_CANONICAL).outcome) == (
        "EPERM"
    )


@pytest.mark.requires("fault_handler")
def test_arch_prctl_get_fs_into_a_bad_address_is_efault(kernel: Kernel, bases) -> None:
    assert kernel.arch_prctl(kernel.ARCH_GET_FS, BAD_ADDRESS).errno == "EFAULT"


@pytest.mark.requires("arch_prctl_codes")
def test_arch_prctl_get_cpuid_is_enabled_by_default(kernel: Kernel) -> None:
    assert kernel.arch_prctl(kernel.ARCH_GET_CPUID, 0).unwrap() == 1


@pytest.mark.requires("arch_prctl_codes")
def test_arch_prctl_set_cpuid_needs_cpuid_faulting(kernel: Kernel, in_child) -> None:
    """Enabling what is enabled changes nothing where the CPU can fault CPUID."""
    assert in_child(lambda: kernel.arch_prctl(kernel.ARCH_SET_CPUID, 1).outcome) == SET_CPUID


@pytest.mark.requires("arch_prctl_codes")
def test_arch_prctl_get_xcomp_supp_includes_x87_and_sse(kernel: Kernel) -> None:
    features = _get(kernel, kernel.ARCH_GET_XCOMP_SUPP)
    assert features & XFEATURE_FP_SSE == XFEATURE_FP_SSE


@pytest.mark.requires("arch_prctl_codes")
def test_arch_prctl_unknown_code_is_einval(kernel: Kernel) -> None:
    assert kernel.arch_prctl(0x1FFF, 0).errno == "EINVAL"
