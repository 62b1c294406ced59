"""inotify_init1/add_watch/rm_watch(2): directory events read as struct inotify_event
records, each followed by its NUL-padded name (Linux only)."""

import os
from pathlib import Path

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

Event = tuple[int, str]  # (mask, name)


def _events(kernel: Kernel, fd: int) -> list[tuple[int, int, int, str]]:
    """Every queued event as (wd, mask, cookie, name); [] when none is queued."""
    buf = kernel.buf(4096)
    r = kernel.read(fd, buf, 4096)
    if r.errno == "EAGAIN":
        return []
    n, off, out = r.unwrap(), 0, []
    header = kernel.ffi.sizeof("struct inotify_event")
    while off < n:
        ev = kernel.ffi.cast("struct inotify_event *", kernel.ffi.addressof(buf, off))
        name = kernel.bytes(ev.name, ev.len).rstrip(b"\0").decode()
        out.append((ev.wd, ev.mask, ev.cookie, name))
        off += header + ev.len
    return out


def _simple(kernel: Kernel, fd: int) -> list[Event]:
    return [(mask, name) for _, mask, _, name in _events(kernel, fd)]


@pytest.fixture
def ino(kernel: Kernel, fds) -> int:
    return fds(kernel.inotify_init1(kernel.IN_NONBLOCK | kernel.IN_CLOEXEC))


def test_inotify_create_reports_the_new_name(kernel: Kernel, ino: int, tmp: Path) -> None:
    wd = kernel.inotify_add_watch(ino, tmp, kernel.IN_CREATE).unwrap()
    (tmp / "new").write_bytes(b"")
    assert [(w, m, n) for w, m, _, n in _events(kernel, ino)] == [(wd, kernel.IN_CREATE, "new")]


def test_inotify_modify_reports_writes(kernel: Kernel, ino: int, tmp: Path, fds) -> None:
    (tmp / "f").write_bytes(b"")
    kernel.inotify_add_watch(ino, tmp, kernel.IN_MODIFY).unwrap()
    fd = fds(kernel.openat(kernel.AT_FDCWD, tmp / "f", kernel.O_WRONLY))
    kernel.write(fd, b"x", 1).unwrap()
    assert _simple(kernel, ino) == [(kernel.IN_MODIFY, "f")]


def test_inotify_delete_reports_the_removed_name(kernel: Kernel, ino: int, tmp: Path) -> None:
    (tmp / "gone").write_bytes(b"")
    kernel.inotify_add_watch(ino, tmp, kernel.IN_DELETE).unwrap()
    kernel.unlinkat(kernel.AT_FDCWD, tmp / "gone", 0).unwrap()
    assert _simple(kernel, ino) == [(kernel.IN_DELETE, "gone")]


def test_inotify_mkdir_sets_isdir(kernel: Kernel, ino: int, tmp: Path) -> None:
    kernel.inotify_add_watch(ino, tmp, kernel.IN_CREATE).unwrap()
    kernel.mkdirat(kernel.AT_FDCWD, tmp / "d", 0o700).unwrap()
    assert _simple(kernel, ino) == [(kernel.IN_CREATE | kernel.IN_ISDIR, "d")]


def test_inotify_rename_pairs_moves_by_cookie(kernel: Kernel, ino: int, tmp: Path) -> None:
    (tmp / "a").write_bytes(b"")
    kernel.inotify_add_watch(ino, tmp, kernel.IN_MOVE).unwrap()
    kernel.renameat(kernel.AT_FDCWD, tmp / "a", kernel.AT_FDCWD, tmp / "b").unwrap()
    [(_, m1, c1, n1), (_, m2, c2, n2)] = _events(kernel, ino)
    assert (m1, n1, m2, n2) == (kernel.IN_MOVED_FROM, "a", kernel.IN_MOVED_TO, "b")
    assert c1 == c2 != 0


def test_inotify_watch_on_file_reports_no_name(kernel: Kernel, ino: int, tmp: Path, fds) -> None:
    (tmp / "f").write_bytes(b"")
    kernel.inotify_add_watch(ino, tmp / "f", kernel.IN_MODIFY).unwrap()
    fd = fds(kernel.openat(kernel.AT_FDCWD, tmp / "f", kernel.O_WRONLY))
    kernel.write(fd, b"x", 1).unwrap()
    assert _simple(kernel, ino) == [(kernel.IN_MODIFY, "")]


def test_inotify_oneshot_reports_once_then_ignored(kernel: Kernel, ino: int, tmp: Path) -> None:
    kernel.inotify_add_watch(ino, tmp, kernel.IN_CREATE | kernel.IN_ONESHOT).unwrap()
    (tmp / "a").write_bytes(b"")
    (tmp / "b").write_bytes(b"")
    assert _simple(kernel, ino) == [(kernel.IN_CREATE, "a"), (kernel.IN_IGNORED, "")]


def test_inotify_rm_watch_queues_ignored(kernel: Kernel, ino: int, tmp: Path) -> None:
    wd = kernel.inotify_add_watch(ino, tmp, kernel.IN_CREATE).unwrap()
    kernel.inotify_rm_watch(ino, wd).unwrap()
    (tmp / "a").write_bytes(b"")
    assert [(w, m) for w, m, _, _ in _events(kernel, ino)] == [(wd, kernel.IN_IGNORED)]


def test_inotify_rm_watch_unknown_wd_is_einval(kernel: Kernel, ino: int) -> None:
    assert kernel.inotify_rm_watch(ino, 12345).errno == "EINVAL"


def test_inotify_same_path_twice_returns_the_same_wd(kernel: Kernel, ino: int, tmp: Path) -> None:
    wd = kernel.inotify_add_watch(ino, tmp, kernel.IN_CREATE).unwrap()
    assert kernel.inotify_add_watch(ino, tmp, kernel.IN_DELETE).unwrap() == wd


def test_inotify_mask_add_keeps_the_events_already_watched(
    kernel: Kernel, ino: int, tmp: Path
) -> None:
    wd = kernel.inotify_add_watch(ino, tmp, kernel.IN_CREATE).unwrap()
    mask = kernel.IN_DELETE | kernel.IN_MASK_ADD
    assert kernel.inotify_add_watch(ino, tmp, mask).unwrap() == wd
    (tmp / "a").write_bytes(b"")
    kernel.unlinkat(kernel.AT_FDCWD, tmp / "a", 0).unwrap()
    assert _simple(kernel, ino) == [(kernel.IN_CREATE, "a"), (kernel.IN_DELETE, "a")]


def test_inotify_no_events_nonblocking_read_is_eagain(kernel: Kernel, ino: int, tmp: Path) -> None:
    kernel.inotify_add_watch(ino, tmp, kernel.IN_CREATE).unwrap()
    assert kernel.read(ino, kernel.buf(4096), 4096).errno == "EAGAIN"


def test_inotify_read_buffer_smaller_than_event_is_einval(
    kernel: Kernel, ino: int, tmp: Path
) -> None:
    kernel.inotify_add_watch(ino, tmp, kernel.IN_CREATE).unwrap()
    (tmp / "a-longer-name").write_bytes(b"")
    assert kernel.read(ino, kernel.buf(16), 16).errno == "EINVAL"


def test_inotify_zero_mask_is_einval(kernel: Kernel, ino: int, tmp: Path) -> None:
    assert kernel.inotify_add_watch(ino, tmp, 0).errno == "EINVAL"


def test_inotify_missing_path_is_enoent(kernel: Kernel, ino: int, tmp: Path) -> None:
    assert kernel.inotify_add_watch(ino, tmp / "absent", kernel.IN_CREATE).errno == "ENOENT"


def test_inotify_onlydir_on_a_file_is_enotdir(kernel: Kernel, ino: int, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    r = kernel.inotify_add_watch(ino, tmp / "f", kernel.IN_MODIFY | kernel.IN_ONLYDIR)
    assert r.errno == "ENOTDIR"


def test_inotify_add_watch_on_non_inotify_fd_is_einval(kernel: Kernel, fds, tmp: Path) -> None:
    r, _ = fds.pipe()
    assert kernel.inotify_add_watch(r, tmp, kernel.IN_CREATE).errno == "EINVAL"


def test_inotify_init1_unknown_flag_is_einval(kernel: Kernel) -> None:
    assert kernel.inotify_init1(1).errno == "EINVAL"


# --- inotify_init(2), the legacy call: inotify_init1 without flags -----------------------


def test_inotify_init_descriptor_is_blocking_and_kept_across_exec(kernel: Kernel, fds) -> None:
    fd = fds(kernel.inotify_init())
    assert kernel.fcntl(fd, kernel.F_GETFL, 0).unwrap() & kernel.O_NONBLOCK == 0
    assert kernel.fcntl(fd, kernel.F_GETFD, 0).unwrap() & kernel.FD_CLOEXEC == 0


def test_inotify_init_descriptor_reports_events(kernel: Kernel, fds, tmp: Path) -> None:
    fd = fds(kernel.inotify_init())
    kernel.inotify_add_watch(fd, tmp, kernel.IN_CREATE).unwrap()
    (tmp / "new").write_bytes(b"")
    assert _simple(kernel, fd) == [(kernel.IN_CREATE, "new")]


def test_inotify_init_descriptor_made_nonblocking_reads_eagain(kernel: Kernel, fds) -> None:
    fd = fds(kernel.inotify_init())
    kernel.fcntl(fd, kernel.F_SETFL, kernel.O_NONBLOCK).unwrap()
    assert kernel.read(fd, kernel.buf(4096), 4096).errno == "EAGAIN"


def test_inotify_init_instances_are_independent(kernel: Kernel, fds, tmp: Path) -> None:
    first, second = fds(kernel.inotify_init()), fds(kernel.inotify_init())
    kernel.inotify_add_watch(first, tmp, kernel.IN_CREATE).unwrap()
    kernel.fcntl(second, kernel.F_SETFL, kernel.O_NONBLOCK).unwrap()
    (tmp / "new").write_bytes(b"")
    assert kernel.read(second, kernel.buf(4096), 4096).errno == "EAGAIN"
    assert _simple(kernel, first) == [(kernel.IN_CREATE, "new")]


@pytest.mark.min_kernel("4.18")
def test_inotify_mask_create_on_a_watched_inode_is_eexist(
    kernel: Kernel, ino: int, tmp: Path
) -> None:
    kernel.inotify_add_watch(ino, tmp, kernel.IN_CREATE).unwrap()
    r = kernel.inotify_add_watch(ino, tmp, kernel.IN_DELETE | kernel.IN_MASK_CREATE)
    assert r.errno == "EEXIST"


@pytest.mark.min_kernel("4.18")
def test_inotify_mask_create_on_a_new_inode_adds_the_watch(
    kernel: Kernel, ino: int, tmp: Path
) -> None:
    wd = kernel.inotify_add_watch(ino, tmp, kernel.IN_CREATE | kernel.IN_MASK_CREATE).unwrap()
    (tmp / "a").write_bytes(b"")
    assert [(w, m, n) for w, m, _, n in _events(kernel, ino)] == [(wd, kernel.IN_CREATE, "a")]


@pytest.mark.min_kernel("5.1")
def test_inotify_mask_create_with_mask_add_is_einval(kernel: Kernel, ino: int, tmp: Path) -> None:
    flags = kernel.IN_CREATE | kernel.IN_MASK_CREATE | kernel.IN_MASK_ADD
    assert kernel.inotify_add_watch(ino, tmp, flags).errno == "EINVAL"


def test_inotify_mask_without_mask_add_replaces_the_events(
    kernel: Kernel, ino: int, tmp: Path
) -> None:
    wd = kernel.inotify_add_watch(ino, tmp, kernel.IN_CREATE).unwrap()
    assert kernel.inotify_add_watch(ino, tmp, kernel.IN_DELETE).unwrap() == wd
    (tmp / "a").write_bytes(b"")
    (tmp / "a").unlink()
    assert _simple(kernel, ino) == [(kernel.IN_DELETE, "a")]


def test_inotify_rm_watch_on_non_inotify_fd_is_einval(kernel: Kernel, fds) -> None:
    r, _ = fds.pipe()
    assert kernel.inotify_rm_watch(r, 1).errno == "EINVAL"


def test_inotify_fionread_counts_the_queued_bytes(kernel: Kernel, ino: int, tmp: Path) -> None:
    kernel.inotify_add_watch(ino, tmp, kernel.IN_CREATE).unwrap()
    (tmp / "a").write_bytes(b"")
    (tmp / "bb").write_bytes(b"")
    queued = kernel.new("int *")
    kernel.ioctl(ino, kernel.FIONREAD, queued).unwrap()
    buf = kernel.buf(4096)
    assert queued[0] == kernel.read(ino, buf, 4096).unwrap()
    assert queued[0] > 2 * kernel.ffi.sizeof("struct inotify_event")


def test_inotify_name_length_is_padded_to_the_record_size(
    kernel: Kernel, ino: int, tmp: Path
) -> None:
    kernel.inotify_add_watch(ino, tmp, kernel.IN_CREATE).unwrap()
    (tmp / "abc").write_bytes(b"")
    buf = kernel.buf(4096)
    n = kernel.read(ino, buf, 4096).unwrap()
    header = kernel.ffi.sizeof("struct inotify_event")
    ev = kernel.ffi.cast("struct inotify_event *", buf)
    assert (n, ev.len) == (header + ev.len, header)


def test_inotify_add_watch_on_a_closed_fd_is_ebadf(kernel: Kernel, tmp: Path) -> None:
    fd = kernel.inotify_init1(0).unwrap()
    kernel.close(fd).unwrap()
    assert kernel.inotify_add_watch(fd, tmp, kernel.IN_CREATE).errno == "EBADF"


def test_inotify_onlydir_follows_a_symlink_to_a_directory(
    kernel: Kernel, ino: int, tmp: Path
) -> None:
    (tmp / "d").mkdir()
    (tmp / "link").symlink_to(tmp / "d")
    kernel.inotify_add_watch(ino, tmp / "link", kernel.IN_CREATE | kernel.IN_ONLYDIR).unwrap()
    flags = kernel.IN_CREATE | kernel.IN_ONLYDIR | kernel.IN_DONT_FOLLOW
    assert kernel.inotify_add_watch(ino, tmp / "link", flags).errno == "ENOTDIR"


def test_inotify_read_returns_only_the_events_that_fit(kernel: Kernel, ino: int, tmp: Path) -> None:
    kernel.inotify_add_watch(ino, tmp, kernel.IN_CREATE).unwrap()
    (tmp / "a").write_bytes(b"")
    (tmp / "b").write_bytes(b"")
    one = 2 * kernel.ffi.sizeof("struct inotify_event")  # a header and a 16-byte name
    buf = kernel.buf(one + 8)
    assert kernel.read(ino, buf, one + 8).unwrap() == one
    assert _simple(kernel, ino) == [(kernel.IN_CREATE, "b")]


def _all_events(kernel: Kernel, fd: int) -> list[tuple[int, int]]:
    """(wd, mask) of every queued event, read in as many calls as it takes."""
    out: list[tuple[int, int]] = []
    while batch := _batch(kernel, fd):
        out += batch
    return out


def _batch(kernel: Kernel, fd: int) -> list[tuple[int, int]]:
    buf = kernel.buf(1 << 16)
    r = kernel.read(fd, buf, 1 << 16)
    if r.errno == "EAGAIN":
        return []
    header = kernel.ffi.sizeof("struct inotify_event")
    events = kernel.ffi.cast("struct inotify_event *", buf)  # no names: a watched file
    return [(events[i].wd, events[i].mask) for i in range(r.unwrap() // header)]


def test_inotify_full_queue_ends_with_one_overflow_event_and_drops_the_rest(
    kernel: Kernel, ino: int, tmp: Path
) -> None:
    with open("/proc/sys/fs/inotify/max_queued_events") as f:
        limit = int(f.read())
    if limit > 1 << 17:
        pytest.skip(f"max_queued_events is {limit}: too many events to make in a test")
    watched = tmp / "f"
    watched.write_bytes(b"")
    wd = kernel.inotify_add_watch(ino, watched, kernel.IN_OPEN | kernel.IN_CLOSE_NOWRITE).unwrap()
    for _ in range(limit // 2 + 8):  # open, close, open, ...: no two alike in a row to merge
        os.close(os.open(watched, os.O_RDONLY))
    events = _all_events(kernel, ino)
    assert len(events) == limit + 1
    assert events[-1] == (-1, kernel.IN_Q_OVERFLOW)
    assert set(events[:-1]) == {(wd, kernel.IN_OPEN), (wd, kernel.IN_CLOSE_NOWRITE)}
    os.close(os.open(watched, os.O_RDONLY))  # an emptied queue takes events again
    assert _all_events(kernel, ino) == [(wd, kernel.IN_OPEN), (wd, kernel.IN_CLOSE_NOWRITE)]


@pytest.mark.as_user("root may watch any file (CAP_DAC_OVERRIDE)")
def test_inotify_add_watch_without_read_permission_is_eacces(
    kernel: Kernel, ino: int, tmp: Path
) -> None:
    """A watch needs read permission on what it watches (fs/notify/inotify/
    inotify_user.c inotify_find_inode)."""
    (tmp / "f").write_bytes(b"")
    (tmp / "f").chmod(0o200)
    assert kernel.inotify_add_watch(ino, tmp / "f", kernel.IN_MODIFY).errno == "EACCES"
