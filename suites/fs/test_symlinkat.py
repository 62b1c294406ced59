"""symlink/symlinkat and readlink/readlinkat: targets stored verbatim, read without NUL.

readlink fills at most bufsiz bytes and never appends a terminator; a too-small buffer
truncates silently. bufsiz 0 and non-links are EINVAL.
"""

from pathlib import Path

from syscalls.expect import ByOS
from syscalls.kernel import Kernel

# NetBSD 7 reads a link into no room (returns 0) and makes links to the empty path.
ZERO_BUFSIZ = ByOS(default="EINVAL", netbsd="ok")
EMPTY_TARGET = ByOS(default="ENOENT", netbsd="ok")


def _readlink(kernel: Kernel, path: Path, size: int = 256) -> bytes:
    buf = kernel.buf(size)
    return kernel.bytes(buf, kernel.readlinkat(kernel.AT_FDCWD, path, buf, size).unwrap())


def test_symlinkat_target_reads_back_verbatim(kernel: Kernel, tmp: Path) -> None:
    kernel.symlinkat(b"../some/where", kernel.AT_FDCWD, tmp / "link").unwrap()
    assert _readlink(kernel, tmp / "link") == b"../some/where"


def test_readlinkat_truncates_to_bufsiz_without_nul(kernel: Kernel, tmp: Path) -> None:
    (tmp / "link").symlink_to("abcdefgh")
    buf = kernel.buf(b"#" * 8)
    assert kernel.readlinkat(kernel.AT_FDCWD, tmp / "link", buf, 4).unwrap() == 4
    assert kernel.bytes(buf, 8) == b"abcd####"


def test_readlinkat_on_regular_file_is_einval(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    buf = kernel.buf(16)
    assert kernel.readlinkat(kernel.AT_FDCWD, tmp / "f", buf, 16).errno == "EINVAL"


def test_readlinkat_zero_bufsiz_is_einval(kernel: Kernel, tmp: Path) -> None:
    (tmp / "link").symlink_to("x")
    r = kernel.readlinkat(kernel.AT_FDCWD, tmp / "link", kernel.buf(1), 0)
    assert r.outcome == ZERO_BUFSIZ[kernel.platform.os]


def test_symlinkat_onto_existing_name_is_eexist(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    assert kernel.symlinkat(b"x", kernel.AT_FDCWD, tmp / "f").errno == "EEXIST"


def test_symlinkat_empty_target_is_enoent(kernel: Kernel, tmp: Path) -> None:
    r = kernel.symlinkat(b"", kernel.AT_FDCWD, tmp / "link")
    assert r.outcome == EMPTY_TARGET[kernel.platform.os]


def test_open_through_dangling_symlink_is_enoent(kernel: Kernel, tmp: Path) -> None:
    kernel.symlinkat(b"missing", kernel.AT_FDCWD, tmp / "link").unwrap()
    assert kernel.openat(kernel.AT_FDCWD, tmp / "link", kernel.O_RDONLY).errno == "ENOENT"


def test_open_through_symlink_loop_is_eloop(kernel: Kernel, tmp: Path) -> None:
    kernel.symlinkat(b"b", kernel.AT_FDCWD, tmp / "a").unwrap()
    kernel.symlinkat(b"a", kernel.AT_FDCWD, tmp / "b").unwrap()
    assert kernel.openat(kernel.AT_FDCWD, tmp / "a", kernel.O_RDONLY).errno == "ELOOP"


def test_symlink_and_readlink_legacy_calls(kernel: Kernel, tmp: Path) -> None:
    kernel.symlink(b"target", tmp / "link").unwrap()
    buf = kernel.buf(16)
    n = kernel.readlink(tmp / "link", buf, 16).unwrap()
    assert kernel.bytes(buf, n) == b"target"
