"""symlink/symlinkat and readlink/readlinkat: targets stored verbatim, read without NUL.

readlink fills at most bufsiz bytes and never appends a terminator; a too-small buffer
truncates silently. bufsiz 0 and non-links are EINVAL.
"""

import os
from pathlib import Path

import pytest

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


@pytest.mark.os("linux")
def test_symlinkat_with_a_trailing_slash_is_enoent(kernel: Kernel, tmp: Path) -> None:
    assert kernel.symlinkat(b"target", kernel.AT_FDCWD, f"{tmp}/link/").errno == "ENOENT"
    assert not os.path.lexists(tmp / "link")


@pytest.mark.os("linux")
def test_readlinkat_negative_bufsiz_is_einval(kernel: Kernel, tmp: Path) -> None:
    (tmp / "link").symlink_to("target")
    assert kernel.readlinkat(kernel.AT_FDCWD, tmp / "link", kernel.buf(16), -1).errno == "EINVAL"


# An empty path names the descriptor's own file (fs/stat.c do_readlinkat: LOOKUP_EMPTY):
# an O_PATH|O_NOFOLLOW descriptor of a symlink reads its target; a descriptor of
# anything else is ENOENT, not EINVAL.
@pytest.mark.os("linux")
def test_readlinkat_empty_path_reads_the_link_of_the_fd(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "link").symlink_to("some/target")
    fd = fds.open(tmp / "link", kernel.O_PATH | kernel.O_NOFOLLOW)
    buf = kernel.buf(64)
    n = kernel.readlinkat(fd, b"", buf, 64).unwrap()
    assert kernel.bytes(buf, n) == b"some/target"
    f = fds.file(tmp / "f")
    assert kernel.readlinkat(f, b"", buf, 64).errno == "ENOENT"


# O_CREAT follows a dangling symlink and creates its target; with O_EXCL it does not
# follow (fs/open.c build_open_flags: O_EXCL implies O_NOFOLLOW): EEXIST.
@pytest.mark.os("linux")
def test_open_creat_through_a_dangling_symlink_creates_the_target(
    kernel: Kernel, tmp: Path
) -> None:
    (tmp / "link").symlink_to("target")
    flags = kernel.O_CREAT | kernel.O_WRONLY
    fd = kernel.openat(kernel.AT_FDCWD, tmp / "link", flags, 0o600).unwrap()
    os.close(fd)
    assert (tmp / "target").is_file() and (tmp / "link").is_symlink()


@pytest.mark.os("linux")
def test_open_creat_excl_on_a_dangling_symlink_is_eexist(kernel: Kernel, tmp: Path) -> None:
    (tmp / "link").symlink_to("target")
    flags = kernel.O_CREAT | kernel.O_EXCL | kernel.O_WRONLY
    assert kernel.openat(kernel.AT_FDCWD, tmp / "link", flags, 0o600).errno == "EEXIST"
    assert not (tmp / "target").exists()


# fs.protected_symlinks (fs/namei.c may_follow_link): in a sticky, world-writable
# directory a symlink is followed only by its owner, or when the directory's owner owns
# it too; anyone else's lookup through it is EACCES (root's too: no capability lets it
# through). Root makes the directory (its own, 01777), the target, and two links to it:
# one of uid 1234's, one of its own; a child become nobody opens through each.
@pytest.mark.os("linux")
@pytest.mark.root
@pytest.mark.disposable  # the machine-wide fs.protected_symlinks is changed for it
def test_following_another_users_symlink_in_a_sticky_directory_is_eacces_when_protected(
    kernel: Kernel, tmp: Path, in_child, drop_privileges, fs_setting
) -> None:
    fs_setting("protected_symlinks", 1)
    d = tmp / "d"
    d.mkdir()
    d.chmod(0o1777)
    tmp.chmod(0o755)  # nobody may reach it
    (tmp / "target").write_bytes(b"T")
    (tmp / "target").chmod(0o644)
    (d / "theirs").symlink_to(tmp / "target")
    os.chown(d / "theirs", 1234, 1234, follow_symlinks=False)
    (d / "roots").symlink_to(tmp / "target")

    def run() -> tuple[str, str]:
        drop_privileges()
        theirs = kernel.openat(kernel.AT_FDCWD, d / "theirs", kernel.O_RDONLY)
        roots = kernel.openat(kernel.AT_FDCWD, d / "roots", kernel.O_RDONLY)
        return theirs.outcome, roots.outcome

    assert in_child(run) == ("EACCES", "ok")
