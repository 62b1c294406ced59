"""mlock/mlock2/munlock/mlockall: locking within RLIMIT_MEMLOCK, and the refusals.

Beyond the limit an unprivileged caller gets ENOMEM, or EPERM when the limit is 0
(mlock(2)); CAP_IPC_LOCK (root) ignores the limit. Limits are lowered only inside a
child, so the test process keeps its own.
"""

import os

import pytest

from syscalls.kernel import Kernel

AS_USER = pytest.mark.as_user("root's CAP_IPC_LOCK ignores RLIMIT_MEMLOCK")


def _set_memlock(kernel: Kernel, limit: int) -> None:
    rl = kernel.new("struct rlimit *", [limit, limit])
    kernel.setrlimit(kernel.RLIMIT_MEMLOCK, rl).unwrap()


def _memlock_limit(kernel: Kernel) -> int:
    rl = kernel.new("struct rlimit *")
    kernel.getrlimit(kernel.RLIMIT_MEMLOCK, rl).unwrap()
    return rl.rlim_cur


def test_mlock_then_munlock_one_page(kernel: Kernel, maps, page: int) -> None:
    if _memlock_limit(kernel) < page and os.geteuid() != 0:
        pytest.skip("RLIMIT_MEMLOCK is below one page for this user")
    addr = maps.anon(page)
    kernel.mlock(addr, page).unwrap()
    kernel.munlock(addr, page).unwrap()


def test_munlock_of_unlocked_range_succeeds(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(page)
    kernel.munlock(addr, page).unwrap()


def test_mlock_unmapped_range_is_enomem(kernel: Kernel, page: int) -> None:
    assert kernel.mlock(page, page).errno == "ENOMEM"


@pytest.mark.os("linux")
@pytest.mark.min_kernel("4.4")
def test_mlock2_onfault_is_accepted(kernel: Kernel, maps, page: int) -> None:
    if _memlock_limit(kernel) < page and os.geteuid() != 0:
        pytest.skip("RLIMIT_MEMLOCK is below one page for this user")
    addr = maps.anon(page)
    kernel.mlock2(addr, page, kernel.MLOCK_ONFAULT).unwrap()
    kernel.munlock(addr, page).unwrap()


# MLOCK_ONFAULT locks pages as they are faulted in, where mlock faults the whole range
# in at once (mm/mlock.c, VM_LOCKONFAULT): an untouched anonymous page stays out.
@pytest.mark.os("linux")
@pytest.mark.min_kernel("4.4")
def test_mlock2_onfault_faults_in_only_the_page_touched(
    kernel: Kernel, maps, mem, page: int
) -> None:
    if _memlock_limit(kernel) < 4 * page and os.geteuid() != 0:
        pytest.skip("RLIMIT_MEMLOCK is below four pages for this user")
    addr = maps.anon(4 * page)
    kernel.mlock2(addr, 4 * page, kernel.MLOCK_ONFAULT).unwrap()
    mem(addr + page, 1)[0] = b"x"
    vec = kernel.buf(4)
    kernel.mincore(addr, 4 * page, vec).unwrap()
    kernel.munlock(addr, 4 * page).unwrap()
    assert [vec[i][0] & 1 for i in range(4)] == [0, 1, 0, 0]


@pytest.mark.os("linux")
@pytest.mark.min_kernel("4.4")
def test_mlock2_unknown_flag_is_einval(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(page)
    assert kernel.mlock2(addr, page, 1 << 8).errno == "EINVAL"


@AS_USER
def test_mlock_with_zero_limit_is_eperm(kernel: Kernel, maps, in_child, page: int) -> None:
    addr = maps.anon(page)

    def lock() -> str | None:
        _set_memlock(kernel, 0)
        r = kernel.mlock(addr, page)
        return r.errno.name if r.errno else None

    assert in_child(lock) == "EPERM"


@AS_USER
def test_mlock_beyond_limit_is_enomem(kernel: Kernel, maps, in_child, page: int) -> None:
    addr = maps.anon(2 * page)

    def lock() -> str | None:
        _set_memlock(kernel, page)
        r = kernel.mlock(addr, 2 * page)
        return r.errno.name if r.errno else None

    assert in_child(lock) == "ENOMEM"


@pytest.mark.root
def test_mlock_as_root_ignores_a_zero_limit(kernel: Kernel, maps, in_child, page: int) -> None:
    addr = maps.anon(page)

    def lock() -> None:
        _set_memlock(kernel, 0)
        kernel.mlock(addr, page).unwrap()

    in_child(lock)


@pytest.mark.parametrize("flags", [0, 1 << 10], ids=["none", "unknown"])
def test_mlockall_without_valid_flags_is_einval(kernel: Kernel, flags: int) -> None:
    assert kernel.mlockall(flags).errno == "EINVAL"


# MCL_ONFAULT only modifies MCL_CURRENT or MCL_FUTURE (mm/mlock.c): alone it asks for
# nothing, and is refused before any lock is changed. In a child, so that a kernel which
# took it (as munlockall) would unlock nothing of the test process.
@pytest.mark.os("linux")
def test_mlockall_onfault_alone_is_einval(kernel: Kernel, in_child) -> None:
    def lock_all() -> str | None:
        r = kernel.mlockall(kernel.MCL_ONFAULT)
        return r.errno.name if r.errno else None

    assert in_child(lock_all) == "EINVAL"


@pytest.mark.root
def test_mlockall_current_then_munlockall(kernel: Kernel, in_child) -> None:
    def lock_all() -> None:
        kernel.mlockall(kernel.MCL_CURRENT).unwrap()
        kernel.munlockall().unwrap()

    in_child(lock_all)


@AS_USER
def test_mlockall_current_with_zero_limit_is_eperm(kernel: Kernel, in_child) -> None:
    def lock_all() -> str | None:
        _set_memlock(kernel, 0)
        r = kernel.mlockall(kernel.MCL_CURRENT)
        return r.errno.name if r.errno else None

    assert in_child(lock_all) == "EPERM"


# mlock takes an unaligned start: the range is widened to the pages it touches
# (mm/mlock.c do_mlock), where mprotect refuses one. Two bytes across a page boundary
# lock both pages; munlock widens the same way.
@pytest.mark.os("linux")
def test_mlock_unaligned_range_locks_every_page_it_touches(
    kernel: Kernel, maps, vm_flags, page: int
) -> None:
    if _memlock_limit(kernel) < 2 * page and os.geteuid() != 0:
        pytest.skip("RLIMIT_MEMLOCK is below two pages for this user")
    addr = maps.anon(3 * page)
    kernel.mlock(addr + page - 1, 2).unwrap()
    assert ["lo" in vm_flags(addr + i * page) for i in range(3)] == [True, True, False]
    kernel.munlock(addr + page - 1, 2).unwrap()
    assert ["lo" in vm_flags(addr + i * page) for i in range(3)] == [False, False, False]


# Locking what is already locked does not count it twice against RLIMIT_MEMLOCK
# (mm/mlock.c do_mlock: count_mm_mlocked_page_nr). The limit is lowered in a child.
@pytest.mark.os("linux")
@AS_USER
def test_mlock_again_within_the_limit_does_not_count_twice(
    kernel: Kernel, maps, in_child, page: int
) -> None:
    addr = maps.anon(2 * page)

    def lock() -> tuple[str, str, str]:
        _set_memlock(kernel, page)
        first = kernel.mlock(addr, page).outcome
        again = kernel.mlock(addr, page).outcome
        more = kernel.mlock(addr, 2 * page).outcome
        return first, again, more

    assert in_child(lock) == ("ok", "ok", "ENOMEM")
