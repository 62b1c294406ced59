"""fanotify_init(2) and fanotify_mark(2): file-system events read as struct
fanotify_event_metadata records (fs/notify/fanotify/fanotify_user.c).

Since Linux 5.13 a user may make a FAN_CLASS_NOTIF group that reports file identifiers
(FAN_REPORT_FID) and mark inodes; without a FID mode, with a permission class, an
unlimited queue, or a mount or file-system mark it is EPERM (CAP_SYS_ADMIN). Before
5.13 every fanotify_init of a user is EPERM. A FID group needs a file system with a
non-zero fsid (fuse, for one, has none: ENODEV). Events of a group without FID carry
an open descriptor of the file and the pid of the process that caused them. Root tests
watch a tmpfs of their own, mounted in a private mount namespace in a child. Permission
events are never marked here: asking for them taints the kernel.
"""

import os
from pathlib import Path

import pytest

from syscalls import namespaces
from syscalls.kernel import Kernel

pytestmark = [pytest.mark.os("linux"), pytest.mark.min_kernel("5.13")]

AS_USER = pytest.mark.as_user("root may use every fanotify feature (CAP_SYS_ADMIN)")
METADATA_VERSION = 3  # FANOTIFY_METADATA_VERSION


def _flags(kernel: Kernel, *names: str) -> int:
    value = kernel.FAN_CLOEXEC | kernel.FAN_NONBLOCK
    for name in names:
        value |= getattr(kernel, name)
    return value


def _init(kernel: Kernel, *names: str):
    return kernel.fanotify_init(_flags(kernel, *names), kernel.O_RDONLY)


def _events(kernel: Kernel, fd: int) -> list[tuple]:
    """(mask, fd, pid, info records) of every queued event; info records are
    (info_type, handle_type, handle bytes) for FID records."""
    ffi = kernel.ffi
    buf = kernel.buf(4096)
    r = kernel.read(fd, buf, 4096)
    if r.errno == "EAGAIN":
        return []
    n, pos, out = r.unwrap(), 0, []
    base = ffi.cast("char *", buf)
    while pos < n:
        meta = ffi.cast("struct fanotify_event_metadata *", base + pos)
        assert meta.vers == METADATA_VERSION
        infos, ipos = [], pos + meta.metadata_len
        while ipos < pos + meta.event_len:
            hdr = ffi.cast("struct fanotify_event_info_header *", base + ipos)
            if hdr.info_type == kernel.FAN_EVENT_INFO_TYPE_FID:
                fid = ffi.cast("struct fanotify_event_info_fid *", base + ipos)
                fh = ffi.cast("struct file_handle *", fid.handle)
                infos.append(
                    (hdr.info_type, fh.handle_type, kernel.bytes(fh.f_handle, fh.handle_bytes))
                )
            else:
                infos.append((hdr.info_type,))
            ipos += hdr.len
        out.append((meta.mask, meta.fd, meta.pid, infos))
        pos += meta.event_len
    return out


def _handle(kernel: Kernel, path: Path) -> tuple[int, int, bytes]:
    raw = kernel.buf(kernel.ffi.sizeof("struct file_handle") + kernel.MAX_HANDLE_SZ)
    fh = kernel.ffi.cast("struct file_handle *", raw)
    fh.handle_bytes = kernel.MAX_HANDLE_SZ
    kernel.name_to_handle_at(kernel.AT_FDCWD, path, fh, kernel.new("int *"), 0).unwrap()
    return (
        kernel.FAN_EVENT_INFO_TYPE_FID,
        fh.handle_type,
        kernel.bytes(fh.f_handle, fh.handle_bytes),
    )


def _has_fsid(kernel: Kernel, path: Path) -> bool:
    st = kernel.new("struct statfs *")
    kernel.statfs(path, st).unwrap()
    return (st.f_fsid[0], st.f_fsid[1]) != (0, 0)


@pytest.fixture
def watched(kernel: Kernel, disk_tmp: Path) -> Path:
    """A file on a file system a FID group can watch."""
    if not _has_fsid(kernel, disk_tmp):
        pytest.skip(f"the file system under {disk_tmp} has no fsid: FID groups cannot watch it")
    (disk_tmp / "f").write_bytes(b"")
    return disk_tmp / "f"


@pytest.fixture
def fid_group(kernel: Kernel, fds) -> int:
    return fds(_init(kernel, "FAN_CLASS_NOTIF", "FAN_REPORT_FID"))


def _mark(kernel: Kernel, group: int, path, mask: int, flags: int = 0):
    return kernel.fanotify_mark(group, kernel.FAN_MARK_ADD | flags, mask, kernel.AT_FDCWD, path)


# --- fanotify_init -------------------------------------------------------------------------


@AS_USER
def test_fanotify_init_without_fid_as_a_user_is_eperm(kernel: Kernel) -> None:
    assert _init(kernel, "FAN_CLASS_NOTIF").errno == "EPERM"


def test_fanotify_init_notification_group_with_fid_is_allowed_to_anyone(
    kernel: Kernel, fds
) -> None:
    fds(_init(kernel, "FAN_CLASS_NOTIF", "FAN_REPORT_FID"))


@AS_USER
@pytest.mark.parametrize("flag", ["FAN_CLASS_CONTENT", "FAN_UNLIMITED_QUEUE", "FAN_REPORT_TID"])
def test_fanotify_init_privileged_flag_as_a_user_is_eperm(kernel: Kernel, flag: str) -> None:
    assert _init(kernel, flag, "FAN_REPORT_FID").errno == "EPERM"


def test_fanotify_init_unknown_flag_is_einval(kernel: Kernel) -> None:
    assert kernel.fanotify_init(kernel.FAN_REPORT_FID | 1 << 20, 0).errno == "EINVAL"


def test_fanotify_init_report_name_without_dir_fid_is_einval(kernel: Kernel) -> None:
    assert _init(kernel, "FAN_REPORT_FID", "FAN_REPORT_NAME").errno == "EINVAL"


def test_fanotify_init_bad_event_access_mode_is_einval(kernel: Kernel) -> None:
    assert kernel.fanotify_init(kernel.FAN_REPORT_FID, kernel.O_ACCMODE).errno == "EINVAL"


@pytest.mark.root
def test_fanotify_init_fid_with_a_content_class_is_einval(kernel: Kernel) -> None:
    assert _init(kernel, "FAN_CLASS_CONTENT", "FAN_REPORT_FID").errno == "EINVAL"


@pytest.mark.root
def test_fanotify_init_pidfd_with_tid_is_einval(kernel: Kernel) -> None:
    assert _init(kernel, "FAN_REPORT_PIDFD", "FAN_REPORT_TID").errno == "EINVAL"


def test_fanotify_init_flags_show_in_the_descriptor(kernel: Kernel, fid_group: int) -> None:
    assert kernel.fcntl(fid_group, kernel.F_GETFL, 0).unwrap() & kernel.O_NONBLOCK
    assert kernel.fcntl(fid_group, kernel.F_GETFD, 0).unwrap() & kernel.FD_CLOEXEC


def test_fanotify_read_without_events_is_eagain(kernel: Kernel, fid_group: int) -> None:
    assert kernel.read(fid_group, kernel.buf(4096), 4096).errno == "EAGAIN"


# --- fanotify_mark -------------------------------------------------------------------------


def test_fanotify_mark_needs_an_fsid_for_a_fid_group(
    kernel: Kernel, fid_group: int, disk_tmp: Path, observe
) -> None:
    r = _mark(kernel, fid_group, disk_tmp, kernel.FAN_OPEN)
    observe("has_fsid", _has_fsid(kernel, disk_tmp))
    assert r.outcome == ("ok" if _has_fsid(kernel, disk_tmp) else "ENODEV")


def test_fanotify_mark_on_a_descriptor_that_is_no_group_is_einval(
    kernel: Kernel, fds, tmp: Path
) -> None:
    rfd, _ = fds.pipe()
    assert _mark(kernel, rfd, tmp, kernel.FAN_OPEN).errno == "EINVAL"


def test_fanotify_mark_on_a_closed_descriptor_is_ebadf(kernel: Kernel, fds, tmp: Path) -> None:
    rfd, _ = fds.pipe()
    fds.close(rfd)
    assert _mark(kernel, rfd, tmp, kernel.FAN_OPEN).errno == "EBADF"


def test_fanotify_mark_add_with_an_empty_mask_is_einval(
    kernel: Kernel, fid_group: int, tmp: Path
) -> None:
    assert _mark(kernel, fid_group, tmp, 0).errno == "EINVAL"


def test_fanotify_mark_add_and_remove_together_is_einval(
    kernel: Kernel, fid_group: int, tmp: Path
) -> None:
    flags = kernel.FAN_MARK_ADD | kernel.FAN_MARK_REMOVE
    assert (
        kernel.fanotify_mark(fid_group, flags, kernel.FAN_OPEN, kernel.AT_FDCWD, tmp).errno
        == "EINVAL"
    )


def test_fanotify_mark_mask_above_32_bits_is_einval(
    kernel: Kernel, fid_group: int, tmp: Path
) -> None:
    assert _mark(kernel, fid_group, tmp, 1 << 32 | kernel.FAN_OPEN).errno == "EINVAL"


def test_fanotify_mark_fs_error_on_an_inode_mark_is_einval(
    kernel: Kernel, fid_group: int, tmp: Path
) -> None:
    assert _mark(kernel, fid_group, tmp, kernel.FAN_FS_ERROR).errno == "EINVAL"


def test_fanotify_mark_missing_path_is_enoent(kernel: Kernel, fid_group: int, tmp: Path) -> None:
    assert _mark(kernel, fid_group, tmp / "absent", kernel.FAN_OPEN).errno == "ENOENT"


def test_fanotify_mark_onlydir_on_a_file_is_enotdir(
    kernel: Kernel, fid_group: int, tmp: Path
) -> None:
    (tmp / "f").write_bytes(b"")
    r = _mark(kernel, fid_group, tmp / "f", kernel.FAN_OPEN, kernel.FAN_MARK_ONLYDIR)
    assert r.errno == "ENOTDIR"


def test_fanotify_mark_remove_of_a_mark_never_added_is_enoent(
    kernel: Kernel, fid_group: int, watched: Path
) -> None:
    flags = kernel.FAN_MARK_REMOVE
    r = kernel.fanotify_mark(fid_group, flags, kernel.FAN_OPEN, kernel.AT_FDCWD, watched)
    assert r.errno == "ENOENT"


@AS_USER
def test_fanotify_mark_mount_by_a_user_is_eperm(
    kernel: Kernel, fid_group: int, watched: Path
) -> None:
    r = _mark(kernel, fid_group, watched, kernel.FAN_OPEN, kernel.FAN_MARK_MOUNT)
    assert r.errno == "EPERM"


# --- events of a FID group (anyone) ----------------------------------------------------------


def test_fanotify_open_of_a_watched_file_reports_its_file_handle(
    kernel: Kernel, fid_group: int, watched: Path, fds
) -> None:
    _mark(kernel, fid_group, watched, kernel.FAN_OPEN).unwrap()
    fds.open(watched, kernel.O_RDONLY)
    events = _events(kernel, fid_group)
    assert len(events) == 1
    mask, fd, _, infos = events[0]
    assert (mask, fd) == (kernel.FAN_OPEN, kernel.FAN_NOFD)
    assert infos == [_handle(kernel, watched)]


def test_fanotify_write_and_close_report_modify_and_close_write(
    kernel: Kernel, fid_group: int, watched: Path, fds
) -> None:
    _mark(kernel, fid_group, watched, kernel.FAN_MODIFY | kernel.FAN_CLOSE_WRITE).unwrap()
    fd = fds.open(watched, kernel.O_WRONLY)
    kernel.write(fd, b"x", 1).unwrap()
    fds.close(fd)
    masks = [e[0] for e in _events(kernel, fid_group)]  # unread events of a file may merge
    union = 0
    for mask in masks:
        union |= mask
    assert union == kernel.FAN_MODIFY | kernel.FAN_CLOSE_WRITE


def test_fanotify_reports_nothing_after_the_mark_is_removed(
    kernel: Kernel, fid_group: int, watched: Path, fds
) -> None:
    _mark(kernel, fid_group, watched, kernel.FAN_OPEN).unwrap()
    r = kernel.fanotify_mark(
        fid_group, kernel.FAN_MARK_REMOVE, kernel.FAN_OPEN, kernel.AT_FDCWD, watched
    )
    r.unwrap()
    fds.open(watched, kernel.O_RDONLY)
    assert _events(kernel, fid_group) == []


def test_fanotify_does_not_report_unwatched_event_types(
    kernel: Kernel, fid_group: int, watched: Path, fds
) -> None:
    _mark(kernel, fid_group, watched, kernel.FAN_CLOSE_WRITE).unwrap()
    fds.close(fds.open(watched, kernel.O_RDONLY))  # an open and a CLOSE_NOWRITE
    assert _events(kernel, fid_group) == []


# --- events of a privileged group: an open descriptor and the pid (root, own tmpfs) ----------


def _private_tmpfs(kernel: Kernel, where: Path) -> None:
    namespaces.private_mounts(kernel)
    kernel.mount(b"syscalls", where, b"tmpfs", 0, b"size=1m").unwrap()


@pytest.mark.root
def test_fanotify_mount_mark_reports_an_open_with_a_descriptor_and_the_pid(
    kernel: Kernel, tmp: Path, in_child
) -> None:
    def run() -> tuple[int, bool, bool]:
        _private_tmpfs(kernel, tmp)
        (tmp / "f").write_bytes(b"seen")
        group = _init(kernel, "FAN_CLASS_NOTIF").unwrap()
        _mark(kernel, group, tmp, kernel.FAN_OPEN, kernel.FAN_MARK_MOUNT).unwrap()
        os.close(os.open(tmp / "f", os.O_RDONLY))
        events = _events(kernel, group)
        assert len(events) == 1, events
        mask, fd, pid, _ = events[0]
        same = os.fstat(fd).st_ino == os.stat(tmp / "f").st_ino
        os.close(fd)
        return mask, same, pid == os.getpid()

    assert in_child(run) == (kernel.FAN_OPEN, True, True)


@pytest.mark.root
def test_fanotify_event_descriptor_reads_the_file(kernel: Kernel, tmp: Path, in_child) -> None:
    def run() -> bytes:
        _private_tmpfs(kernel, tmp)
        (tmp / "f").write_bytes(b"content")
        group = _init(kernel, "FAN_CLASS_NOTIF").unwrap()
        _mark(kernel, group, tmp / "f", kernel.FAN_CLOSE_NOWRITE).unwrap()
        os.close(os.open(tmp / "f", os.O_RDONLY))
        (_, fd, _, _), *_ = _events(kernel, group)
        data = os.read(fd, 16)
        os.close(fd)
        return data

    assert in_child(run) == b"content"


@pytest.mark.root
def test_fanotify_create_event_needs_a_fid_group(kernel: Kernel, tmp: Path, fds) -> None:
    group = fds(_init(kernel, "FAN_CLASS_NOTIF"))
    assert _mark(kernel, group, tmp, kernel.FAN_CREATE).errno == "EINVAL"


@pytest.mark.root
def test_fanotify_filesystem_mark_reports_opens_anywhere_on_it(
    kernel: Kernel, tmp: Path, in_child
) -> None:
    def run() -> list[int]:
        _private_tmpfs(kernel, tmp)
        (tmp / "d").mkdir()
        (tmp / "d" / "g").write_bytes(b"")
        group = _init(kernel, "FAN_CLASS_NOTIF").unwrap()
        _mark(kernel, group, tmp, kernel.FAN_OPEN, kernel.FAN_MARK_FILESYSTEM).unwrap()
        os.close(os.open(tmp / "d" / "g", os.O_RDONLY))
        events = _events(kernel, group)
        for _, fd, _, _ in events:
            os.close(fd)
        return [e[0] for e in events]

    assert in_child(run) == [kernel.FAN_OPEN]
