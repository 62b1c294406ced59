"""syscalls.removal: a test's directory goes whatever the test left in it, and nothing
raises."""

from __future__ import annotations

import array
import fcntl
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from syscalls import child, removal, tempdirs
from syscalls.kernel import Kernel
from syscalls.namespaces import private_mounts
from syscalls.removal import remove_tree

DEPTH = 3000  # shutil.rmtree's recursion ends at about a thousand


def _deep(top: Path, depth: int = DEPTH) -> None:
    """`depth` nested directories under `top` (a path longer than PATH_MAX), a file at
    the bottom."""
    top.mkdir()
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            below = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = below
        os.close(os.open("f", os.O_CREAT | os.O_WRONLY, 0o600, dir_fd=fd))
    finally:
        os.close(fd)


def test_a_tree_deeper_than_rmtree_can_recurse_is_removed(tmp_path: Path) -> None:
    _deep(tmp_path / "t")
    assert remove_tree(tmp_path / "t") == []
    assert not (tmp_path / "t").exists()


def test_a_missing_tree_is_nothing_to_do(tmp_path: Path) -> None:
    assert remove_tree(tmp_path / "none") == []


def _as_a_user(fn: Callable[[Path], object], where: Path) -> object:
    """fn(a directory of its own) as this user, or as nobody when root (whom no mode
    bits stop), in a child."""
    where.mkdir()
    if os.geteuid() != 0:
        return fn(where)
    os.chown(where, 65534, 65534)

    def run() -> object:
        os.setresgid(65534, 65534, 65534)
        os.setresuid(65534, 65534, 65534)
        return fn(where)

    return child.run(run)


def test_directories_without_read_or_search_permission_are_removed(tmp: Path) -> None:
    def run(where: Path) -> tuple[list[str], bool]:
        top = where / "t"
        (top / "a" / "b").mkdir(parents=True)
        (top / "a" / "b" / "f").write_text("x")
        (top / "a" / "g").write_text("y")
        for d, mode in ((top / "a" / "b", 0), (top / "a", 0o100), (top, 0o200)):
            d.chmod(mode)
        return remove_tree(top), top.exists()

    tmp.chmod(0o711)  # nobody's way to its own directory
    assert _as_a_user(run, tmp / "user") == ([], False)


def _set_flags(path: Path, flags: int) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        buf = array.array("l", [flags])
        fcntl.ioctl(fd, removal.FS_IOC_SETFLAGS, buf)
    finally:
        os.close(fd)


@pytest.mark.root
def test_immutable_and_append_only_files_are_removed(tmp: Path) -> None:
    top = tmp / "t"
    (top / "d").mkdir(parents=True)
    for name in ("immutable", "append"):
        (top / "d" / name).write_text("x")
    try:
        _set_flags(top / "d" / "append", removal.FS_APPEND_FL)
        _set_flags(top / "d" / "immutable", removal.FS_IMMUTABLE_FL)
        _set_flags(top / "d", removal.FS_IMMUTABLE_FL)
    except OSError as e:  # ENOTTY, EOPNOTSUPP: a file system without the flags
        pytest.skip(f"{tmp}'s file system keeps no immutable flag: {e.strerror}")
    with pytest.raises(PermissionError):
        os.unlink(top / "d" / "append")
    assert remove_tree(top) == []
    assert not top.exists()


@pytest.mark.root
def test_what_cannot_go_is_returned_not_raised(kernel: Kernel, tmp: Path) -> None:
    """A mount point in use (EBUSY): the rest goes, and that one is named."""
    top = tmp / "t"
    (top / "busy").mkdir(parents=True)
    (top / "other").mkdir()
    (top / "other" / "f").write_text("x")

    def run() -> tuple[list[str], list[str]]:
        private_mounts(kernel)
        kernel.mount(b"none", bytes(top / "busy"), b"tmpfs", 0, None).unwrap()
        return remove_tree(top), sorted(os.listdir(top))

    left, after = child.run(run)
    assert after == ["busy"]
    assert len(left) == 2 and left[0].endswith("/t/busy: Device or resource busy"), left


def test_sweep_removes_an_abandoned_run_holding_a_deep_tree(tmp_path: Path) -> None:
    """A run killed with such a tree in it: the next run's sweep removes it (shutil's
    RecursionError used to end that run at its start)."""
    left = tmp_path / "syscalls-run-left"
    left.mkdir(mode=0o700)
    (left / tempdirs.OWNER).write_text("999999999 1")
    _deep(left / "tmp")
    assert tempdirs.sweep(str(tmp_path), "syscalls-run-") == [str(left)]
    assert not left.exists()
