"""pkey_alloc(2), pkey_mprotect(2), pkey_free(2): memory protection keys (x86 PKU).

pkey_mprotect with key -1 is mprotect, on any CPU. With PKU, key 0 is every page's
default key and counts as allocated; without it (/proc/cpuinfo lacks pku and ospke) x86
allocates no key at all, not even 0 (arch/x86: init_new_context), and pkey_alloc has
none to hand out (6.1: ENOSPC; later kernels EINVAL); the tests that need real keys
skip there, saying so. Kernels without pkey support (arm64 before 6.12)
answer ENOSYS: a skip.
"""

import os
import resource
from pathlib import Path

import pytest

from syscalls import forking
from syscalls.kernel import Kernel

pytestmark = [pytest.mark.os("linux"), pytest.mark.min_kernel("4.9")]

_FLAGS = set(Path("/proc/cpuinfo").read_text().split())
PKU = {"pku", "ospke"} <= _FLAGS
needs_pku = pytest.mark.skipif(not PKU, reason="no PKU on this CPU (cpuinfo: pku, ospke)")
no_pku = pytest.mark.skipif(PKU, reason="this CPU has PKU")


def _key_of(addr: int) -> int:
    """The ProtectionKey /proc/self/smaps reports for the mapping holding addr."""
    key, inside = None, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()[0]
        if "-" in head and not head.endswith(":"):
            start, end = (int(x, 16) for x in head.split("-"))
            inside = start <= addr < end
        elif inside and head == "ProtectionKey:":
            key = int(line.split()[1])
    if key is None:
        raise AssertionError("smaps shows no ProtectionKey")
    return key


def test_pkey_mprotect_with_key_minus_one_is_mprotect(kernel: Kernel, maps, page: int, vma) -> None:
    addr = maps.anon(page)
    kernel.pkey_mprotect(addr, page, kernel.PROT_READ, -1).unwrap()
    assert vma(addr).perms == "r--p"


@needs_pku
def test_pkey_mprotect_with_the_default_key_0_is_accepted(
    kernel: Kernel, maps, page: int, vma
) -> None:
    addr = maps.anon(page)
    kernel.pkey_mprotect(addr, page, kernel.PROT_READ | kernel.PROT_EXEC, 0).unwrap()
    assert vma(addr).perms == "r-xp"


@no_pku
def test_pkey_mprotect_with_key_0_without_pku_is_einval(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(page)
    assert kernel.pkey_mprotect(addr, page, kernel.PROT_READ, 0).errno == "EINVAL"


@pytest.mark.parametrize("key", [7, 15, 16, 1000])
def test_pkey_mprotect_with_a_key_never_allocated_is_einval(
    kernel: Kernel, maps, page: int, key: int, vma
) -> None:
    addr = maps.anon(page)
    assert kernel.pkey_mprotect(addr, page, kernel.PROT_READ, key).errno == "EINVAL"
    assert vma(addr).perms == "rw-p"


def test_pkey_mprotect_unaligned_start_is_einval(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(page)
    assert kernel.pkey_mprotect(addr + 1, page, kernel.PROT_READ, -1).errno == "EINVAL"


def test_pkey_alloc_with_flags_is_einval(kernel: Kernel) -> None:
    assert kernel.pkey_alloc(1, 0).errno == "EINVAL"


def test_pkey_alloc_with_unknown_access_rights_is_einval(kernel: Kernel) -> None:
    assert kernel.pkey_alloc(0, 0x10).errno == "EINVAL"


@pytest.mark.parametrize("key", [-1, 9, 16])
def test_pkey_free_of_a_key_not_allocated_is_einval(kernel: Kernel, key: int) -> None:
    assert kernel.pkey_free(key).errno == "EINVAL"


@no_pku
def test_pkey_alloc_without_pku_hands_out_no_key(kernel: Kernel) -> None:
    assert kernel.pkey_alloc(0, 0).errno in ("ENOSPC", "EINVAL")


@needs_pku
def test_pkey_alloc_mprotect_and_free(kernel: Kernel, maps, page: int, in_child) -> None:
    def run() -> tuple[int, int, str, str]:
        key = kernel.pkey_alloc(0, 0).unwrap()
        addr = maps.anon(page)
        kernel.pkey_mprotect(addr, page, kernel.PROT_READ | kernel.PROT_WRITE, key).unwrap()
        tagged = _key_of(addr)
        kernel.pkey_mprotect(addr, page, kernel.PROT_READ | kernel.PROT_WRITE, 0).unwrap()
        return key, tagged, kernel.pkey_free(key).outcome, kernel.pkey_free(key).outcome

    key, tagged, freed, again = in_child(run)
    assert 0 < key < 16
    assert tagged == key
    assert (freed, again) == ("ok", "EINVAL")


@needs_pku
def test_pkey_with_write_disabled_faults_a_write(kernel: Kernel, maps, page: int, in_child) -> None:
    def run() -> int:
        key = kernel.pkey_alloc(0, kernel.PKEY_DISABLE_WRITE).unwrap()
        addr = maps.anon(page)
        kernel.pkey_mprotect(addr, page, kernel.PROT_READ | kernel.PROT_WRITE, key).unwrap()
        view = kernel.ffi.buffer(kernel.ffi.cast("char *", addr), page)

        def child() -> int:
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            view[0] = b"x"  # PKRU forbids it: SIGSEGV
            return 3

        status = forking.wait(kernel, forking.fork(kernel, child))
        return os.WTERMSIG(status) if os.WIFSIGNALED(status) else -os.WEXITSTATUS(status)

    assert in_child(run) == 11  # SIGSEGV (SEGV_PKUERR)


@needs_pku
def test_pkey_alloc_runs_out_of_keys(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, str]:
        got = []
        while len(got) < 32:
            r = kernel.pkey_alloc(0, 0)
            if not r.ok:
                return len(got), r.outcome
            got.append(r.value)
        return len(got), "ok"

    count, outcome = in_child(run)
    assert 1 <= count < 16
    assert outcome == "ENOSPC"
