"""openat2(2): RESOLVE_* path-resolution restrictions and the open_how checks (Linux 5.6+).

Facts from include/uapi/linux/openat2.h: struct open_how is 24 bytes (OPEN_HOW_SIZE_VER0);
a larger size with non-zero trailing bytes is E2BIG. openat2(2): a scoped lookup
(RESOLVE_BENEATH, RESOLVE_IN_ROOT) that walks ".." answers EAGAIN when any rename or mount
on the system raced with it, and the caller is to retry: other tests rename in parallel.
"""

import os
from pathlib import Path

import pytest

from syscalls.kernel import Kernel, Result

pytestmark = [pytest.mark.os("linux"), pytest.mark.min_kernel("5.6")]


def _openat2(
    kernel: Kernel,
    dirfd: int,
    path: Path | bytes | str,
    resolve: int = 0,
    flags: int = 0,
    mode: int = 0,
) -> Result:
    how = kernel.new("struct open_how *")
    how.flags, how.mode, how.resolve = flags | kernel.O_RDONLY, mode, resolve
    return kernel.openat2(dirfd, path, how, kernel.ffi.sizeof("struct open_how"))


def _openat2_retrying(kernel: Kernel, dirfd: int, path: bytes, resolve: int) -> Result:
    """A scoped lookup through "..", retried while it answers EAGAIN, as openat2(2) asks;
    bounded, so that a kernel that always answers EAGAIN still fails the test."""
    with kernel.unobserved():  # how many tries it took is the machine's, not the kernel's
        for _ in range(50):
            r = _openat2(kernel, dirfd, path, resolve)
            if r.errno != "EAGAIN":
                break
    kernel.record(r)
    return r


def test_openat2_plain_open_reads_the_file(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "f").write_bytes(b"data")
    fd = fds(_openat2(kernel, kernel.AT_FDCWD, tmp / "f"))
    buf = kernel.buf(8)
    assert kernel.bytes(buf, kernel.read(fd, buf, 8).unwrap()) == b"data"


def test_openat2_resolve_beneath_rejects_dotdot_escape(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "sub").mkdir()
    (tmp / "f").write_bytes(b"")
    dirfd = fds.open(tmp / "sub", kernel.O_RDONLY | kernel.O_DIRECTORY)
    r = _openat2(kernel, dirfd, b"../f", kernel.RESOLVE_BENEATH)
    assert r.errno == "EXDEV"


def test_openat2_resolve_beneath_rejects_absolute_path(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "f").write_bytes(b"")
    dirfd = fds.open(tmp, kernel.O_RDONLY | kernel.O_DIRECTORY)
    r = _openat2(kernel, dirfd, tmp / "f", kernel.RESOLVE_BENEATH)
    assert r.errno == "EXDEV"


def test_openat2_resolve_beneath_allows_paths_inside(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "sub").mkdir()
    (tmp / "sub" / "f").write_bytes(b"")
    dirfd = fds.open(tmp, kernel.O_RDONLY | kernel.O_DIRECTORY)
    fds(_openat2_retrying(kernel, dirfd, b"sub/../sub/f", kernel.RESOLVE_BENEATH))


def test_openat2_resolve_no_symlinks_rejects_symlink(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    (tmp / "link").symlink_to("f")
    r = _openat2(kernel, kernel.AT_FDCWD, tmp / "link", kernel.RESOLVE_NO_SYMLINKS)
    assert r.errno == "ELOOP"


def test_openat2_resolve_in_root_anchors_absolute_symlinks(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "root").mkdir()
    (tmp / "root" / "inside").write_bytes(b"inside")
    (tmp / "root" / "abs").symlink_to("/inside")
    rootfd = fds.open(tmp / "root", kernel.O_RDONLY | kernel.O_DIRECTORY)
    fd = fds(_openat2(kernel, rootfd, b"abs", kernel.RESOLVE_IN_ROOT))
    buf = kernel.buf(8)
    assert kernel.bytes(buf, kernel.read(fd, buf, 8).unwrap()) == b"inside"


def test_openat2_resolve_no_magiclinks_rejects_proc_fd_link(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    r = _openat2(kernel, kernel.AT_FDCWD, f"/proc/self/fd/{fd}", kernel.RESOLVE_NO_MAGICLINKS)
    assert r.errno == "ELOOP"


def test_openat2_resolve_no_xdev_rejects_crossing_into_proc(kernel: Kernel) -> None:
    r = _openat2(kernel, kernel.AT_FDCWD, b"/proc/self/status", kernel.RESOLVE_NO_XDEV)
    assert r.errno == "EXDEV"


def test_openat2_unknown_resolve_bit_is_einval(kernel: Kernel, tmp: Path) -> None:
    r = _openat2(kernel, kernel.AT_FDCWD, tmp, 1 << 40)
    assert r.errno == "EINVAL"


def test_openat2_mode_without_creat_is_einval(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    r = _openat2(kernel, kernel.AT_FDCWD, tmp / "f", mode=0o600)
    assert r.errno == "EINVAL"


def test_openat2_create_mode_outside_s_iallugo_is_einval(kernel: Kernel, tmp: Path) -> None:
    """openat masks the mode to S_IALLUGO (07777); openat2 refuses the other bits: here
    a file type, S_IFREG."""
    r = _openat2(kernel, kernel.AT_FDCWD, tmp / "f", flags=kernel.O_CREAT, mode=0o100600)
    if r.ok:
        kernel.close(r.value)
    assert r.errno == "EINVAL"
    assert not (tmp / "f").exists()


def test_openat2_size_below_version0_is_einval(kernel: Kernel, tmp: Path) -> None:
    how = kernel.new("struct open_how *")
    r = kernel.openat2(kernel.AT_FDCWD, tmp, how, 16)
    assert r.errno == "EINVAL"


def test_openat2_nonzero_bytes_past_known_struct_is_e2big(kernel: Kernel, tmp: Path) -> None:
    raw = kernel.new("uint64_t[4]", [kernel.O_RDONLY, 0, 0, 1])  # 32 bytes, last non-zero
    r = kernel.openat2(kernel.AT_FDCWD, tmp, raw, 32)
    assert r.errno == "E2BIG"


# openat2 checks every argument: bits outside the open flags are EINVAL
# (fs/open.c build_open_flags), where open/openat mask them away (build_open_how).
def test_openat2_unknown_open_flag_is_einval(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    assert _openat2(kernel, kernel.AT_FDCWD, tmp / "f", flags=1 << 40).errno == "EINVAL"
    assert _openat2(kernel, kernel.AT_FDCWD, tmp / "f", flags=0x40000000).errno == "EINVAL"


def test_openat2_beneath_and_in_root_together_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "f").write_bytes(b"")
    dirfd = fds.open(tmp, kernel.O_RDONLY | kernel.O_DIRECTORY)
    both = kernel.RESOLVE_BENEATH | kernel.RESOLVE_IN_ROOT
    assert _openat2(kernel, dirfd, b"f", both).errno == "EINVAL"
    fds(_openat2(kernel, dirfd, b"f", kernel.RESOLVE_IN_ROOT))  # either alone opens


def test_openat2_create_mode_beyond_07777_is_einval(kernel: Kernel, tmp: Path) -> None:
    flags = kernel.O_CREAT | kernel.O_WRONLY
    r = _openat2(kernel, kernel.AT_FDCWD, tmp / "f", flags=flags, mode=0o10600)
    assert r.errno == "EINVAL"
    assert not (tmp / "f").exists()


def test_openat2_create_mode_07777_is_allowed(kernel: Kernel, tmp: Path, fds) -> None:
    flags = kernel.O_CREAT | kernel.O_WRONLY
    fds(_openat2(kernel, kernel.AT_FDCWD, tmp / "f", flags=flags, mode=0o7777))
    assert (tmp / "f").is_file()


# O_PATH takes only O_DIRECTORY, O_NOFOLLOW and O_CLOEXEC beside it: openat2 refuses
# the rest (fs/open.c build_open_flags); openat drops them (build_open_how).
def test_openat2_o_path_with_another_flag_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "f").write_bytes(b"data")
    for extra in (kernel.O_RDWR, kernel.O_TRUNC, kernel.O_APPEND):
        r = _openat2(kernel, kernel.AT_FDCWD, tmp / "f", flags=kernel.O_PATH | extra)
        assert r.errno == "EINVAL", extra
    assert (tmp / "f").read_bytes() == b"data"
    fds(_openat2(kernel, kernel.AT_FDCWD, tmp / "f", flags=kernel.O_PATH | kernel.O_CLOEXEC))


@pytest.mark.min_kernel("5.12")
def test_openat2_resolve_cached_with_create_or_truncate_is_eagain(
    kernel: Kernel, tmp: Path
) -> None:
    (tmp / "f").write_bytes(b"data")
    cached = kernel.RESOLVE_CACHED
    trunc = kernel.O_TRUNC | kernel.O_WRONLY
    assert _openat2(kernel, kernel.AT_FDCWD, tmp / "f", cached, flags=trunc).errno == "EAGAIN"
    creat = kernel.O_CREAT | kernel.O_WRONLY
    r = _openat2(kernel, kernel.AT_FDCWD, tmp / "g", cached, flags=creat, mode=0o600)
    assert r.errno == "EAGAIN"
    assert (tmp / "f").read_bytes() == b"data" and not (tmp / "g").exists()


def test_openat2_larger_size_with_zero_tail_opens(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "f").write_bytes(b"")
    raw = kernel.new("uint64_t[8]", [kernel.O_RDONLY, 0, 0])  # 64 bytes, the tail zero
    fds(kernel.openat2(kernel.AT_FDCWD, tmp / "f", raw, 64))


def test_openat2_size_above_a_page_is_e2big(kernel: Kernel, tmp: Path) -> None:
    page = os.sysconf("SC_PAGE_SIZE")
    raw = kernel.new(f"uint8_t[{page + 8}]")  # all zero: only the size is wrong
    assert kernel.openat2(kernel.AT_FDCWD, tmp, raw, page + 8).errno == "E2BIG"
