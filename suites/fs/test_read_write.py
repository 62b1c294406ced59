"""read(2) and write(2) on regular files: counts, offsets, EOF and errors."""

import os
from pathlib import Path

import pytest

from syscalls.kernel import Kernel

BAD_ADDRESS = 8  # inside the never-mapped first page: copy to/from user faults


@pytest.mark.smoke
def test_write_returns_count_and_read_returns_the_same_bytes(
    kernel: Kernel, tmp: Path, fds
) -> None:
    fd = fds.file(tmp / "f")
    assert kernel.write(fd, b"hello world", 11).unwrap() == 11
    kernel.lseek(fd, 0, kernel.SEEK_SET).unwrap()
    buf = kernel.buf(32)
    n = kernel.read(fd, buf, 32).unwrap()
    assert kernel.bytes(buf, n) == b"hello world"


@pytest.mark.smoke
def test_read_advances_the_file_offset(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"0123456789")
    buf = kernel.buf(4)
    kernel.read(fd, buf, 4).unwrap()
    assert kernel.lseek(fd, 0, kernel.SEEK_CUR).unwrap() == 4
    kernel.read(fd, buf, 4).unwrap()
    assert kernel.bytes(buf, 4) == b"4567"


@pytest.mark.smoke
def test_read_near_eof_is_short(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abcdef")
    kernel.lseek(fd, 4, kernel.SEEK_SET).unwrap()
    buf = kernel.buf(100)
    assert kernel.read(fd, buf, 100).unwrap() == 2
    assert kernel.bytes(buf, 2) == b"ef"


@pytest.mark.smoke
def test_read_at_eof_returns_zero(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc")
    kernel.lseek(fd, 0, kernel.SEEK_END).unwrap()
    assert kernel.read(fd, kernel.buf(8), 8).unwrap() == 0


@pytest.mark.smoke
def test_zero_length_read_returns_zero(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc")
    assert kernel.read(fd, kernel.buf(1), 0).unwrap() == 0
    assert kernel.lseek(fd, 0, kernel.SEEK_CUR).unwrap() == 0


@pytest.mark.smoke
def test_zero_length_write_returns_zero_and_leaves_file(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc")
    assert kernel.write(fd, b"x", 0).unwrap() == 0
    assert (tmp / "f").read_bytes() == b"abc"


@pytest.mark.smoke
def test_read_on_closed_fd_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc")
    fds.close(fd).unwrap()
    assert kernel.read(fd, kernel.buf(4), 4).errno == "EBADF"


@pytest.mark.smoke
def test_read_on_write_only_fd_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc", kernel.O_WRONLY)
    assert kernel.read(fd, kernel.buf(4), 4).errno == "EBADF"


@pytest.mark.smoke
def test_write_on_read_only_fd_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc", kernel.O_RDONLY)
    assert kernel.write(fd, b"x", 1).errno == "EBADF"


@pytest.mark.requires("fault_handler")
@pytest.mark.smoke
def test_read_into_bad_address_is_efault(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc")
    assert kernel.read(fd, BAD_ADDRESS, 3).errno == "EFAULT"


@pytest.mark.requires("fault_handler")
@pytest.mark.smoke
def test_write_from_bad_address_is_efault(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    assert kernel.write(fd, BAD_ADDRESS, 3).errno == "EFAULT"
    assert (tmp / "f").read_bytes() == b""


@pytest.mark.smoke
def test_read_on_directory_is_eisdir(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.open(tmp, kernel.O_RDONLY | kernel.O_DIRECTORY)
    assert kernel.read(fd, kernel.buf(64), 64).errno == "EISDIR"


# A buffer whose tail runs into a faulting page: a regular file's read and write copy
# what fits and report that count (mm/filemap.c filemap_read; generic_perform_write),
# /dev/zero likewise (drivers/char/mem.c read_iter_zero); a pipe or a stream socket
# answers EFAULT unless earlier data was already copied, and keeps the data
# (fs/pipe.c pipe_read/pipe_write, net/unix/af_unix.c). Nothing fits: EFAULT for all.
# "What fits" is to the copy routine's grain: 6.1's x86 clear_user stops at the last
# whole 8-byte word, so a short count may fall a few bytes short of the page's end.
READERS = ["file", "zero", "pipe", "unix_stream"]
PARTIAL_READ = [("file", "short"), ("zero", "short"), ("pipe", "EFAULT"), ("unix_stream", "EFAULT")]
PARTIAL_WRITE = [("file", "short"), ("pipe", "EFAULT")]
DATA = bytes(range(256)) + b"tail" * 11  # 300 bytes
FITS = 100  # bytes of the buffer before the faulting page


def _reader(kernel: Kernel, tmp: Path, fds, kind: str) -> int:
    """A descriptor to read DATA from (zeros, for /dev/zero)."""
    if kind == "file":
        return fds.file(tmp / "f", DATA, kernel.O_RDONLY)
    if kind == "zero":
        return fds.open("/dev/zero", kernel.O_RDONLY)
    rfd, wfd = fds.pipe() if kind == "pipe" else fds.socketpair()
    assert kernel.write(wfd, DATA, len(DATA)).unwrap() == len(DATA)
    return rfd


def _read_rest(kernel: Kernel, fd: int) -> bytes:
    buf = kernel.buf(1024)
    return kernel.bytes(buf, kernel.read(fd, buf, 1024).unwrap())


@pytest.mark.os("linux")
@pytest.mark.requires("fault_handler")
@pytest.mark.parametrize("beyond", ["PROT_NONE", "unmapped"])
@pytest.mark.parametrize(("kind", "expected"), PARTIAL_READ)
def test_read_into_buffer_running_into_a_faulting_page(
    kernel: Kernel, tmp: Path, fds, guarded, beyond: str, kind: str, expected: str
) -> None:
    fd = _reader(kernel, tmp, fds, kind)
    g = guarded(beyond)
    addr = g.ending_at_edge(b"\xaa" * FITS)
    r = kernel.read(fd, addr, 200)
    if expected == "short":
        n = r.unwrap()
        assert 0 < n <= FITS
        assert g.read(addr, n) == (DATA[:n] if kind == "file" else b"\0" * n)
    else:
        assert r.errno == expected
        assert _read_rest(kernel, fd) == DATA  # nothing was consumed


@pytest.mark.os("linux")
@pytest.mark.requires("fault_handler")
@pytest.mark.parametrize("kind", READERS)
def test_read_into_buffer_starting_at_a_faulting_page_is_efault(
    kernel: Kernel, tmp: Path, fds, guarded, kind: str
) -> None:
    fd = _reader(kernel, tmp, fds, kind)
    assert kernel.read(fd, guarded().edge, 200).errno == "EFAULT"
    if kind != "zero":
        assert _read_rest(kernel, fd) == DATA


@pytest.mark.os("linux")
@pytest.mark.requires("fault_handler")
def test_read_short_at_a_faulting_page_moves_the_offset_by_what_it_copied(
    kernel: Kernel, tmp: Path, fds, guarded
) -> None:
    fd = _reader(kernel, tmp, fds, "file")
    n = kernel.read(fd, guarded().edge - FITS, 200).unwrap()
    assert 0 < n <= FITS
    assert kernel.lseek(fd, 0, kernel.SEEK_CUR).unwrap() == n


@pytest.mark.os("linux")
@pytest.mark.requires("fault_handler")
@pytest.mark.parametrize("beyond", ["PROT_NONE", "unmapped"])
@pytest.mark.parametrize(("kind", "expected"), PARTIAL_WRITE)
def test_write_from_buffer_running_into_a_faulting_page(
    kernel: Kernel, tmp: Path, fds, guarded, beyond: str, kind: str, expected: str
) -> None:
    g = guarded(beyond)
    addr = g.ending_at_edge(DATA[:FITS])
    if kind == "file":
        fd = fds.file(tmp / "f")
        n = kernel.write(fd, addr, 200).unwrap()
        assert 0 < n <= FITS
        assert (tmp / "f").read_bytes() == DATA[:n]
    else:
        rfd, wfd = fds.pipe(kernel.O_NONBLOCK)
        assert kernel.write(wfd, addr, 200).errno == expected
        assert kernel.read(rfd, kernel.buf(1), 1).errno == "EAGAIN"  # nothing went in


# /dev/zero reads as zeros of any length, /dev/null as end of file; both take and drop
# whatever is written (drivers/char/mem.c).
@pytest.mark.os("linux")
@pytest.mark.parametrize("n", [1, 4096, 1 << 20], ids=["1", "4096", "1MiB"])
def test_read_dev_zero_fills_the_whole_count_with_zeros(kernel: Kernel, fds, n: int) -> None:
    fd = fds.open("/dev/zero", kernel.O_RDONLY)
    buf = kernel.buf(b"\xff" * n)
    assert kernel.read(fd, buf, n).unwrap() == n
    assert kernel.bytes(buf, n) == b"\0" * n


@pytest.mark.os("linux")
def test_read_dev_null_is_end_of_file(kernel: Kernel, fds) -> None:
    fd = fds.open("/dev/null", kernel.O_RDONLY)
    buf = kernel.buf(b"\xff" * 16)
    assert kernel.read(fd, buf, 16).unwrap() == 0
    assert kernel.bytes(buf, 16) == b"\xff" * 16


@pytest.mark.os("linux")
@pytest.mark.parametrize("device", ["/dev/null", "/dev/zero"])
def test_write_to_dev_null_or_zero_takes_everything(kernel: Kernel, fds, device: str) -> None:
    fd = fds.open(device, kernel.O_WRONLY)
    assert kernel.write(fd, b"x" * 8192, 8192).unwrap() == 8192


# O_DIRECT (open(2), NOTES): on a block-device file system, buffer address, length and
# file offset must be aligned to the logical block size, or the call is EINVAL (LTP
# read02). tmpfs (which `tmp` and, in some targets, `disk_tmp` are) copies through the
# page cache with no such rule, or refuses O_DIRECT before Linux 6.6.
BLOCK_FS = ("EXT4_SUPER_MAGIC", "XFS_SUPER_MAGIC", "BTRFS_SUPER_MAGIC")


def _direct(kernel: Kernel, disk_tmp: Path, fds, flags: int) -> int:
    """A 2-page file in disk_tmp opened with O_DIRECT; skips off block file systems."""
    st = kernel.new("struct statfs *")
    kernel.statfs(disk_tmp, st).unwrap()
    if st.f_type not in [getattr(kernel, name) for name in BLOCK_FS]:
        magic = [k for k, v in kernel.platform.constants.items() if v == st.f_type]
        pytest.skip(f"{disk_tmp} is on {magic[0] if magic else hex(st.f_type)}, not a block fs")
    return fds.file(disk_tmp / "f", b"d" * 8192, flags | kernel.O_DIRECT)


@pytest.mark.os("linux")
@pytest.mark.parametrize(
    ("skew", "count", "offset", "expected"),
    [(0, 4096, 0, "ok"), (1, 4096, 0, "EINVAL"), (0, 1, 0, "EINVAL"), (0, 4096, 1, "EINVAL")],
    ids=["aligned", "buffer", "count", "offset"],
)
def test_read_direct_alignment(
    kernel: Kernel, disk_tmp: Path, fds, guarded, skew: int, count: int, offset: int, expected: str
) -> None:
    fd = _direct(kernel, disk_tmp, fds, kernel.O_RDONLY)
    g = guarded(pages=2)
    r = kernel.pread64(fd, g.base + skew, count, offset)
    assert r.outcome == expected
    if r.ok:
        assert r.value == count
        assert g.read(g.base, count) == b"d" * count


@pytest.mark.os("linux")
def test_write_direct_from_unaligned_buffer_is_einval(
    kernel: Kernel, disk_tmp: Path, fds, guarded
) -> None:
    fd = _direct(kernel, disk_tmp, fds, kernel.O_RDWR)
    g = guarded(pages=2)
    assert kernel.pwrite64(fd, g.base + 1, 4096, 0).errno == "EINVAL"
    assert (disk_tmp / "f").read_bytes() == b"d" * 8192


# A descriptor whose file has no read or write method (an epoll instance: anon inode,
# opened O_RDWR) is refused with EINVAL, not EBADF (fs/read_write.c vfs_read/vfs_write:
# FMODE_CAN_READ/FMODE_CAN_WRITE); an O_PATH descriptor is no file for I/O at all: EBADF.
@pytest.mark.os("linux")
def test_read_and_write_on_a_file_without_io_methods_is_einval(kernel: Kernel, fds) -> None:
    ep = fds(kernel.epoll_create1(0))
    assert kernel.read(ep, kernel.buf(8), 8).errno == "EINVAL"
    assert kernel.write(ep, b"x" * 8, 8).errno == "EINVAL"


@pytest.mark.os("linux")
def test_read_and_write_on_an_o_path_fd_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "f").write_bytes(b"abc")
    fd = fds.open(tmp / "f", kernel.O_PATH)
    assert kernel.read(fd, kernel.buf(4), 4).errno == "EBADF"
    assert kernel.write(fd, b"x", 1).errno == "EBADF"


# A count above MAX_RW_COUNT (INT_MAX rounded down to a page) is cut to MAX_RW_COUNT
# before the file sees it (fs/read_write.c vfs_write). /dev/null's write takes the count
# without touching the buffer, so the cut shows in its answer with no 2 GiB in memory.
def _max_rw_count() -> int:
    return ((1 << 31) - 1) & ~(os.sysconf("SC_PAGE_SIZE") - 1)


@pytest.mark.os("linux")
def test_write_above_max_rw_count_is_cut_to_max_rw_count(kernel: Kernel, fds) -> None:
    if kernel.ffi.sizeof("long") != 8:
        pytest.skip("3 GiB past a buffer is beyond a 32-bit user space (EFAULT first)")
    fd = fds.open("/dev/null", kernel.O_WRONLY)
    buf = kernel.buf(16)
    assert kernel.write(fd, buf, 3 << 30).unwrap() == _max_rw_count()
    assert kernel.write(fd, buf, _max_rw_count() - 1).unwrap() == _max_rw_count() - 1


# Writing to (or truncating) a set-user-ID or set-group-ID executable takes the bits
# off, unless the writer holds CAP_FSETID (fs/inode.c file_remove_privs,
# setattr_should_drop_suidgid).
@pytest.mark.os("linux")
@pytest.mark.as_user("root keeps the bits (CAP_FSETID)")
@pytest.mark.parametrize("call", ["write", "ftruncate"])
def test_write_by_a_user_clears_setuid_and_setgid(
    kernel: Kernel, tmp: Path, fds, call: str
) -> None:
    fd = fds.file(tmp / "f", b"#!/bin/sh\n")
    os.chmod(tmp / "f", 0o6755)
    assert os.stat(tmp / "f").st_mode & 0o7777 == 0o6755
    r = kernel.write(fd, b"x", 1) if call == "write" else kernel.ftruncate(fd, 1)
    r.unwrap()
    assert os.stat(tmp / "f").st_mode & 0o7777 == 0o755


# -- the times a write and a read update -----------------------------------------------


def test_write_updates_mtime_and_ctime(kernel: Kernel, tmp: Path, fds, stamps) -> None:
    fd = fds.file(tmp / "f", b"", kernel.O_WRONLY)
    stamps.backdate(tmp / "f")
    _, _, ctime, _ = stamps.of(tmp / "f")
    assert kernel.write(fd, b"x", 1).unwrap() == 1
    atime, mtime, ctime_after, _ = stamps.of(tmp / "f")
    assert mtime > stamps.PAST * 10**9
    assert ctime_after > ctime
    assert atime == stamps.PAST * 10**9  # a write is no access


def test_read_of_a_file_last_read_long_ago_updates_atime(kernel: Kernel, tmp: Path, fds, stamps):
    """Under relatime (the default) and strictatime, a read updates an access time a day
    or more old; noatime mounts never do."""
    if os.statvfs(tmp).f_flag & os.ST_NOATIME:
        pytest.skip(f"{tmp} is mounted noatime: reads never update the access time")
    fd = fds.file(tmp / "f", b"data", kernel.O_RDONLY)
    stamps.backdate(tmp / "f")
    assert kernel.read(fd, kernel.buf(4), 4).unwrap() == 4
    atime, mtime, _, _ = stamps.of(tmp / "f")
    assert atime > stamps.PAST * 10**9
    assert mtime == stamps.PAST * 10**9  # a read changes no data
