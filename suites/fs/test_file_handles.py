"""name_to_handle_at(2) and open_by_handle_at(2): a file's persistent handle, and the
file opened again from it (fs/fhandle.c).

Anyone may ask for a handle; opening one needs CAP_DAC_READ_SEARCH in the initial user
namespace, so a user, and root of a user namespace for a mount it does not own, get
EPERM. A buffer too small is EOVERFLOW with handle_bytes set to the size needed. The
tests use disk_tmp: a handle needs a file system that can decode it (tmp may move to a
tmpfs); a file system without export operations answers EOPNOTSUPP, and they skip.
"""

import os
from pathlib import Path

import pytest

from syscalls import namespaces
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

AS_USER = pytest.mark.as_user("root may open handles (CAP_DAC_READ_SEARCH)")
HANDLE = "struct file_handle *"


class Handles:
    def __init__(self, kernel: Kernel, disk_tmp: Path) -> None:
        self.kernel = kernel
        self._keep: list = []
        probe = self.get(disk_tmp)[0]
        if probe.errno == "EOPNOTSUPP":
            pytest.skip(f"the file system under {disk_tmp} cannot decode handles (EOPNOTSUPP)")
        probe.unwrap()

    def get(self, path, flags: int = 0, dfd: int | None = None, size: int | None = None):
        """name_to_handle_at: (result, handle, mount id)."""
        k = self.kernel
        size = k.MAX_HANDLE_SZ if size is None else size
        # Room for all that handle_bytes claims, as a caller owes the kernel (and qemu-user,
        # which copies that much back whatever the answer).
        raw = k.buf(k.ffi.sizeof("struct file_handle") + max(size, k.MAX_HANDLE_SZ))
        self._keep.append(raw)
        fh = k.ffi.cast(HANDLE, raw)
        fh.handle_bytes = size
        mnt = k.new("int *")
        r = k.name_to_handle_at(k.AT_FDCWD if dfd is None else dfd, path, fh, mnt, flags)
        return r, fh, mnt[0]

    def handle(self, path, flags: int = 0) -> object:
        r, fh, _ = self.get(path, flags)
        r.unwrap()
        return fh

    def key(self, fh) -> tuple[int, bytes]:
        return fh.handle_type, self.kernel.bytes(fh.f_handle, fh.handle_bytes)


@pytest.fixture
def handles(kernel: Kernel, disk_tmp: Path) -> Handles:
    return Handles(kernel, disk_tmp)


@pytest.fixture
def f(disk_tmp: Path) -> Path:
    (disk_tmp / "f").write_bytes(b"by handle")
    return disk_tmp / "f"


# --- name_to_handle_at ---------------------------------------------------------------------


def test_name_to_handle_at_fills_a_handle_within_max_handle_sz(
    kernel: Kernel, handles: Handles, f: Path
) -> None:
    fh = handles.handle(f)
    assert 0 < fh.handle_bytes <= kernel.MAX_HANDLE_SZ


@pytest.mark.min_kernel("5.8")
def test_name_to_handle_at_mount_id_is_the_one_statx_reports(
    kernel: Kernel, handles: Handles, f: Path
) -> None:
    _, _, mnt = handles.get(f)
    stx = kernel.new("struct statx *")
    kernel.statx(kernel.AT_FDCWD, f, 0, kernel.STATX_MNT_ID, stx).unwrap()
    assert mnt == stx.stx_mnt_id


def test_name_to_handle_at_same_file_twice_gives_the_same_handle(handles: Handles, f: Path) -> None:
    assert handles.key(handles.handle(f)) == handles.key(handles.handle(f))


def test_name_to_handle_at_two_files_have_different_handles(
    handles: Handles, f: Path, disk_tmp: Path
) -> None:
    (disk_tmp / "g").write_bytes(b"")
    assert handles.key(handles.handle(f)) != handles.key(handles.handle(disk_tmp / "g"))


def test_name_to_handle_at_too_small_is_eoverflow_with_the_size_needed(
    kernel: Kernel, handles: Handles, f: Path
) -> None:
    need = handles.handle(f).handle_bytes
    r, fh, _ = handles.get(f, size=0)
    assert r.errno == "EOVERFLOW"
    assert fh.handle_bytes == need
    r, fh, _ = handles.get(f, size=need)
    assert r.ok and fh.handle_bytes == need


def test_name_to_handle_at_larger_than_max_handle_sz_is_einval(
    kernel: Kernel, handles: Handles, f: Path
) -> None:
    assert handles.get(f, size=kernel.MAX_HANDLE_SZ + 1)[0].errno == "EINVAL"


def test_name_to_handle_at_unknown_flag_is_einval(handles: Handles, f: Path) -> None:
    assert handles.get(f, flags=1 << 20)[0].errno == "EINVAL"  # no AT_* flag there


def test_name_to_handle_at_missing_file_is_enoent(handles: Handles, disk_tmp: Path) -> None:
    assert handles.get(disk_tmp / "absent")[0].errno == "ENOENT"


def test_name_to_handle_at_names_the_link_unless_told_to_follow(
    kernel: Kernel, handles: Handles, f: Path
) -> None:
    link = f.with_name("link")
    link.symlink_to(f.name)
    own = handles.key(handles.handle(link))
    followed = handles.key(handles.handle(link, kernel.AT_SYMLINK_FOLLOW))
    assert followed == handles.key(handles.handle(f)) != own


def test_name_to_handle_at_empty_path_names_the_descriptor(
    kernel: Kernel, handles: Handles, f: Path, fds
) -> None:
    fd = fds.open(f, kernel.O_RDONLY)
    r, fh, _ = handles.get(b"", kernel.AT_EMPTY_PATH, dfd=fd)
    r.unwrap()
    assert handles.key(fh) == handles.key(handles.handle(f))


def test_name_to_handle_at_empty_path_without_the_flag_is_enoent(
    kernel: Kernel, handles: Handles, f: Path, fds
) -> None:
    fd = fds.open(f, kernel.O_RDONLY)
    assert handles.get(b"", dfd=fd)[0].errno == "ENOENT"


# --- open_by_handle_at -----------------------------------------------------------------------


def _mount_fd(kernel: Kernel, fds, disk_tmp: Path) -> int:
    return fds.open(disk_tmp, kernel.O_RDONLY | kernel.O_DIRECTORY)


@AS_USER
def test_open_by_handle_at_as_a_user_is_eperm(
    kernel: Kernel, handles: Handles, f: Path, fds, disk_tmp: Path
) -> None:
    fh = handles.handle(f)
    mount_fd = _mount_fd(kernel, fds, disk_tmp)
    assert kernel.open_by_handle_at(mount_fd, fh, kernel.O_RDONLY).errno == "EPERM"


def test_open_by_handle_at_as_root_of_a_user_namespace_is_eperm(
    kernel: Kernel, handles: Handles, f: Path, disk_tmp: Path, in_child
) -> None:
    fh = handles.handle(f)

    def run() -> str:
        mount_fd = os.open(disk_tmp, os.O_RDONLY | os.O_DIRECTORY)
        namespaces.user_namespace_or_skip(kernel)
        return kernel.open_by_handle_at(mount_fd, fh, kernel.O_RDONLY).outcome

    assert in_child(run) == "EPERM"


@pytest.mark.root
def test_open_by_handle_at_opens_the_same_file(
    kernel: Kernel, handles: Handles, f: Path, fds, disk_tmp: Path
) -> None:
    fh = handles.handle(f)
    fd = fds(kernel.open_by_handle_at(_mount_fd(kernel, fds, disk_tmp), fh, kernel.O_RDONLY))
    buf = kernel.buf(32)
    assert kernel.bytes(buf, kernel.read(fd, buf, 32).unwrap()) == b"by handle"
    assert os.fstat(fd).st_ino == os.stat(f).st_ino


@pytest.mark.root
def test_open_by_handle_at_of_a_directory_opens_the_directory(
    kernel: Kernel, handles: Handles, fds, disk_tmp: Path
) -> None:
    (disk_tmp / "d").mkdir()
    fh = handles.handle(disk_tmp / "d")
    flags = kernel.O_RDONLY | kernel.O_DIRECTORY
    fd = fds(kernel.open_by_handle_at(_mount_fd(kernel, fds, disk_tmp), fh, flags))
    assert os.fstat(fd).st_ino == os.stat(disk_tmp / "d").st_ino


@pytest.mark.root
def test_open_by_handle_at_for_writing_writes_the_file(
    kernel: Kernel, handles: Handles, f: Path, fds, disk_tmp: Path
) -> None:
    fh = handles.handle(f)
    fd = fds(kernel.open_by_handle_at(_mount_fd(kernel, fds, disk_tmp), fh, kernel.O_WRONLY))
    kernel.write(fd, b"BY", 2).unwrap()
    assert f.read_bytes() == b"BY handle"


@pytest.mark.root
def test_open_by_handle_at_of_a_deleted_file_is_estale(
    kernel: Kernel, handles: Handles, f: Path, fds, disk_tmp: Path
) -> None:
    fh = handles.handle(f)
    f.unlink()
    r = kernel.open_by_handle_at(_mount_fd(kernel, fds, disk_tmp), fh, kernel.O_RDONLY)
    assert r.errno == "ESTALE"


@pytest.mark.root
def test_open_by_handle_at_zero_handle_bytes_is_einval(
    kernel: Kernel, handles: Handles, f: Path, fds, disk_tmp: Path
) -> None:
    fh = handles.handle(f)
    fh.handle_bytes = 0
    r = kernel.open_by_handle_at(_mount_fd(kernel, fds, disk_tmp), fh, kernel.O_RDONLY)
    assert r.errno == "EINVAL"


@pytest.mark.root
def test_open_by_handle_at_with_a_bad_mount_descriptor_is_ebadf(
    kernel: Kernel, handles: Handles, f: Path
) -> None:
    fh = handles.handle(f)
    assert kernel.open_by_handle_at(-1, fh, kernel.O_RDONLY).errno == "EBADF"
