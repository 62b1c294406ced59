"""set_robust_list(2) and get_robust_list(2): the per-thread head of the list of robust
futexes the kernel walks when the thread dies (what robust mutexes rest on; what the
kernel then does with the futexes is the sync suite's).

The thread's own head is glibc's: a test that sets another puts glibc's back before it
ends. get_robust_list of another process needs ptrace read access to it.
"""

import os
from collections.abc import Iterator

import pytest

from syscalls import forking
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

AS_USER = pytest.mark.as_user("root may read any process's robust list (CAP_SYS_PTRACE)")
BAD_ADDRESS = 8


def _get(kernel: Kernel, pid: int = 0) -> tuple[int, int]:
    head, size = kernel.new("void **"), kernel.new("size_t *")
    kernel.get_robust_list(pid, head, size).unwrap()
    return kernel.address(head[0]), int(size[0])


@pytest.fixture
def restore(kernel: Kernel) -> Iterator[None]:
    """Whatever a test sets, glibc's head for this thread is put back."""
    head, size = kernel.new("void **"), kernel.new("size_t *")
    kernel.get_robust_list(0, head, size).unwrap()
    try:
        yield
    finally:
        kernel.set_robust_list(head[0], size[0])


def test_get_robust_list_reads_back_what_set_robust_list_set(kernel: Kernel, restore) -> None:
    mine = kernel.new("struct robust_list_head *")
    mine.list.next = kernel.ffi.cast("struct robust_list *", mine)  # an empty list
    size = kernel.ffi.sizeof("struct robust_list_head")
    assert kernel.set_robust_list(mine, size).unwrap() == 0
    assert _get(kernel) == (kernel.address(mine), size)


def test_set_robust_list_with_another_length_is_einval(kernel: Kernel, restore) -> None:
    size = kernel.ffi.sizeof("struct robust_list_head")
    head = kernel.new("struct robust_list_head *")
    assert kernel.set_robust_list(head, size + 1).errno == "EINVAL"
    assert kernel.set_robust_list(head, size - 1).errno == "EINVAL"


def test_get_robust_list_of_own_tid_is_that_of_pid_zero(kernel: Kernel) -> None:
    assert _get(kernel, kernel.gettid().unwrap()) == _get(kernel, 0)


def test_get_robust_list_length_is_the_kernels_head_size(kernel: Kernel) -> None:
    assert _get(kernel)[1] == kernel.ffi.sizeof("struct robust_list_head")


def test_get_robust_list_of_a_missing_pid_is_esrch(kernel: Kernel) -> None:
    head, size = kernel.new("void **"), kernel.new("size_t *")
    assert kernel.get_robust_list(forking.missing_pid(), head, size).errno == "ESRCH"


@pytest.mark.requires("fault_handler")
def test_get_robust_list_into_a_bad_address_is_efault(kernel: Kernel) -> None:
    assert kernel.get_robust_list(0, BAD_ADDRESS, kernel.new("size_t *")).errno == "EFAULT"


@AS_USER
def test_get_robust_list_of_another_users_process_is_eperm(kernel: Kernel) -> None:
    head, size = kernel.new("void **"), kernel.new("size_t *")
    assert kernel.get_robust_list(1, head, size).errno == "EPERM"  # init: root's


def test_robust_list_is_not_inherited_by_fork(kernel: Kernel, in_child) -> None:
    """copy_process starts the child without one (glibc's fork sets its own again; the
    raw fork here does not): the child reads a NULL head."""

    def run() -> tuple[bool, int]:
        had = _get(kernel)[0] != 0
        pid = forking.fork(kernel, lambda: 0 if _get(kernel)[0] == 0 else 1)
        return had, forking.exit_code(kernel, pid)

    had, child_has_none = in_child(run)
    assert had  # glibc registers one for every thread
    assert child_has_none == 0


def test_get_robust_list_of_own_child_is_readable(kernel: Kernel, in_child) -> None:
    """A parent may read its child's (ptrace read access): here the child's is NULL."""

    def run() -> tuple[int, int]:
        rfd, wfd = os.pipe()
        pid = forking.fork(kernel, lambda: os.read(rfd, 1) and 0)
        try:
            return _get(kernel, pid)
        finally:
            os.write(wfd, b"x")
            forking.exit_code(kernel, pid)

    assert in_child(run) == (0, kernel.ffi.sizeof("struct robust_list_head"))
