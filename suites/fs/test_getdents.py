"""getdents(2), the legacy call: struct linux_dirent (fs/readdir.c), whose d_ino and d_off
are C longs, the name NUL-terminated after d_reclen, and the file type in the record's
last byte (d_reclen - 1). Inode numbers that do not fit d_ino are EOVERFLOW. The
generic syscall table (arm64, riscv64) has only getdents64: these tests skip there.
"""

from pathlib import Path

import pytest

from syscalls.fds import make_fifo
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")


def _records(kernel: Kernel, buf, n: int) -> list[tuple[str, int, int, int]]:
    """(name, d_type, d_ino, d_off) of each record in the first n bytes of buf."""
    ffi = kernel.ffi
    word = ffi.sizeof("long")
    base = ffi.cast("char *", buf)
    out, pos = [], 0
    while pos < n:
        head = ffi.cast("unsigned long *", base + pos)
        ino, off = int(head[0]), int(head[1])
        reclen = int(ffi.cast("unsigned short *", base + pos + 2 * word)[0])
        name = ffi.string(base + pos + 2 * word + 2).decode()
        dtype = int(ffi.cast("unsigned char *", base + pos + reclen - 1)[0])
        out.append((name, dtype, ino, off))
        pos += reclen
    return out


def _read_all(kernel: Kernel, fd: int, size: int = 4096) -> list[tuple[str, int, int, int]]:
    buf = kernel.buf(size)
    out = []
    while n := kernel.getdents(fd, buf, size).unwrap():
        out += _records(kernel, buf, n)
    return out


def _dir(kernel: Kernel, fds, path: Path) -> int:
    return fds.open(path, kernel.O_RDONLY | kernel.O_DIRECTORY)


def test_getdents_lists_every_entry_with_dot_and_dotdot(kernel: Kernel, tmp: Path, fds) -> None:
    for name in ("a", "b", "c"):
        (tmp / name).write_bytes(b"")
    names = [r[0] for r in _read_all(kernel, _dir(kernel, fds, tmp))]
    assert sorted(names) == [".", "..", "a", "b", "c"]


def test_getdents_d_type_is_in_the_last_byte_of_the_record(
    kernel: Kernel, tmp: Path, fds, observe
) -> None:
    (tmp / "reg").write_bytes(b"")
    (tmp / "dir").mkdir()
    (tmp / "lnk").symlink_to("reg")
    make_fifo(kernel, tmp / "fifo")
    types = {r[0]: r[1] for r in _read_all(kernel, _dir(kernel, fds, tmp))}
    observe("d_type", {n: types[n] for n in ("reg", "dir", "lnk", "fifo")})
    expected = {"reg": "DT_REG", "dir": "DT_DIR", "lnk": "DT_LNK", "fifo": "DT_FIFO"}
    for name, dtype in expected.items():
        assert types[name] in (getattr(kernel, dtype), kernel.DT_UNKNOWN), name


def test_getdents_d_ino_matches_stat(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "f").write_bytes(b"")
    inos = {r[0]: r[2] for r in _read_all(kernel, _dir(kernel, fds, tmp))}
    assert inos["f"] == (tmp / "f").stat().st_ino


def test_getdents_agrees_with_getdents64(kernel: Kernel, tmp: Path, fds) -> None:
    for i in range(20):
        (tmp / f"f{i}").write_bytes(b"")
    legacy = sorted((r[0], r[2]) for r in _read_all(kernel, _dir(kernel, fds, tmp)))
    buf = kernel.buf(8192)
    fd = _dir(kernel, fds, tmp)
    n, pos, modern = kernel.getdents64(fd, buf, 8192).unwrap(), 0, []
    while pos < n:
        d = kernel.ffi.cast("struct linux_dirent64 *", kernel.ffi.cast("char *", buf) + pos)
        modern.append((kernel.ffi.string(d.d_name).decode(), d.d_ino))
        pos += d.d_reclen
    assert legacy == sorted(modern)


def test_getdents_small_buffer_returns_every_entry_once(kernel: Kernel, tmp: Path, fds) -> None:
    created = {f"file-{i:03d}" for i in range(100)}
    for name in created:
        (tmp / name).write_bytes(b"")
    names = [r[0] for r in _read_all(kernel, _dir(kernel, fds, tmp), size=128)]
    assert len(names) == len(set(names)) == 102
    assert set(names) - {".", ".."} == created


def test_getdents_d_off_resumes_the_listing_after_its_entry(kernel: Kernel, tmp: Path, fds) -> None:
    for name in ("a", "b", "c", "d"):
        (tmp / name).write_bytes(b"")
    fd = _dir(kernel, fds, tmp)
    records = _read_all(kernel, fd)
    off = records[1][3]
    kernel.lseek(fd, off, kernel.SEEK_SET).unwrap()
    assert [r[0] for r in _read_all(kernel, fd)] == [r[0] for r in records[2:]]


def test_getdents_at_the_end_returns_zero(kernel: Kernel, tmp: Path, fds) -> None:
    fd = _dir(kernel, fds, tmp)
    _read_all(kernel, fd)
    assert kernel.getdents(fd, kernel.buf(4096), 4096).unwrap() == 0


def test_getdents_buffer_too_small_for_an_entry_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    assert kernel.getdents(_dir(kernel, fds, tmp), kernel.buf(8), 8).errno == "EINVAL"


def test_getdents_on_a_regular_file_is_enotdir(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"", kernel.O_RDONLY)
    assert kernel.getdents(fd, kernel.buf(4096), 4096).errno == "ENOTDIR"


def test_getdents_on_a_closed_descriptor_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = _dir(kernel, fds, tmp)
    fds.close(fd)
    assert kernel.getdents(fd, kernel.buf(4096), 4096).errno == "EBADF"


@pytest.mark.requires("fault_handler")
def test_getdents_into_an_unmapped_buffer_is_efault(kernel: Kernel, tmp: Path, fds) -> None:
    assert kernel.getdents(_dir(kernel, fds, tmp), 8, 4096).errno == "EFAULT"
