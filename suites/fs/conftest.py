"""Fixtures for the fs suite: a page that ends at a faulting one, and losing privilege.

`guarded(beyond)` maps an accessible page followed by one that faults: PROT_NONE, or
unmapped. Buffers and path strings placed to end at its `edge` show how far the kernel
copies before the fault. `drop_privileges()`, called inside a forked child, leaves the
child with no capabilities whoever runs the suite: root becomes nobody; a user stays.
`new_file_ids(directory)` is the (uid, gid) a file this process creates there takes.
`fs_setting(name, value)` sets /proc/sys/fs/<name> (protected_regular ...) for the
test, put back at teardown: for @pytest.mark.disposable tests only. `stamps` reads a
file's times and link count, and sets its times far back so that an update shows.
Setup and teardown calls are not recorded as the test's observations.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from syscalls.child import TIME_SCALE
from syscalls.expect import ByOS
from syscalls.kernel import Kernel

NOBODY = 65534

# A new file's group, in a directory without set-group-ID: the creator's effective gid
# on Linux (fs/inode.c, inode_init_owner); the directory's on the BSDs (NetBSD
# sys/fs/tmpfs/tmpfs_subr.c, tmpfs_newvnode: tn_gid = dnode->tn_gid, and
# sys/ufs/ufs/ufs_vnops.c, ufs_makeinode: i_gid = pdir->i_gid, as in FreeBSD's and
# OpenBSD's ufs_makeinode).
NEW_FILE_GROUP = ByOS(
    default="effective gid",
    freebsd="directory's gid",
    netbsd="directory's gid",
    openbsd="directory's gid",
)


class Guarded:
    """Pages at `base` (page-aligned), readable and writable up to `edge`, where one
    faulting page follows."""

    def __init__(self, kernel: Kernel, beyond: str, pages: int) -> None:
        self.kernel = kernel
        page = os.sysconf("SC_PAGE_SIZE")
        k = kernel
        with k.unobserved():
            flags = k.MAP_PRIVATE | k.MAP_ANONYMOUS
            rw = k.PROT_READ | k.PROT_WRITE
            self.base = k.mmap(0, (pages + 1) * page, rw, flags, -1, 0).unwrap()
            self.edge = self.base + pages * page
            if beyond == "unmapped":
                k.munmap(self.edge, page).unwrap()
                self.length = pages * page
            else:
                k.mprotect(self.edge, page, getattr(k, beyond)).unwrap()
                self.length = (pages + 1) * page

    def ending_at_edge(self, data: bytes) -> int:
        """Copy data into the accessible page so its last byte is the page's last: its address."""
        addr = self.edge - len(data)
        self.kernel.ffi.memmove(self.kernel.ffi.cast("char *", addr), data, len(data))
        return addr

    def read(self, addr: int, n: int) -> bytes:
        return bytes(self.kernel.ffi.buffer(self.kernel.ffi.cast("char *", addr), n))

    def release(self) -> None:
        with self.kernel.unobserved():
            self.kernel.munmap(self.base, self.length)


@pytest.fixture
def guarded(kernel: Kernel) -> Iterator[Callable[..., Guarded]]:
    """guarded(beyond="PROT_NONE"|"unmapped", pages=1): pages whose next page faults."""
    made: list[Guarded] = []

    def make(beyond: str = "PROT_NONE", pages: int = 1) -> Guarded:
        made.append(Guarded(kernel, beyond, pages))
        return made[-1]

    try:
        yield make
    finally:
        for g in made:
            g.release()


@pytest.fixture
def drop_privileges(kernel: Kernel) -> Callable[[], Any]:
    """drop_privileges(): in a forked child, become a user without capabilities.

    Root becomes nobody (uid and gid 65534, no supplementary groups); a user already has
    none and stays who it is, so the test means the same in a root and a user run."""

    def drop() -> None:
        if os.geteuid() != 0:
            return
        with kernel.unobserved():
            kernel.setgroups(0, None).unwrap()
            kernel.setresgid(NOBODY, NOBODY, NOBODY).unwrap()
            kernel.setresuid(NOBODY, NOBODY, NOBODY).unwrap()

    return drop


@pytest.fixture
def anothers_file() -> Callable[[], Path]:
    """anothers_file(): a file of another user than the caller's (called in the test's
    body: an as_user test's runs as nobody) on a file system that is not read-only,
    where EROFS would come before the permission check (the VM's root is the host's,
    read-only). Asked of one, a refused call changes nothing there."""

    def find() -> Path:
        for path in (Path("/"), Path("/tmp"), Path("/dev/null")):
            try:
                theirs = os.stat(path).st_uid != os.geteuid()
                writable = not os.statvfs(path).f_flag & os.ST_RDONLY
            except OSError:
                continue
            if theirs and writable:
                return path
        pytest.skip("no file of another user on a file system that is not read-only")

    return find


# Linux inode flags (include/uapi/linux/fs.h): FS_IOC_GETFLAGS/FS_IOC_SETFLAGS are
# _IOR/_IOW('f', 1/2, long) and take a pointer to an int.
INODE_FLAGS = {"immutable": 0x10, "append": 0x20}  # FS_IMMUTABLE_FL, FS_APPEND_FL


@pytest.fixture
def inode_flags(kernel: Kernel) -> Iterator[Callable[[Path, str], None]]:
    """inode_flags(path, "append" | "immutable"): set that Linux inode flag on path
    (FS_APPEND_FL, FS_IMMUTABLE_FL: root's, CAP_LINUX_IMMUTABLE); cleared at teardown,
    so that the test's directory can be removed. Skips where the file system keeps no
    such flags."""
    size = kernel.ffi.sizeof("long") << 16
    setflags = (1 << 30) | size | (ord("f") << 8) | 2  # _IOW('f', 2, long)
    flagged: list[Path] = []

    def set_flags(path: Path, name: str) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            with kernel.unobserved():
                r = kernel.ioctl(fd, setflags, kernel.new("int *", INODE_FLAGS[name]))
        finally:
            os.close(fd)
        if r.errno in ("ENOTTY", "EOPNOTSUPP", "EINVAL"):
            pytest.skip(f"the file system under {path.parent} keeps no {name} flag ({r.errno})")
        r.unwrap()
        flagged.append(path)

    try:
        yield set_flags
    finally:
        with kernel.unobserved():
            for path in flagged:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
                try:
                    kernel.ioctl(fd, setflags, kernel.new("int *", 0)).unwrap()
                finally:
                    os.close(fd)


@pytest.fixture
def new_file_ids(kernel: Kernel) -> Callable[[Path], tuple[int, int]]:
    """new_file_ids(directory): (uid, gid) of a file this process creates in directory."""

    def ids(directory: Path) -> tuple[int, int]:
        st = kernel.new("struct stat *")
        with kernel.unobserved():
            kernel.fstatat(kernel.AT_FDCWD, directory, st, 0).unwrap()
        groups = {"effective gid": os.getegid(), "directory's gid": st.st_gid}
        return os.geteuid(), groups[NEW_FILE_GROUP[kernel.platform.os]]

    return ids


@pytest.fixture
def fs_setting() -> Iterator[Callable[[str, int], None]]:
    """fs_setting(name, value): /proc/sys/fs/<name> holds value until teardown, when it
    gets back what it held. A machine-wide change: for disposable tests (a VM's)."""
    changed: list[tuple[Path, str]] = []

    def put(name: str, value: int) -> None:
        path = Path("/proc/sys/fs") / name
        if not path.exists():
            pytest.skip(f"{path} is not there: this kernel has no such setting")
        changed.append((path, path.read_text()))
        path.write_text(f"{value}\n")

    try:
        yield put
    finally:
        for path, before in reversed(changed):
            path.write_text(before)


class Stamps:
    """What a file's times and link count are, as fstatat reports them (Linux's struct
    stat), and a way to make any later update of them show."""

    PAST = 1_000_000_000  # seconds: 2001, far behind any clock a test runs under

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel

    def of(self, path: Path) -> tuple[int, int, int, int]:
        """(atime, mtime, ctime in ns, link count), the link itself for a symlink."""
        k = self.kernel
        st = k.new("struct stat *")
        with k.unobserved():
            k.fstatat(k.AT_FDCWD, path, st, k.AT_SYMLINK_NOFOLLOW).unwrap()
        return (
            st.st_atime * 10**9 + st.st_atime_nsec,
            st.st_mtime * 10**9 + st.st_mtime_nsec,
            st.st_ctime * 10**9 + st.st_ctime_nsec,
            st.st_nlink,
        )

    def backdate(self, *paths: Path) -> None:
        """atime and mtime to PAST (ctime becomes now: no call sets it), then one tick of
        the file systems' clock, so that a ctime set from now on is later than the one
        `of` reads now: a test reads the times, makes its call, and compares."""
        k = self.kernel
        times = k.new("struct timespec[2]", [[self.PAST, 0], [self.PAST, 0]])
        with k.unobserved():
            for path in paths:
                k.utimensat(k.AT_FDCWD, path, times, k.AT_SYMLINK_NOFOLLOW).unwrap()
        self._tick()

    def _tick(self) -> None:
        """Until the coarse clock, which inode times are taken from, has moved on."""
        k = self.kernel
        ts = k.new("struct timespec *")
        with k.unobserved():
            k.clock_gettime(k.CLOCK_REALTIME_COARSE, ts).unwrap()
            start = (ts.tv_sec, ts.tv_nsec)
            deadline = time.monotonic() + TIME_SCALE
            while time.monotonic() < deadline:
                k.clock_gettime(k.CLOCK_REALTIME_COARSE, ts).unwrap()
                if (ts.tv_sec, ts.tv_nsec) != start:
                    return
                time.sleep(0.0005)
        raise AssertionError("CLOCK_REALTIME_COARSE did not move in a second")


@pytest.fixture
def stamps(kernel: Kernel) -> Stamps:
    if kernel.platform.os != "linux":
        pytest.skip("reads Linux's struct stat times (st_*time_nsec)")
    return Stamps(kernel)
