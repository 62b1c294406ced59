"""memfd_create(2) and file seals (fcntl F_ADD_SEALS/F_GET_SEALS), Linux 3.17+.

A memfd created without MFD_ALLOW_SEALING starts with F_SEAL_SEAL, so adding seals is
EPERM. F_SEAL_WRITE is refused (EBUSY) while a shared writable mapping exists.
The name may be at most 249 bytes (NAME_MAX minus the "memfd:" prefix): EINVAL beyond.
"""

import pytest

from syscalls.kernel import Kernel

pytestmark = [pytest.mark.os("linux"), pytest.mark.min_kernel("3.17")]


@pytest.fixture
def memfd(kernel: Kernel, fds):
    """memfd(flags=MFD_ALLOW_SEALING, data=b"") -> fd holding data."""

    def make(flags: int | None = None, data: bytes = b"") -> int:
        flags = kernel.MFD_ALLOW_SEALING if flags is None else flags
        fd = kernel.memfd_create(b"syscalls-test", flags).unwrap()
        fds.append(fd)
        if data:
            assert kernel.write(fd, data, len(data)).unwrap() == len(data)
        return fd

    return make


def _seals(kernel: Kernel, fd: int) -> int:
    return kernel.fcntl(fd, kernel.F_GET_SEALS, 0).unwrap()


def _add(kernel: Kernel, fd: int, seals: int) -> None:
    kernel.fcntl(fd, kernel.F_ADD_SEALS, seals).unwrap()


def test_memfd_create_gives_an_empty_read_write_file(kernel: Kernel, memfd) -> None:
    fd = memfd()
    st = kernel.new("struct stat *")
    kernel.fstat(fd, st).unwrap()
    assert st.st_size == 0
    assert st.st_mode & kernel.S_IFMT == kernel.S_IFREG
    kernel.write(fd, b"abc", 3).unwrap()
    buf = kernel.buf(3)
    assert kernel.pread64(fd, buf, 3, 0).unwrap() == 3
    assert kernel.bytes(buf, 3) == b"abc"


def test_memfd_name_shows_in_proc_fd_link(kernel: Kernel, memfd) -> None:
    fd = memfd()
    buf = kernel.buf(256)
    n = kernel.readlinkat(kernel.AT_FDCWD, f"/proc/self/fd/{fd}", buf, 256).unwrap()
    assert kernel.bytes(buf, n).startswith(b"/memfd:syscalls-test")


def test_memfd_cloexec_sets_fd_flag(kernel: Kernel, memfd) -> None:
    fd = memfd(kernel.MFD_CLOEXEC)
    assert kernel.fcntl(fd, kernel.F_GETFD, 0).unwrap() & kernel.FD_CLOEXEC


def test_memfd_without_allow_sealing_is_sealed_against_seals(kernel: Kernel, memfd) -> None:
    fd = memfd(0)
    assert _seals(kernel, fd) & kernel.F_SEAL_SEAL
    assert kernel.fcntl(fd, kernel.F_ADD_SEALS, kernel.F_SEAL_WRITE).errno == "EPERM"


def test_memfd_allow_sealing_starts_without_seals(kernel: Kernel, memfd, observe) -> None:
    seals = _seals(kernel, memfd())
    observe("initial_seals", hex(seals))
    known = kernel.F_SEAL_SEAL | kernel.F_SEAL_SHRINK | kernel.F_SEAL_GROW | kernel.F_SEAL_WRITE
    assert seals & known == 0


def test_memfd_seal_write_makes_write_eperm(kernel: Kernel, memfd) -> None:
    fd = memfd(data=b"abc")
    _add(kernel, fd, kernel.F_SEAL_WRITE)
    assert kernel.write(fd, b"x", 1).errno == "EPERM"
    assert kernel.pwrite64(fd, b"x", 1, 0).errno == "EPERM"


def test_memfd_seal_write_refuses_shared_writable_mmap(kernel: Kernel, memfd, page: int) -> None:
    fd = memfd(data=b"x" * page)
    _add(kernel, fd, kernel.F_SEAL_WRITE)
    prot = kernel.PROT_READ | kernel.PROT_WRITE
    assert kernel.mmap(0, page, prot, kernel.MAP_SHARED, fd, 0).errno == "EPERM"


def test_memfd_seal_write_with_writable_mapping_is_ebusy(
    kernel: Kernel, memfd, maps, page: int
) -> None:
    fd = memfd(data=b"x" * page)
    maps.file(fd, page, kernel.MAP_SHARED)
    assert kernel.fcntl(fd, kernel.F_ADD_SEALS, kernel.F_SEAL_WRITE).errno == "EBUSY"


def test_memfd_seal_shrink_refuses_smaller_size_only(kernel: Kernel, memfd) -> None:
    fd = memfd(data=b"abcd")
    _add(kernel, fd, kernel.F_SEAL_SHRINK)
    assert kernel.ftruncate(fd, 2).errno == "EPERM"
    kernel.ftruncate(fd, 8).unwrap()


def test_memfd_seal_grow_refuses_larger_size_and_appending(kernel: Kernel, memfd) -> None:
    fd = memfd(data=b"abcd")
    _add(kernel, fd, kernel.F_SEAL_GROW)
    assert kernel.ftruncate(fd, 8).errno == "EPERM"
    assert kernel.pwrite64(fd, b"x", 1, 4).errno == "EPERM"
    kernel.pwrite64(fd, b"x", 1, 0).unwrap()  # overwriting inside the size is fine


def test_memfd_seal_seal_blocks_further_seals(kernel: Kernel, memfd) -> None:
    fd = memfd()
    _add(kernel, fd, kernel.F_SEAL_SEAL)
    assert kernel.fcntl(fd, kernel.F_ADD_SEALS, kernel.F_SEAL_GROW).errno == "EPERM"


def test_add_seals_through_a_read_only_descriptor_is_eperm(kernel: Kernel, memfd, fds) -> None:
    fd = memfd()
    ro = kernel.openat(kernel.AT_FDCWD, f"/proc/self/fd/{fd}", kernel.O_RDONLY).unwrap()
    fds.append(ro)
    assert kernel.fcntl(ro, kernel.F_ADD_SEALS, kernel.F_SEAL_WRITE).errno == "EPERM"
    assert _seals(kernel, fd) & kernel.F_SEAL_WRITE == 0
    kernel.write(fd, b"still writable", 14).unwrap()


@pytest.mark.min_kernel("5.1")
def test_memfd_seal_future_write_keeps_existing_mapping_writable(
    kernel: Kernel, memfd, maps, mem, page: int
) -> None:
    fd = memfd(data=b"\0" * page)
    addr = maps.file(fd, page, kernel.MAP_SHARED)
    _add(kernel, fd, kernel.F_SEAL_FUTURE_WRITE)
    assert kernel.write(fd, b"x", 1).errno == "EPERM"
    mem(addr, 3)[:] = b"old"
    buf = kernel.buf(3)
    kernel.pread64(fd, buf, 3, 0).unwrap()
    assert kernel.bytes(buf, 3) == b"old"


def test_add_seals_on_a_pipe_is_einval(kernel: Kernel, fds) -> None:
    pair = kernel.new("int[2]")
    kernel.pipe2(pair, 0).unwrap()
    fds.extend([pair[0], pair[1]])
    assert kernel.fcntl(pair[1], kernel.F_ADD_SEALS, kernel.F_SEAL_SEAL).errno == "EINVAL"


def test_memfd_name_over_249_bytes_is_einval(kernel: Kernel) -> None:
    assert kernel.memfd_create(b"n" * 250, 0).errno == "EINVAL"


def test_memfd_unknown_flag_is_einval(kernel: Kernel) -> None:
    assert kernel.memfd_create(b"x", 1 << 20).errno == "EINVAL"


def test_memfd_is_not_linked_anywhere(kernel: Kernel, memfd) -> None:
    fd = memfd()
    st = kernel.new("struct stat *")
    kernel.fstat(fd, st).unwrap()
    assert st.st_nlink == 0
