"""fadvise64(2) (posix_fadvise): every advice is accepted on a regular file; a pipe is
ESPIPE, an unknown advice or a negative length EINVAL, a bad descriptor EBADF
(mm/fadvise.c). POSIX_FADV_DONTNEED drops clean cached pages where the file system has a
real backing device; tmpfs's is the no-op one, which ignores every advice. i386 calls
fadvise64_64 with both 64-bit arguments split into register pairs (syscalls/abi_i386.py).
"""

import os
from pathlib import Path

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

ADVICE = ["NORMAL", "RANDOM", "SEQUENTIAL", "WILLNEED", "DONTNEED", "NOREUSE"]
PAGE = os.sysconf("SC_PAGE_SIZE")


@pytest.mark.parametrize("advice", ADVICE)
def test_fadvise64_each_advice_is_accepted(kernel: Kernel, tmp: Path, fds, advice: str) -> None:
    fd = fds.file(tmp / "f", b"x" * 8192, kernel.O_RDONLY)
    assert kernel.fadvise64(fd, 0, 8192, getattr(kernel, f"POSIX_FADV_{advice}")).unwrap() == 0


def test_fadvise64_zero_length_means_to_the_end(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"x" * 100, kernel.O_RDONLY)
    assert kernel.fadvise64(fd, 0, 0, kernel.POSIX_FADV_WILLNEED).unwrap() == 0


def test_fadvise64_range_past_4_gib_is_accepted(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"x", kernel.O_RDONLY)
    assert kernel.fadvise64(fd, 5 << 30, 5 << 30, kernel.POSIX_FADV_DONTNEED).unwrap() == 0


def test_fadvise64_does_not_move_the_file_offset(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"x" * 100, kernel.O_RDONLY)
    kernel.fadvise64(fd, 50, 10, kernel.POSIX_FADV_WILLNEED).unwrap()
    assert kernel.lseek(fd, 0, kernel.SEEK_CUR).unwrap() == 0


def test_fadvise64_on_a_pipe_is_espipe(kernel: Kernel, fds) -> None:
    rfd, _ = fds.pipe()
    assert kernel.fadvise64(rfd, 0, 0, kernel.POSIX_FADV_NORMAL).errno == "ESPIPE"


@pytest.mark.parametrize("advice", [6, 99, -1])
def test_fadvise64_unknown_advice_is_einval(kernel: Kernel, tmp: Path, fds, advice: int) -> None:
    fd = fds.file(tmp / "f", b"x", kernel.O_RDONLY)
    assert kernel.fadvise64(fd, 0, 0, advice).errno == "EINVAL"


def test_fadvise64_negative_length_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"x", kernel.O_RDONLY)
    assert kernel.fadvise64(fd, 0, -1, kernel.POSIX_FADV_NORMAL).errno == "EINVAL"


def test_fadvise64_on_a_closed_descriptor_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"x", kernel.O_RDONLY)
    fds.close(fd)
    assert kernel.fadvise64(fd, 0, 0, kernel.POSIX_FADV_NORMAL).errno == "EBADF"


def test_fadvise64_works_on_a_write_only_descriptor(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"x", kernel.O_WRONLY)
    assert kernel.fadvise64(fd, 0, 0, kernel.POSIX_FADV_DONTNEED).unwrap() == 0


def _resident(kernel: Kernel, fd: int, pages: int) -> int:
    """How many of the file's first pages are in the page cache (mincore of a fresh
    mapping reports the cache, whether or not the mapping touched them)."""
    addr = kernel.mmap(0, pages * PAGE, kernel.PROT_READ, kernel.MAP_SHARED, fd, 0).unwrap()
    try:
        vec = kernel.buf(pages)
        kernel.mincore(addr, pages * PAGE, vec).unwrap()
        return sum(b & 1 for b in kernel.bytes(vec, pages))
    finally:
        kernel.munmap(addr, pages * PAGE).unwrap()


def test_fadvise64_dontneed_drops_clean_pages_unless_the_device_is_a_noop(
    kernel: Kernel, disk_tmp: Path, fds, observe
) -> None:
    fd = fds.file(disk_tmp / "f", b"x" * (8 * PAGE))
    kernel.fsync(fd).unwrap()  # clean: DONTNEED may drop them
    st = kernel.new("struct statfs *")
    kernel.fstatfs(fd, st).unwrap()
    before = _resident(kernel, fd, 8)
    kernel.fadvise64(fd, 0, 0, kernel.POSIX_FADV_DONTNEED).unwrap()
    after = _resident(kernel, fd, 8)
    observe("resident", (before, after))
    assert before == 8
    assert after == (8 if st.f_type == kernel.TMPFS_MAGIC else 0)
