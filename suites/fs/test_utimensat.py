"""utimensat(2): explicit times keep their nanoseconds; UTIME_NOW and UTIME_OMIT.

Nanoseconds survive on file systems with nanosecond timestamps (ext4 with large inodes,
tmpfs, btrfs, xfs); the value stored is recorded.

A time past 2038 (beyond a 32-bit time_t) is read back through statx's 64-bit
timestamps: it reaches the kernel whole wherever the suite's timespec is 64-bit (on
i386 through utimensat_time64). A file system whose timestamps end in 2038 (ext4 with
128-byte inodes) clamps it to 2**31 - 1 (timestamp_truncate); never to a negative time.
"""

import time
from pathlib import Path

import pytest

from syscalls.expect import ByOS
from syscalls.kernel import Kernel

# NetBSD 7 does not range-check tv_nsec (sys/kern/vfs_syscalls.c, do_sys_utimensat).
NSEC_OUT_OF_RANGE = ByOS(default="EINVAL", netbsd="ok")


def _times(kernel: Kernel, *pairs: tuple[int, int]):
    ts = kernel.new("struct timespec[2]")
    for i, (sec, nsec) in enumerate(pairs):
        ts[i].tv_sec, ts[i].tv_nsec = sec, nsec
    return ts


def _stat(kernel: Kernel, path: Path, flags: int = 0):
    st = kernel.new("struct stat *")
    kernel.fstatat(kernel.AT_FDCWD, path, st, flags).unwrap()
    return st


def test_utimensat_sets_times_with_nanoseconds(kernel: Kernel, tmp: Path, observe) -> None:
    (tmp / "f").write_bytes(b"")
    ts = _times(kernel, (1_000_000_000, 123_456_789), (1_100_000_000, 987_654_321))
    kernel.utimensat(kernel.AT_FDCWD, tmp / "f", ts, 0).unwrap()
    st = _stat(kernel, tmp / "f")
    observe("mtime_nsec", st.st_mtime_nsec)
    assert (st.st_atime, st.st_atime_nsec) == (1_000_000_000, 123_456_789)
    assert (st.st_mtime, st.st_mtime_nsec) == (1_100_000_000, 987_654_321)


def test_utimensat_omit_leaves_that_time_alone(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    kernel.utimensat(kernel.AT_FDCWD, tmp / "f", _times(kernel, (5, 0), (6, 0)), 0).unwrap()
    ts = _times(kernel, (0, kernel.UTIME_OMIT), (7, 0))
    kernel.utimensat(kernel.AT_FDCWD, tmp / "f", ts, 0).unwrap()
    st = _stat(kernel, tmp / "f")
    assert (st.st_atime, st.st_mtime) == (5, 7)


def test_utimensat_now_sets_the_current_time(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    kernel.utimensat(kernel.AT_FDCWD, tmp / "f", _times(kernel, (5, 0), (6, 0)), 0).unwrap()
    ts = _times(kernel, (0, kernel.UTIME_NOW), (0, kernel.UTIME_OMIT))
    kernel.utimensat(kernel.AT_FDCWD, tmp / "f", ts, 0).unwrap()
    st = _stat(kernel, tmp / "f")
    assert abs(st.st_atime - time.time()) < 5
    assert st.st_mtime == 6


def test_utimensat_null_times_sets_both_to_now(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    kernel.utimensat(kernel.AT_FDCWD, tmp / "f", _times(kernel, (5, 0), (6, 0)), 0).unwrap()
    kernel.utimensat(kernel.AT_FDCWD, tmp / "f", None, 0).unwrap()
    st = _stat(kernel, tmp / "f")
    assert abs(st.st_atime - time.time()) < 5
    assert abs(st.st_mtime - time.time()) < 5


@pytest.mark.os("linux")
def test_utimensat_sets_a_time_past_2038(kernel: Kernel, tmp: Path, observe) -> None:
    (tmp / "f").write_bytes(b"")
    past_2038 = (1 << 31) + 100  # 2038-01-19 03:16:08 UTC
    ts = _times(kernel, (0, kernel.UTIME_OMIT), (past_2038, 5))
    kernel.utimensat(kernel.AT_FDCWD, tmp / "f", ts, 0).unwrap()
    stx = kernel.new("struct statx *")
    kernel.statx(kernel.AT_FDCWD, tmp / "f", 0, kernel.STATX_MTIME, stx).unwrap()
    observe("mtime", stx.stx_mtime.tv_sec)
    assert stx.stx_mtime.tv_sec in (past_2038, (1 << 31) - 1)


def test_utimensat_nanoseconds_out_of_range_is_einval(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    ts = _times(kernel, (1, 1_000_000_000), (1, 0))
    r = kernel.utimensat(kernel.AT_FDCWD, tmp / "f", ts, 0)
    assert r.outcome == NSEC_OUT_OF_RANGE[kernel.platform.os]


def test_utimensat_symlink_nofollow_sets_the_link_times(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    (tmp / "link").symlink_to("f")
    ts = _times(kernel, (100, 0), (200, 0))
    kernel.utimensat(kernel.AT_FDCWD, tmp / "link", ts, kernel.AT_SYMLINK_NOFOLLOW).unwrap()
    assert _stat(kernel, tmp / "link", kernel.AT_SYMLINK_NOFOLLOW).st_mtime == 200
    assert _stat(kernel, tmp / "f").st_mtime != 200


def test_utimensat_missing_file_is_enoent(kernel: Kernel, tmp: Path) -> None:
    assert kernel.utimensat(kernel.AT_FDCWD, tmp / "absent", None, 0).errno == "ENOENT"


# --- who may: a file of root's, written to by nobody (root only, in a child) ----------------
# Both times UTIME_NOW is a touch: write permission suffices. Any other pair, even
# UTIME_NOW with UTIME_OMIT, sets times, which only the owner (or CAP_FOWNER) may (fs/
# utimes.c vfs_utimes: ATTR_TIMES_SET; fs/attr.c setattr_prepare).
@pytest.mark.os("linux")
@pytest.mark.root
@pytest.mark.parametrize(
    ("atime", "mtime", "answer"),
    [("UTIME_NOW", "UTIME_NOW", "ok"), ("UTIME_NOW", "UTIME_OMIT", "EPERM"),
     ("UTIME_OMIT", "UTIME_NOW", "EPERM"), ("PAST", "PAST", "EPERM")],
)  # fmt: skip
def test_utimensat_on_a_writable_file_of_another_user(
    kernel: Kernel, tmp: Path, in_child, drop_privileges, atime: str, mtime: str, answer: str
) -> None:
    f = tmp / "f"
    f.write_bytes(b"")
    f.chmod(0o666)
    tmp.chmod(0o755)  # nobody may reach it
    past = 1_000_000_000

    def nsec(name: str) -> tuple[int, int]:
        return (past, 0) if name == "PAST" else (0, getattr(kernel, name))

    ts = _times(kernel, nsec(atime), nsec(mtime))
    before = _stat(kernel, f)

    def run() -> str:
        drop_privileges()
        return kernel.utimensat(kernel.AT_FDCWD, f, ts, 0).outcome

    assert in_child(run) == answer
    if answer != "ok":
        after = _stat(kernel, f)
        assert (after.st_atime, after.st_mtime) == (before.st_atime, before.st_mtime)
