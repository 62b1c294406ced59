"""process_madvise(2): madvise advice for another process's memory, through a pidfd
(Linux >= 5.10).

Only advice that does not destroy data is taken for another process (MADV_COLD,
MADV_PAGEOUT, MADV_WILLNEED, MADV_COLLAPSE: mm/madvise.c), and the caller needs ptrace
read access plus CAP_SYS_NICE. The call returns the bytes it advised. (Since 6.13 a
process advising itself is not restricted so; the tests here advise a child, or are
root's.) The child's mapping sits at the same address in the parent, made before fork.
"""

import os

import pytest

from syscalls import forking
from syscalls.kernel import Kernel

pytestmark = [pytest.mark.os("linux"), pytest.mark.min_kernel("5.10")]

AS_USER = pytest.mark.as_user("root has CAP_SYS_NICE")
PAGES = 4


def _iov(kernel: Kernel, addr: int, length: int):
    return kernel.new("struct iovec *", (kernel.ffi.cast("void *", addr), length))


def _advise_child(kernel: Kernel, maps, page: int, advice: str, flags: int = 0) -> str | int:
    """Touch PAGES private pages, fork a child holding them, advise its copy."""
    addr = maps.anon(PAGES * page)
    kernel.ffi.memmove(kernel.ffi.cast("char *", addr), b"x" * PAGES * page, PAGES * page)
    with forking.waiting_child(kernel) as (pid, _):
        pidfd = kernel.pidfd_open(pid, 0).unwrap()
        try:
            r = kernel.process_madvise(
                pidfd, _iov(kernel, addr, PAGES * page), 1, getattr(kernel, advice), flags
            )
        finally:
            os.close(pidfd)
    return r.value if r.ok else r.outcome


@pytest.mark.root
@pytest.mark.parametrize("advice", ["MADV_COLD", "MADV_PAGEOUT", "MADV_WILLNEED"])
def test_advice_for_a_childs_memory_returns_the_bytes_advised(
    kernel: Kernel, maps, page: int, in_child, advice: str
) -> None:
    assert in_child(lambda: _advise_child(kernel, maps, page, advice)) == PAGES * page


@pytest.mark.root
def test_pageout_keeps_the_childs_data(kernel: Kernel, maps, page: int, in_child) -> None:
    """Paged out (to swap, or dropped only if clean): never lost. The child checks its
    copy after the advice and exits 0 if intact."""

    def run() -> tuple[int, int]:
        addr = maps.anon(page)
        view = kernel.ffi.buffer(kernel.ffi.cast("char *", addr), page)
        view[:] = b"k" * page
        with forking.waiting_child(kernel) as (pid, _):
            pidfd = kernel.pidfd_open(pid, 0).unwrap()
            n = kernel.process_madvise(pidfd, _iov(kernel, addr, page), 1, kernel.MADV_PAGEOUT, 0)
        check = forking.fork(kernel, lambda: 0 if view[:] == b"k" * page else 1)
        return n.unwrap(), forking.exit_code(kernel, check)

    assert in_child(run) == (page, 0)


@pytest.mark.root
@pytest.mark.parametrize("advice", ["MADV_DONTNEED", "MADV_FREE", "MADV_REMOVE"])
def test_destructive_advice_for_another_process_is_einval(
    kernel: Kernel, maps, page: int, in_child, advice: str
) -> None:
    assert in_child(lambda: _advise_child(kernel, maps, page, advice)) == "EINVAL"


@AS_USER
def test_advice_for_a_child_without_cap_sys_nice_is_eperm(
    kernel: Kernel, maps, page: int, in_child
) -> None:
    assert in_child(lambda: _advise_child(kernel, maps, page, "MADV_COLD")) == "EPERM"


def test_flags_are_einval(kernel: Kernel, maps, page: int, in_child) -> None:
    assert in_child(lambda: _advise_child(kernel, maps, page, "MADV_COLD", flags=1)) == "EINVAL"


def test_through_a_descriptor_that_is_no_pidfd_is_ebadf(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(page)
    rfd, wfd = os.pipe()
    try:
        r = kernel.process_madvise(rfd, _iov(kernel, addr, page), 1, kernel.MADV_COLD, 0)
        assert r.errno == "EBADF"
    finally:
        os.close(rfd), os.close(wfd)


@pytest.mark.root
def test_advice_for_own_memory_through_own_pidfd(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(2 * page)
    pidfd = kernel.pidfd_open(os.getpid(), 0).unwrap()
    try:
        r = kernel.process_madvise(pidfd, _iov(kernel, addr, 2 * page), 1, kernel.MADV_COLD, 0)
        assert r.unwrap() == 2 * page
    finally:
        os.close(pidfd)


def test_more_iovecs_than_iov_max_is_einval(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(page)
    iovs = kernel.new("struct iovec[]", [(kernel.ffi.cast("void *", addr), page)] * 1025)
    pidfd = kernel.pidfd_open(os.getpid(), 0).unwrap()
    try:
        assert kernel.process_madvise(pidfd, iovs, 1025, kernel.MADV_COLD, 0).errno == "EINVAL"
    finally:
        os.close(pidfd)
