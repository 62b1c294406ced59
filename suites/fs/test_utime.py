"""utime(2), utimes(2), futimesat(2): the older ways to set a file's access and
modification times (utimensat's tests are in test_utimensat.py).

utime takes whole seconds (struct utimbuf), utimes and futimesat microseconds (two
struct timeval); NULL means "now". Setting the current time needs ownership or write
permission (EACCES), setting given times ownership (EPERM) (fs/utimes.c). futimesat
with a NULL path sets the times of its descriptor. The generic syscall table (arm64,
riscv64) has none of the three: these tests skip there. NetBSD has utimes alone
(__utimes50); its tests run there too.
"""

import os
import time
from pathlib import Path

import pytest

from syscalls.expect import ByOS
from syscalls.kernel import Kernel

NOBODY = 65534
PAST = 1_000_000_000  # 2001-09-09

# NetBSD 7 takes tv_usec unchecked, as usec * 1000 nanoseconds, out of range or not
# (sys/kern/vfs_syscalls.c, do_sys_utimes: TIMEVAL_TO_TIMESPEC, then do_sys_utimensat).
USEC_OUT_OF_RANGE = ByOS(default="EINVAL", netbsd="ok")


def _times(kernel: Kernel, path: Path) -> tuple[int, int, int, int]:
    st = kernel.new("struct stat *")
    kernel.fstatat(kernel.AT_FDCWD, path, st, 0).unwrap()
    return st.st_atime, st.st_atime_nsec, st.st_mtime, st.st_mtime_nsec


def _timevals(kernel: Kernel, atime: tuple[int, int], mtime: tuple[int, int]):
    return kernel.new("struct timeval[2]", [atime, mtime])


@pytest.fixture
def f(tmp: Path) -> Path:
    (tmp / "f").write_bytes(b"")
    return tmp / "f"


@pytest.mark.os("linux")
def test_utime_sets_both_times_in_whole_seconds(kernel: Kernel, f: Path) -> None:
    kernel.utime(f, kernel.new("struct utimbuf *", (PAST, PAST + 60))).unwrap()
    assert _times(kernel, f) == (PAST, 0, PAST + 60, 0)


@pytest.mark.os("linux")
def test_utime_null_sets_both_times_to_now(kernel: Kernel, f: Path) -> None:
    kernel.utime(f, kernel.new("struct utimbuf *", (PAST, PAST))).unwrap()
    before = int(time.time()) - 1
    kernel.utime(f, None).unwrap()
    atime, _, mtime, _ = _times(kernel, f)
    assert atime >= before and mtime >= before


@pytest.mark.os("linux")
def test_utime_missing_file_is_enoent(kernel: Kernel, tmp: Path) -> None:
    assert kernel.utime(tmp / "absent", None).errno == "ENOENT"


@pytest.mark.os("linux")
def test_utime_follows_a_symlink(kernel: Kernel, f: Path) -> None:
    (f.parent / "link").symlink_to(f.name)
    kernel.utime(f.parent / "link", kernel.new("struct utimbuf *", (PAST, PAST))).unwrap()
    assert _times(kernel, f)[2] == PAST


def test_utimes_sets_microseconds(kernel: Kernel, f: Path) -> None:
    kernel.utimes(f, _timevals(kernel, (PAST, 250_000), (PAST + 1, 999_999))).unwrap()
    assert _times(kernel, f) == (PAST, 250_000_000, PAST + 1, 999_999_000)


def test_utimes_null_sets_now(kernel: Kernel, f: Path) -> None:
    kernel.utimes(f, _timevals(kernel, (PAST, 0), (PAST, 0))).unwrap()
    kernel.utimes(f, None).unwrap()
    assert _times(kernel, f)[2] >= int(time.time()) - 1


@pytest.mark.parametrize("usec", [1_000_000, -1])
def test_utimes_microseconds_out_of_range_is_einval(kernel: Kernel, f: Path, usec: int) -> None:
    before = _times(kernel, f)
    r = kernel.utimes(f, _timevals(kernel, (PAST, 0), (PAST, usec)))
    assert r.outcome == USEC_OUT_OF_RANGE[kernel.platform.os]
    assert _times(kernel, f) == (before if not r.ok else (PAST, 0, PAST, usec * 1000))


def test_utimes_missing_file_is_enoent(kernel: Kernel, tmp: Path) -> None:
    assert kernel.utimes(tmp / "absent", None).errno == "ENOENT"


def test_utimes_pre_epoch_time_is_kept(kernel: Kernel, f: Path) -> None:
    kernel.utimes(f, _timevals(kernel, (-86400, 0), (-86400, 0))).unwrap()
    st = kernel.new("struct stat *")
    kernel.fstatat(kernel.AT_FDCWD, f, st, 0).unwrap()
    # the table's st_mtime is unsigned on Linux: read it as the signed time it holds
    assert int(kernel.ffi.cast("long", st.st_mtime)) == -86400


@pytest.mark.os("linux")
def test_futimesat_resolves_the_path_against_the_directory_fd(
    kernel: Kernel, tmp: Path, f: Path, fds
) -> None:
    dfd = fds.open(tmp, kernel.O_RDONLY | kernel.O_DIRECTORY)
    kernel.futimesat(dfd, b"f", _timevals(kernel, (PAST, 5), (PAST, 7))).unwrap()
    assert _times(kernel, f) == (PAST, 5000, PAST, 7000)


@pytest.mark.os("linux")
def test_futimesat_null_path_sets_the_times_of_the_fd(kernel: Kernel, f: Path, fds) -> None:
    fd = fds.open(f, kernel.O_RDWR)
    kernel.futimesat(fd, None, _timevals(kernel, (PAST, 0), (PAST + 2, 0))).unwrap()
    assert _times(kernel, f)[2] == PAST + 2


@pytest.mark.os("linux")
def test_futimesat_absolute_path_ignores_the_fd(kernel: Kernel, f: Path, fds) -> None:
    kernel.futimesat(-1, f, _timevals(kernel, (PAST, 0), (PAST + 3, 0))).unwrap()
    assert _times(kernel, f)[2] == PAST + 3


@pytest.mark.os("linux")
def test_futimesat_relative_path_against_a_file_fd_is_enotdir(kernel: Kernel, f: Path, fds) -> None:
    fd = fds.open(f, kernel.O_RDONLY)
    assert kernel.futimesat(fd, b"x", None).errno == "ENOTDIR"


@pytest.mark.os("linux")
def test_futimesat_relative_path_with_a_bad_fd_is_ebadf(kernel: Kernel) -> None:
    assert kernel.futimesat(-1, b"x", None).errno == "EBADF"


# --- permissions: a file owned by root, used as nobody (root only, in a child) -------------


def _as_nobody(kernel: Kernel, f: Path, mode: int, call) -> str:
    os.chown(f, 0, 0)
    f.chmod(mode)
    f.parent.chmod(0o755)  # nobody may reach it

    def run() -> str:
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)
        return call().outcome

    return run


@pytest.mark.os("linux")
@pytest.mark.root
def test_utime_now_on_a_writable_file_of_another_user_succeeds(
    kernel: Kernel, f: Path, in_child
) -> None:
    assert in_child(_as_nobody(kernel, f, 0o666, lambda: kernel.utime(f, None))) == "ok"


@pytest.mark.os("linux")
@pytest.mark.root
def test_utime_now_without_write_permission_is_eacces(kernel: Kernel, f: Path, in_child) -> None:
    assert in_child(_as_nobody(kernel, f, 0o644, lambda: kernel.utime(f, None))) == "EACCES"


@pytest.mark.os("linux")
@pytest.mark.root
def test_utimes_given_times_on_a_file_of_another_user_is_eperm(
    kernel: Kernel, f: Path, in_child
) -> None:
    tv = _timevals(kernel, (PAST, 0), (PAST, 0))
    before = _times(kernel, f)
    assert in_child(_as_nobody(kernel, f, 0o666, lambda: kernel.utimes(f, tv))) == "EPERM"
    assert _times(kernel, f) == before
