"""mmap(2) against the limits: RLIMIT_AS, RLIMIT_DATA, RLIMIT_MEMLOCK and overcommit.

RLIMIT_AS counts every mapping; RLIMIT_DATA (since Linux 4.7) only private writable
ones that are not stacks (mm/mmap.c may_expand_vm, is_data_mapping), and a soft limit
of 0 under a larger hard one is let through for Valgrind; MAP_LOCKED beyond
RLIMIT_MEMLOCK is EAGAIN without CAP_IPC_LOCK (mlock_future_check). Limits are lowered
only in a child. A writable mapping larger than RAM and swap together is refused under
the heuristic overcommit (vm.overcommit_memory=0) and strict accounting (2), allowed
with MAP_NORESERVE under 0 and 1, and a read-only private one is never charged
(Documentation/mm/overcommit-accounting.rst). On 32-bit arches such a mapping does not
fit the address space, which those tests say by skipping.
"""

from pathlib import Path

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

AS_USER = pytest.mark.as_user("root's CAP_IPC_LOCK ignores RLIMIT_MEMLOCK")
MIB = 1 << 20

# (flags, prot) of a 64 MiB mapping -> counted against RLIMIT_DATA?
KINDS = {
    "private_rw": ("MAP_PRIVATE", "PROT_READ|PROT_WRITE"),
    "private_ro": ("MAP_PRIVATE", "PROT_READ"),
    "private_none": ("MAP_PRIVATE", "PROT_NONE"),
    "shared_rw": ("MAP_SHARED", "PROT_READ|PROT_WRITE"),
    "stack_rw": ("MAP_PRIVATE|MAP_GROWSDOWN", "PROT_READ|PROT_WRITE"),
}
DATA_COUNTED = [
    ("private_rw", "ENOMEM"),
    ("private_ro", "ok"),
    ("shared_rw", "ok"),
    ("stack_rw", "ok"),
]


def _set_soft(kernel: Kernel, resource: int, soft: int) -> None:
    rl = kernel.new("struct rlimit *")
    kernel.getrlimit(resource, rl).unwrap()
    rl.rlim_cur = soft
    kernel.setrlimit(resource, rl).unwrap()


def _map(kernel: Kernel, bits, kind: str, length: int) -> str:
    """mmap a `kind` of anonymous memory; its outcome (what it mapped stays: the child
    that calls this exits)."""
    flags, prot = KINDS[kind]
    flags = bits(flags) | kernel.MAP_ANONYMOUS
    return kernel.mmap(0, length, bits(prot), flags, -1, 0).outcome


@pytest.mark.parametrize("kind", ["private_rw", "private_none", "shared_rw"])
def test_mmap_beyond_rlimit_as_is_enomem(kernel: Kernel, in_child, status, bits, kind: str) -> None:
    def run() -> tuple[str, str]:
        _set_soft(kernel, kernel.RLIMIT_AS, status("VmSize") * 1024 + 16 * MIB)
        return _map(kernel, bits, kind, 64 * MIB), _map(kernel, bits, kind, 1 * MIB)

    assert in_child(run) == ("ENOMEM", "ok")  # what still fits under the limit maps


def _rlimit_data_enforced() -> None:
    path = Path("/sys/module/kernel/parameters/ignore_rlimit_data")
    if path.exists() and path.read_text().strip() == "Y":
        pytest.skip("the kernel was booted with ignore_rlimit_data: it only warns")


@pytest.mark.parametrize(("kind", "expected"), DATA_COUNTED)
def test_mmap_beyond_rlimit_data_counts_private_writable_memory(
    kernel: Kernel, in_child, status, bits, kind: str, expected: str
) -> None:
    _rlimit_data_enforced()

    def run() -> str:
        _set_soft(kernel, kernel.RLIMIT_DATA, status("VmData") * 1024 + 16 * MIB)
        return _map(kernel, bits, kind, 64 * MIB)

    assert in_child(run) == expected


def test_mmap_with_rlimit_data_soft_zero_is_let_through(kernel: Kernel, in_child, bits) -> None:
    rl = kernel.new("struct rlimit *")
    kernel.getrlimit(kernel.RLIMIT_DATA, rl).unwrap()
    if rl.rlim_max != kernel.RLIM_INFINITY:
        pytest.skip("the hard RLIMIT_DATA is finite here; the exception needs room under it")

    def run() -> str:
        _set_soft(kernel, kernel.RLIMIT_DATA, 0)
        return _map(kernel, bits, "private_rw", 64 * MIB)

    assert in_child(run) == "ok"


@pytest.mark.parametrize(
    ("locked", "expected"), [(1, "ok"), (4, "EAGAIN")], ids=["within", "beyond"]
)
@AS_USER
def test_mmap_locked_against_rlimit_memlock(
    kernel: Kernel, in_child, page: int, locked: int, expected: str
) -> None:
    def run() -> str:
        _set_soft(kernel, kernel.RLIMIT_MEMLOCK, 2 * page)
        flags = kernel.MAP_PRIVATE | kernel.MAP_ANONYMOUS | kernel.MAP_LOCKED
        return kernel.mmap(0, locked * page, kernel.PROT_READ, flags, -1, 0).outcome

    assert in_child(run) == expected


@pytest.mark.root
def test_mmap_locked_as_root_ignores_rlimit_memlock(kernel: Kernel, in_child, page: int) -> None:
    def run() -> str:
        _set_soft(kernel, kernel.RLIMIT_MEMLOCK, 0)
        flags = kernel.MAP_PRIVATE | kernel.MAP_ANONYMOUS | kernel.MAP_LOCKED
        return kernel.mmap(0, 4 * page, kernel.PROT_READ, flags, -1, 0).outcome

    assert in_child(run) == "ok"


# overcommit_memory -> (outcome without MAP_NORESERVE, with it) for a writable mapping
# larger than RAM + swap.
OVERCOMMIT = {0: ("ENOMEM", "ok"), 1: ("ok", "ok"), 2: ("ENOMEM", "ENOMEM")}


def _beyond_memory(kernel: Kernel) -> int:
    """Twice RAM + swap, in bytes; skips where that does not fit the address space."""
    with open("/proc/meminfo") as f:
        kb = {line.split(":")[0]: int(line.split()[1]) for line in f if line.strip()}
    length = 2 * (kb["MemTotal"] + kb["SwapTotal"]) * 1024
    if length >= 1 << (8 * kernel.ffi.sizeof("void *") - 1):
        pytest.skip(f"a {length >> 30} GiB mapping does not fit a 32-bit address space")
    return length


@pytest.mark.parametrize("share", ["MAP_PRIVATE", "MAP_SHARED"])
@pytest.mark.parametrize("noreserve", [False, True], ids=["reserved", "noreserve"])
def test_mmap_writable_beyond_memory(
    kernel: Kernel, maps, overcommit_memory: int, share: str, noreserve: bool, observe
) -> None:
    length = _beyond_memory(kernel)
    flags = getattr(kernel, share) | kernel.MAP_ANONYMOUS
    flags |= kernel.MAP_NORESERVE if noreserve else 0
    mode = overcommit_memory
    observe("overcommit_memory", mode)
    r = kernel.mmap(0, length, kernel.PROT_READ | kernel.PROT_WRITE, flags, -1, 0)
    if r.ok:
        maps(r, length)
    assert r.outcome == OVERCOMMIT[mode][noreserve]


def test_mmap_read_only_private_beyond_memory_is_not_charged(kernel: Kernel, maps) -> None:
    length = _beyond_memory(kernel)
    flags = kernel.MAP_PRIVATE | kernel.MAP_ANONYMOUS
    maps(kernel.mmap(0, length, kernel.PROT_READ, flags, -1, 0), length)
