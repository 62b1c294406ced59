"""unlink/unlinkat(2): removing names, AT_REMOVEDIR, and what stays open.

Unlinking a directory without AT_REMOVEDIR: Linux answers EISDIR, POSIX and the BSDs EPERM.
"""

from pathlib import Path

from syscalls.expect import ByOS
from syscalls.kernel import Kernel

UNLINK_DIR = ByOS(default="EPERM", linux="EISDIR")


# NetBSD ignores flags it does not know (sys/kern/vfs_syscalls.c, do_sys_unlinkat): the
# file is then removed.
UNKNOWN_FLAG = ByOS(default="EINVAL", netbsd="ok")


def test_unlinkat_removes_the_name(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    kernel.unlinkat(kernel.AT_FDCWD, tmp / "f", 0).unwrap()
    assert kernel.unlinkat(kernel.AT_FDCWD, tmp / "f", 0).errno == "ENOENT"


def test_unlinkat_keeps_open_file_readable_with_zero_links(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"still here")
    kernel.unlinkat(kernel.AT_FDCWD, tmp / "f", 0).unwrap()
    st = kernel.new("struct stat *")
    kernel.fstat(fd, st).unwrap()
    assert st.st_nlink == 0
    buf = kernel.buf(16)
    assert kernel.bytes(buf, kernel.pread64(fd, buf, 16, 0).unwrap()) == b"still here"


def test_unlinkat_directory_without_removedir_is_refused(kernel: Kernel, tmp: Path) -> None:
    (tmp / "d").mkdir()
    r = kernel.unlinkat(kernel.AT_FDCWD, tmp / "d", 0)
    assert r.errno == UNLINK_DIR[kernel.platform.os]


def test_unlinkat_removedir_removes_empty_directory(kernel: Kernel, tmp: Path) -> None:
    (tmp / "d").mkdir()
    kernel.unlinkat(kernel.AT_FDCWD, tmp / "d", kernel.AT_REMOVEDIR).unwrap()
    assert not (tmp / "d").exists()


def test_unlinkat_removedir_on_file_is_enotdir(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    assert kernel.unlinkat(kernel.AT_FDCWD, tmp / "f", kernel.AT_REMOVEDIR).errno == "ENOTDIR"


def test_unlinkat_removedir_on_nonempty_directory_is_enotempty(kernel: Kernel, tmp: Path) -> None:
    (tmp / "d").mkdir()
    (tmp / "d" / "f").write_bytes(b"")
    r = kernel.unlinkat(kernel.AT_FDCWD, tmp / "d", kernel.AT_REMOVEDIR)
    assert r.errno == "ENOTEMPTY"


def test_unlinkat_symlink_removes_link_not_target(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    (tmp / "link").symlink_to("f")
    kernel.unlinkat(kernel.AT_FDCWD, tmp / "link", 0).unwrap()
    assert (tmp / "f").exists()
    assert not (tmp / "link").is_symlink()


def test_unlinkat_unknown_flag_is_einval(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    outcome = kernel.unlinkat(kernel.AT_FDCWD, tmp / "f", 1 << 20).outcome
    assert outcome == UNKNOWN_FLAG[kernel.platform.os]
    assert (tmp / "f").exists() == (outcome != "ok")


def test_unlink_legacy_call_removes_the_name(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    kernel.unlink(tmp / "f").unwrap()
    assert not (tmp / "f").exists()
