"""memfd_secret(2): a file whose pages are removed from the kernel's direct map, so only
the process that maps it can reach them (Linux >= 5.14). Until 6.5 it needs the boot
option secretmem.enable=1, and the call is ENOSYS without it: a skip, as on kernels
without CONFIG_SECRETMEM. Its pages count as locked memory (RLIMIT_MEMLOCK).
"""

import os

import pytest

from syscalls.kernel import Kernel

pytestmark = [pytest.mark.os("linux"), pytest.mark.min_kernel("5.14")]


@pytest.fixture
def secret(kernel: Kernel, fds: list[int]) -> int:
    fd = kernel.memfd_secret(kernel.O_CLOEXEC).unwrap()
    fds.append(fd)
    return fd


def test_secret_memory_mapped_shared_keeps_what_is_written(
    kernel: Kernel, secret: int, maps, page: int
) -> None:
    kernel.ftruncate(secret, page).unwrap()
    addr = maps.file(secret, page, kernel.MAP_SHARED)
    kernel.ffi.memmove(kernel.ffi.cast("char *", addr), b"hidden", 6)
    assert kernel.bytes(kernel.ffi.cast("char *", addr), 6) == b"hidden"


def test_memfd_secret_with_o_cloexec_sets_it(kernel: Kernel, secret: int) -> None:
    assert kernel.fcntl(secret, kernel.F_GETFD, 0).unwrap() & kernel.FD_CLOEXEC


def test_memfd_secret_unknown_flags_are_einval(kernel: Kernel) -> None:
    assert kernel.memfd_secret(kernel.O_RDWR).errno == "EINVAL"


def test_secret_memory_cannot_be_mapped_private(kernel: Kernel, secret: int, page: int) -> None:
    kernel.ftruncate(secret, page).unwrap()
    prot = kernel.PROT_READ | kernel.PROT_WRITE
    assert kernel.mmap(0, page, prot, kernel.MAP_PRIVATE, secret, 0).errno == "EINVAL"


def test_secret_memory_cannot_be_read_with_read(kernel: Kernel, secret: int, page: int) -> None:
    kernel.ftruncate(secret, page).unwrap()
    assert kernel.read(secret, kernel.buf(16), 16).errno == "EINVAL"


def test_secret_file_size_is_what_ftruncate_set(kernel: Kernel, secret: int, page: int) -> None:
    kernel.ftruncate(secret, 3 * page).unwrap()
    assert os.fstat(secret).st_size == 3 * page
