"""getdents64(2) (Linux): every entry once, with . and .., inode numbers and d_type.

A file system may answer DT_UNKNOWN for d_type (getdents(2)); that is accepted and
recorded, any other mismatch fails. Record layout: struct linux_dirent64 (common.h).
"""

from pathlib import Path

import pytest

from syscalls.fds import make_fifo
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")


def _read_all(kernel: Kernel, fd: int, size: int = 4096) -> list[tuple[str, int, int]]:
    """(name, d_type, d_ino) of every entry, reading until getdents64 returns 0."""
    ffi = kernel.ffi
    buf = kernel.buf(size)
    out = []
    while n := kernel.getdents64(fd, buf, size).unwrap():
        pos = 0
        while pos < n:
            d = ffi.cast("struct linux_dirent64 *", ffi.cast("char *", buf) + pos)
            out.append((ffi.string(d.d_name).decode(), d.d_type, d.d_ino))
            pos += d.d_reclen
    return out


def test_getdents64_lists_every_entry_with_dot_and_dotdot(kernel: Kernel, tmp: Path, fds) -> None:
    for name in ("a", "b", "c"):
        (tmp / name).write_bytes(b"")
    names = [e[0] for e in _read_all(kernel, fds.open(tmp, kernel.O_RDONLY | kernel.O_DIRECTORY))]
    assert sorted(names) == [".", "..", "a", "b", "c"]


def test_getdents64_d_type_matches_the_file_type(kernel: Kernel, tmp: Path, fds, observe) -> None:
    (tmp / "reg").write_bytes(b"")
    (tmp / "dir").mkdir()
    (tmp / "lnk").symlink_to("reg")
    make_fifo(kernel, tmp / "fifo")
    types = {n: t for n, t, _ in _read_all(kernel, fds.open(tmp, kernel.O_RDONLY))}
    observe("d_type", {n: types[n] for n in ("reg", "dir", "lnk", "fifo")})
    expected = {"reg": kernel.DT_REG, "dir": kernel.DT_DIR, "lnk": kernel.DT_LNK}
    expected["fifo"] = kernel.DT_FIFO
    for name, dtype in expected.items():
        assert types[name] in (dtype, kernel.DT_UNKNOWN), name


def test_getdents64_on_tmpfs_answers_each_type_never_dt_unknown(
    kernel: Kernel, tmp: Path, fds
) -> None:
    # tmpfs takes d_type from the inode (fs/libfs.c, dcache_readdir): no DT_UNKNOWN there.
    st = kernel.new("struct statfs *")
    kernel.statfs(tmp, st).unwrap()
    if st.f_type != kernel.TMPFS_MAGIC:
        pytest.skip(f"tmp is not on tmpfs (f_type {st.f_type:#x}), where DT_UNKNOWN is allowed")
    (tmp / "reg").write_bytes(b"")
    (tmp / "dir").mkdir()
    (tmp / "lnk").symlink_to("reg")
    make_fifo(kernel, tmp / "fifo")
    types = {n: t for n, t, _ in _read_all(kernel, fds.open(tmp, kernel.O_RDONLY))}
    assert {n: types[n] for n in (".", "reg", "dir", "lnk", "fifo")} == {
        ".": kernel.DT_DIR,
        "reg": kernel.DT_REG,
        "dir": kernel.DT_DIR,
        "lnk": kernel.DT_LNK,
        "fifo": kernel.DT_FIFO,
    }


def test_getdents64_d_ino_matches_stat(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "f").write_bytes(b"")
    inos = {n: i for n, _, i in _read_all(kernel, fds.open(tmp, kernel.O_RDONLY))}
    assert inos["f"] == (tmp / "f").stat().st_ino


def test_getdents64_small_buffer_returns_every_entry_once(kernel: Kernel, tmp: Path, fds) -> None:
    created = {f"file-{i:03d}" for i in range(300)}
    for name in created:
        (tmp / name).write_bytes(b"")
    names = [e[0] for e in _read_all(kernel, fds.open(tmp, kernel.O_RDONLY), size=256)]
    assert len(names) == len(set(names)) == 302
    assert set(names) - {".", ".."} == created


def test_getdents64_buffer_too_small_for_an_entry_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.open(tmp, kernel.O_RDONLY)
    assert kernel.getdents64(fd, kernel.buf(8), 8).errno == "EINVAL"


def test_getdents64_on_regular_file_is_enotdir(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"", kernel.O_RDONLY)
    assert kernel.getdents64(fd, kernel.buf(4096), 4096).errno == "ENOTDIR"


def _records(kernel: Kernel, fd: int, size: int = 4096) -> list[tuple[str, int, int]]:
    """(name, d_reclen, d_off) of the records one getdents64 call returns."""
    ffi = kernel.ffi
    buf = kernel.buf(size)
    n = kernel.getdents64(fd, buf, size).unwrap()
    out, pos = [], 0
    while pos < n:
        d = ffi.cast("struct linux_dirent64 *", ffi.cast("char *", buf) + pos)
        out.append((ffi.string(d.d_name).decode(), d.d_reclen, d.d_off))
        pos += d.d_reclen
    assert pos == n  # the records fill exactly the count returned
    return out


# A record is its 19-byte header, the name and its NUL, rounded up to 8 bytes
# (fs/readdir.c filldir64).
def test_getdents64_record_length_is_header_name_and_nul_rounded_to_8(
    kernel: Kernel, tmp: Path, fds
) -> None:
    for name in ("a", "abcd", "abcde", "x" * 12, "y" * 13):
        (tmp / name).write_bytes(b"")
    records = _records(kernel, fds.open(tmp, kernel.O_RDONLY | kernel.O_DIRECTORY))
    assert len(records) == 7
    for name, reclen, _ in records:
        assert reclen == (19 + len(name) + 1 + 7) // 8 * 8, name


# A buffer that holds exactly the first record returns it alone; one byte less holds
# nothing: EINVAL (fs/readdir.c filldir64: reclen > count).
def test_getdents64_buffer_of_exactly_one_record_returns_it(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.open(tmp, kernel.O_RDONLY | kernel.O_DIRECTORY)
    first = _records(kernel, fd)[0]
    kernel.lseek(fd, 0, kernel.SEEK_SET).unwrap()
    assert kernel.getdents64(fd, kernel.buf(first[1] - 1), first[1] - 1).errno == "EINVAL"
    assert _records(kernel, fd, first[1]) == [first]


def test_getdents64_d_off_resumes_the_listing_after_its_entry(
    kernel: Kernel, tmp: Path, fds
) -> None:
    for name in ("a", "b", "c", "d"):
        (tmp / name).write_bytes(b"")
    fd = fds.open(tmp, kernel.O_RDONLY | kernel.O_DIRECTORY)
    records = _records(kernel, fd)
    assert [r[0] for r in _records(kernel, fd)] == []  # at the end: 0 bytes
    kernel.lseek(fd, records[2][2], kernel.SEEK_SET).unwrap()
    assert [r[0] for r in _records(kernel, fd)] == [r[0] for r in records[3:]]
    kernel.lseek(fd, 0, kernel.SEEK_SET).unwrap()
    assert _records(kernel, fd) == records


# A directory removed while open lists nothing more: ENOENT (fs/readdir.c iterate_dir:
# IS_DEADDIR).
def test_getdents64_on_a_removed_directory_is_enoent(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "d").mkdir()
    fd = fds.open(tmp / "d", kernel.O_RDONLY | kernel.O_DIRECTORY)
    (tmp / "d").rmdir()
    assert kernel.getdents64(fd, kernel.buf(4096), 4096).errno == "ENOENT"


def test_getdents64_on_an_o_path_fd_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.open(tmp, kernel.O_PATH | kernel.O_DIRECTORY)
    assert kernel.getdents64(fd, kernel.buf(4096), 4096).errno == "EBADF"
