"""mmap(2): anonymous and file mappings, sharing across fork, placement, and refusals.

Faults (SIGSEGV, SIGBUS) happen in a child: in_child reports "child killed by SIGSEGV"
as ChildFailed, which is the kernel's answer the test asserts. Linux-only flags
(MAP_FIXED_NOREPLACE 4.17, MAP_SHARED_VALIDATE 4.15) are marked.
"""

import faulthandler
from pathlib import Path

import pytest

from syscalls import forking
from syscalls.child import ChildFailed
from syscalls.kernel import Kernel


def _file(kernel: Kernel, fds: list[int], path: Path, data: bytes, flags: int) -> int:
    path.write_bytes(data)
    fd = kernel.openat(kernel.AT_FDCWD, path, flags).unwrap()
    fds.append(fd)
    return fd


@pytest.mark.smoke
def test_mmap_anonymous_private_is_zeroed_aligned_and_writable(
    kernel: Kernel, maps, mem, page: int
) -> None:
    addr = maps.anon(2 * page)
    assert addr % page == 0
    view = mem(addr, 2 * page)
    assert view[:] == b"\0" * (2 * page)
    view[page : page + 4] = b"abcd"
    assert view[page : page + 4] == b"abcd"


@pytest.mark.smoke
def test_mmap_file_private_shows_file_contents(kernel: Kernel, tmp: Path, fds, maps, mem) -> None:
    fd = _file(kernel, fds, tmp / "f", b"file contents", kernel.O_RDONLY)
    addr = maps.file(fd, 13, kernel.MAP_PRIVATE, kernel.PROT_READ)
    assert mem(addr, 13)[:] == b"file contents"


@pytest.mark.smoke
def test_mmap_file_shared_writes_reach_the_file(kernel: Kernel, tmp: Path, fds, maps, mem) -> None:
    fd = _file(kernel, fds, tmp / "f", b"aaaa", kernel.O_RDWR)
    addr = maps.file(fd, 4, kernel.MAP_SHARED)
    mem(addr, 4)[1:3] = b"XY"
    buf = kernel.buf(4)
    kernel.pread64(fd, buf, 4, 0).unwrap()
    assert kernel.bytes(buf, 4) == b"aXYa"


def test_mmap_file_private_writes_do_not_reach_the_file(
    kernel: Kernel, tmp: Path, fds, maps, mem
) -> None:
    fd = _file(kernel, fds, tmp / "f", b"aaaa", kernel.O_RDWR)
    addr = maps.file(fd, 4, kernel.MAP_PRIVATE)
    mem(addr, 4)[0:2] = b"ZZ"
    buf = kernel.buf(4)
    kernel.pread64(fd, buf, 4, 0).unwrap()
    assert kernel.bytes(buf, 4) == b"aaaa"


def test_mmap_file_shared_sees_later_writes_to_the_file(
    kernel: Kernel, tmp: Path, fds, maps, mem
) -> None:
    fd = _file(kernel, fds, tmp / "f", b"aaaa", kernel.O_RDWR)
    addr = maps.file(fd, 4, kernel.MAP_SHARED, kernel.PROT_READ)
    kernel.pwrite64(fd, b"W", 1, 3).unwrap()
    assert mem(addr, 4)[:] == b"aaaW"


def _write_in_forked_child(kernel: Kernel, view, data: bytes) -> bytes:
    """Raw-fork a child that writes `data` into the view; what the parent then sees."""

    def body() -> int:
        view[0 : len(data)] = data
        return 0

    assert forking.exit_code(kernel, forking.fork(kernel, body)) == 0
    return bytes(view[0 : len(data)])


def test_mmap_shared_anonymous_writes_are_visible_across_fork(
    kernel: Kernel, maps, mem, in_child, page: int
) -> None:
    view = mem(maps.anon(page, kernel.MAP_SHARED), page)
    assert in_child(lambda: _write_in_forked_child(kernel, view, b"child")) == b"child"


@pytest.mark.smoke
def test_mmap_private_anonymous_is_copied_on_write_across_fork(
    kernel: Kernel, maps, mem, in_child, page: int
) -> None:
    view = mem(maps.anon(page), page)
    view[0:5] = b"paren"
    assert in_child(lambda: _write_in_forked_child(kernel, view, b"child")) == b"paren"


@pytest.mark.smoke
def test_mmap_fixed_replaces_the_mapping_at_that_address(
    kernel: Kernel, maps, mem, page: int
) -> None:
    addr = maps.anon(2 * page)
    mem(addr, 1)[0] = b"x"
    flags = kernel.MAP_PRIVATE | kernel.MAP_ANONYMOUS | kernel.MAP_FIXED
    prot = kernel.PROT_READ | kernel.PROT_WRITE
    assert kernel.mmap(addr, page, prot, flags, -1, 0).unwrap() == addr
    assert mem(addr, 1)[0] == b"\0"


def test_mmap_fixed_at_unaligned_address_is_einval(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(2 * page)
    flags = kernel.MAP_PRIVATE | kernel.MAP_ANONYMOUS | kernel.MAP_FIXED
    assert kernel.mmap(addr + 1, page, kernel.PROT_READ, flags, -1, 0).errno == "EINVAL"


@pytest.mark.os("linux")
@pytest.mark.min_kernel("4.17")
def test_mmap_fixed_noreplace_over_a_mapping_is_eexist(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(page)
    flags = kernel.MAP_PRIVATE | kernel.MAP_ANONYMOUS | kernel.MAP_FIXED_NOREPLACE
    assert kernel.mmap(addr, page, kernel.PROT_READ, flags, -1, 0).errno == "EEXIST"


@pytest.mark.smoke
def test_mmap_zero_length_is_einval(kernel: Kernel) -> None:
    flags = kernel.MAP_PRIVATE | kernel.MAP_ANONYMOUS
    assert kernel.mmap(0, 0, kernel.PROT_READ, flags, -1, 0).errno == "EINVAL"


def test_mmap_unaligned_offset_is_einval(kernel: Kernel, tmp: Path, fds, page: int) -> None:
    fd = _file(kernel, fds, tmp / "f", b"x" * 2 * page, kernel.O_RDONLY)
    r = kernel.mmap(0, page, kernel.PROT_READ, kernel.MAP_PRIVATE, fd, 100)
    assert r.errno == "EINVAL"


@pytest.mark.smoke
def test_mmap_without_shared_or_private_is_einval(kernel: Kernel, page: int) -> None:
    assert kernel.mmap(0, page, kernel.PROT_READ, kernel.MAP_ANONYMOUS, -1, 0).errno == "EINVAL"


@pytest.mark.smoke
def test_mmap_shared_writable_on_read_only_fd_is_eacces(
    kernel: Kernel, tmp: Path, fds, page: int
) -> None:
    fd = _file(kernel, fds, tmp / "f", b"x" * page, kernel.O_RDONLY)
    prot = kernel.PROT_READ | kernel.PROT_WRITE
    assert kernel.mmap(0, page, prot, kernel.MAP_SHARED, fd, 0).errno == "EACCES"


def test_mmap_private_writable_on_read_only_fd_is_allowed(
    kernel: Kernel, tmp: Path, fds, maps, page: int
) -> None:
    fd = _file(kernel, fds, tmp / "f", b"x" * page, kernel.O_RDONLY)
    maps.file(fd, page, kernel.MAP_PRIVATE)


def test_mmap_write_only_fd_is_eacces(kernel: Kernel, tmp: Path, fds, page: int) -> None:
    fd = _file(kernel, fds, tmp / "f", b"x" * page, kernel.O_WRONLY)
    assert kernel.mmap(0, page, kernel.PROT_WRITE, kernel.MAP_SHARED, fd, 0).errno == "EACCES"


@pytest.mark.smoke
def test_mmap_closed_fd_is_ebadf(kernel: Kernel, tmp: Path, fds, page: int) -> None:
    fd = _file(kernel, fds, tmp / "f", b"x", kernel.O_RDONLY)
    fds.remove(fd)
    kernel.close(fd).unwrap()
    assert kernel.mmap(0, page, kernel.PROT_READ, kernel.MAP_PRIVATE, fd, 0).errno == "EBADF"


@pytest.mark.os("linux")
def test_mmap_directory_is_enodev(kernel: Kernel, tmp: Path, fds, page: int) -> None:
    fd = kernel.openat(kernel.AT_FDCWD, tmp, kernel.O_RDONLY | kernel.O_DIRECTORY).unwrap()
    fds.append(fd)
    assert kernel.mmap(0, page, kernel.PROT_READ, kernel.MAP_PRIVATE, fd, 0).errno == "ENODEV"


@pytest.mark.os("linux")
@pytest.mark.min_kernel("4.15")
def test_mmap_shared_validate_with_unknown_flag_is_eopnotsupp(
    kernel: Kernel, tmp: Path, fds, page: int
) -> None:
    fd = _file(kernel, fds, tmp / "f", b"x" * page, kernel.O_RDWR)
    flags = kernel.MAP_SHARED_VALIDATE | (1 << 25)  # a bit no MAP_ flag uses
    assert kernel.mmap(0, page, kernel.PROT_READ, flags, fd, 0).errno == "EOPNOTSUPP"


def test_mmap_access_past_end_of_file_is_sigbus(
    kernel: Kernel, tmp: Path, fds, maps, mem, in_child, page: int
) -> None:
    fd = _file(kernel, fds, tmp / "f", b"x", kernel.O_RDONLY)
    addr = maps.file(fd, 2 * page, kernel.MAP_PRIVATE, kernel.PROT_READ)
    view = mem(addr, 2 * page)
    assert view[0] == b"x"  # the page holding the file's last byte is readable

    def touch_next_page() -> None:
        faulthandler.disable()
        view[page]

    with pytest.raises(ChildFailed, match="SIGBUS"):
        in_child(touch_next_page)


@pytest.mark.smoke
def test_mmap_prot_none_read_is_sigsegv(kernel: Kernel, maps, mem, in_child, page: int) -> None:
    view = mem(maps.anon(page, prot=kernel.PROT_NONE), page)

    def read() -> None:
        faulthandler.disable()
        view[0]

    with pytest.raises(ChildFailed, match="SIGSEGV"):
        in_child(read)
