"""process_vm_readv(2), process_vm_writev(2): copying between the caller's memory and
another process's, iovec to iovec, without going through the target (Linux >= 3.2).

The caller needs ptrace attach rights over the target. A copy stops at the first
remote address that faults, and returns what it copied; nothing copied is EFAULT.
The remote process is a forked child, whose buffer sits at the same address as the
parent's (fork copies the address space) but holds its own data.
"""

import os

import pytest

from syscalls import forking
from syscalls.kernel import Kernel

pytestmark = [pytest.mark.os("linux"), pytest.mark.min_kernel("3.2")]

AS_USER = pytest.mark.as_user("root may read any process's memory (CAP_SYS_PTRACE)")
IOV_MAX = 1024  # UIO_MAXIOV


def _iov(kernel: Kernel, *parts: tuple[int, int]):
    return kernel.new("struct iovec[]", [(kernel.ffi.cast("void *", a), n) for a, n in parts])


def test_readv_of_own_memory_copies_it(kernel: Kernel) -> None:
    src, dst = kernel.buf(b"copied by the kernel"), kernel.buf(32)
    n = kernel.process_vm_readv(
        os.getpid(), _iov(kernel, (kernel.address(dst), 20)), 1,
        _iov(kernel, (kernel.address(src), 20)), 1, 0,
    ).unwrap()  # fmt: skip
    assert (n, kernel.bytes(dst, 20)) == (20, b"copied by the kernel")


def test_writev_into_own_memory_copies_it(kernel: Kernel) -> None:
    src, dst = kernel.buf(b"written remotely"), kernel.buf(32)
    n = kernel.process_vm_writev(
        os.getpid(), _iov(kernel, (kernel.address(src), 16)), 1,
        _iov(kernel, (kernel.address(dst), 16)), 1, 0,
    ).unwrap()  # fmt: skip
    assert (n, kernel.bytes(dst, 16)) == (16, b"written remotely")


def test_readv_of_a_child_sees_the_childs_data(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, bytes, bytes]:
        shared = kernel.buf(b"parent's copy...")  # the child writes its own at this address

        def prepare() -> None:
            kernel.ffi.memmove(shared, b"child's own data", 16)

        with forking.waiting_child(kernel, prepare) as (pid, _):
            out = kernel.buf(16)
            n = kernel.process_vm_readv(
                pid, _iov(kernel, (kernel.address(out), 16)), 1,
                _iov(kernel, (kernel.address(shared), 16)), 1, 0,
            ).unwrap()  # fmt: skip
            return n, kernel.bytes(out, 16), kernel.bytes(shared, 16)

    assert in_child(run) == (16, b"child's own data", b"parent's copy...")


def test_writev_into_a_child_is_read_back_from_it(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, bytes, bytes]:
        target = kernel.buf(16)
        with forking.waiting_child(kernel) as (pid, _):
            src = kernel.buf(b"sent to the kid!")
            remote = _iov(kernel, (kernel.address(target), 16))
            n = kernel.process_vm_writev(
                pid, _iov(kernel, (kernel.address(src), 16)), 1, remote, 1, 0
            )
            back = kernel.buf(16)
            kernel.process_vm_readv(pid, _iov(kernel, (kernel.address(back), 16)), 1, remote, 1, 0)
            return n.unwrap(), kernel.bytes(back, 16), kernel.bytes(target, 16)

    n, in_the_child, here = in_child(run)
    assert (n, in_the_child) == (16, b"sent to the kid!")
    assert here == bytes(16)  # the parent's own copy is untouched


def test_readv_scatters_one_remote_range_over_local_iovecs_in_order(kernel: Kernel) -> None:
    src, a, b = kernel.buf(b"abcdefghij"), kernel.buf(4), kernel.buf(6)
    local = _iov(kernel, (kernel.address(a), 4), (kernel.address(b), 6))
    remote = _iov(kernel, (kernel.address(src), 10))
    assert kernel.process_vm_readv(os.getpid(), local, 2, remote, 1, 0).unwrap() == 10
    assert (kernel.bytes(a, 4), kernel.bytes(b, 6)) == (b"abcd", b"efghij")


def test_readv_stops_at_the_first_remote_fault(kernel: Kernel, maps, page: int) -> None:
    """Two pages mapped, the second unmapped again: a read across the boundary copies
    what lies before it."""
    addr = maps.anon(2 * page)
    maps.unmap(addr + page, page)
    dst = kernel.buf(256)
    remote = _iov(kernel, (addr + page - 100, 200))
    n = kernel.process_vm_readv(
        os.getpid(), _iov(kernel, (kernel.address(dst), 256)), 1, remote, 1, 0
    )
    assert n.unwrap() == 100


@pytest.mark.requires("fault_handler")
def test_readv_of_an_unmapped_remote_address_is_efault(kernel: Kernel) -> None:
    dst = kernel.buf(16)
    r = kernel.process_vm_readv(
        os.getpid(), _iov(kernel, (kernel.address(dst), 16)), 1, _iov(kernel, (8, 16)), 1, 0
    )
    assert r.errno == "EFAULT"


@pytest.mark.requires("fault_handler")
def test_writev_into_an_unmapped_remote_address_is_efault(kernel: Kernel) -> None:
    src = kernel.buf(16)
    r = kernel.process_vm_writev(
        os.getpid(), _iov(kernel, (kernel.address(src), 16)), 1, _iov(kernel, (8, 16)), 1, 0
    )
    assert r.errno == "EFAULT"


def test_zero_length_copies_nothing(kernel: Kernel) -> None:
    buf = kernel.buf(8)
    iov = _iov(kernel, (kernel.address(buf), 0))
    assert kernel.process_vm_readv(os.getpid(), iov, 1, iov, 1, 0).unwrap() == 0


@pytest.mark.parametrize("call", ["process_vm_readv", "process_vm_writev"])
def test_of_a_missing_pid_is_esrch(kernel: Kernel, call: str) -> None:
    buf = kernel.buf(8)
    iov = _iov(kernel, (kernel.address(buf), 8))
    assert getattr(kernel, call)(forking.missing_pid(), iov, 1, iov, 1, 0).errno == "ESRCH"


@pytest.mark.parametrize("call", ["process_vm_readv", "process_vm_writev"])
def test_with_flags_is_einval(kernel: Kernel, call: str) -> None:
    buf = kernel.buf(8)
    iov = _iov(kernel, (kernel.address(buf), 8))
    assert getattr(kernel, call)(os.getpid(), iov, 1, iov, 1, 1).errno == "EINVAL"


def test_more_iovecs_than_iov_max_is_einval(kernel: Kernel) -> None:
    buf = kernel.buf(8)
    many = _iov(kernel, *[(kernel.address(buf), 0)] * (IOV_MAX + 1))
    assert kernel.process_vm_readv(os.getpid(), many, IOV_MAX + 1, many, 1, 0).errno == "EINVAL"


@AS_USER
def test_readv_of_another_users_process_is_eperm(kernel: Kernel) -> None:
    buf = kernel.buf(8)
    iov = _iov(kernel, (kernel.address(buf), 8))
    assert kernel.process_vm_readv(1, iov, 1, iov, 1, 0).errno == "EPERM"  # init: root's
