"""Removing a directory tree whatever a test left in it.

A test's directory, and the run's directories holding them, are removed by the runner
whatever the test under them did: taken the permission to read or search a directory
away, set a file immutable or append-only (root, on a file system that keeps the flags:
tmpfs does since Linux 6.0), or nested directories thousands deep. shutil.rmtree recurses
once per level and raised RecursionError at about a thousand: the run's controller died
of it at the end of the run, and every later run at its start, as it swept the
directory up. Here the common case is still one shutil.rmtree; on any failure the rest
is removed level by level through directory descriptors (no recursion, no path length
limit), giving back permissions and clearing those flags where they are in the way.
Nothing raises: what is left (a mount point in use, say) is returned for the caller to
report.
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import os
import shutil
import stat
from pathlib import Path

# linux/fs.h: _IOR('f', 1, long) and _IOW('f', 2, long), whose size is this ABI's long
_LONG = array.array("l").itemsize
FS_IOC_GETFLAGS = 2 << 30 | _LONG << 16 | ord("f") << 8 | 1
FS_IOC_SETFLAGS = 1 << 30 | _LONG << 16 | ord("f") << 8 | 2
FS_IMMUTABLE_FL, FS_APPEND_FL = 0x10, 0x20
STUBBORN = FS_IMMUTABLE_FL | FS_APPEND_FL
SHOWN = 5  # of what is left, named in the answer
DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def remove_tree(path: Path) -> list[str]:
    """Remove `path` and everything below it; what could not be removed (its paths, at
    most SHOWN of them, then how many more), [] when all is gone."""
    try:
        shutil.rmtree(path)
        return []
    except FileNotFoundError:
        return []
    except (OSError, RecursionError):
        pass
    try:
        parent = os.open(path.parent, DIRECTORY)
    except OSError as e:
        return [f"{path}: {e.strerror}"]
    try:
        left = _remove(parent, path.name, str(path))
    finally:
        os.close(parent)
    return left[:SHOWN] + ([f"... and {len(left) - SHOWN} more"] if len(left) > SHOWN else [])


def _remove(top_parent: int, top: str, shown: str) -> list[str]:
    """Remove `top` in the directory open as `top_parent`, walking down one directory
    at a time (only the current one open) and back up through "..": each directory is
    emptied of what is not a directory, then entered at its first subdirectory not yet
    given up on, then removed once nothing is left in it."""
    left: list[str] = []
    given_up: set[tuple[int, int]] = set()  # directories that could not be emptied
    names = [top]  # the path from top_parent down to the directory open as `fd`
    fd = _enter(top_parent, top)
    if fd is None:
        return _unlink(top_parent, top, shown, left)
    while True:
        below = _empty(fd, "/".join([shown, *names[1:]]), left, given_up)
        if below is not None:
            child = _enter(fd, below)
            if child is not None:
                os.close(fd)
                fd = child
                names.append(below)
                continue
            given_up.add(_key(fd, below))
            continue
        # nothing left to enter here: up one level, and this one goes
        name = names.pop()
        try:
            up = os.open("..", DIRECTORY, dir_fd=fd) if names else top_parent
        finally:
            os.close(fd)
        try:
            _rmdir(up, name)
        except OSError as e:
            path = "/".join([shown, *names[1:], name]) if names else shown
            if e.errno != 2:  # ENOENT: gone already
                left.append(f"{path}: {e.strerror}")
            if names:
                given_up.add(_key(up, name))
        if not names:
            return left
        fd = up


def _empty(fd: int, shown: str, left: list[str], given_up: set[tuple[int, int]]) -> str | None:
    """Unlink all but the directories in the directory open as `fd`; the name of one of
    them not yet given up on, or None."""
    try:
        entries = list(os.scandir(fd))
    except OSError as e:
        left.append(f"{shown}: {e.strerror}")
        return None
    for entry in entries:
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError:
            is_dir = False
        if is_dir:
            if _key(fd, entry.name) not in given_up:
                return entry.name
            continue
        _unlink(fd, entry.name, f"{shown}/{entry.name}", left)
    return None


def _enter(parent: int, name: str) -> int | None:
    """The directory `name` open, its search and read permission given back if taken;
    None if it is not a directory (or cannot be opened)."""
    for attempt in range(2):
        try:
            return os.open(name, DIRECTORY, dir_fd=parent)
        except PermissionError:
            if attempt:
                return None
            with contextlib.suppress(OSError):
                os.chmod(name, 0o700, dir_fd=parent)
        except OSError:
            return None
    return None


def _unlink(parent: int, name: str, shown: str, left: list[str]) -> list[str]:
    try:
        os.unlink(name, dir_fd=parent)
    except FileNotFoundError:
        pass
    except PermissionError:  # immutable or append-only, it or the directory it is in
        _unflag(parent)
        _unflag_entry(parent, name)
        try:
            os.unlink(name, dir_fd=parent)
        except OSError as e:
            left.append(f"{shown}: {e.strerror}")
    except OSError as e:
        left.append(f"{shown}: {e.strerror}")
    return left


def _rmdir(parent: int, name: str) -> None:
    try:
        os.rmdir(name, dir_fd=parent)
    except PermissionError:
        _unflag(parent)
        _unflag_entry(parent, name)
        os.rmdir(name, dir_fd=parent)


def _unflag_entry(parent: int, name: str) -> None:
    """Clear the immutable and append-only flags of a regular file or a directory (never
    opening a device or a FIFO: that could do something)."""
    try:
        mode = os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode
    except OSError:
        return
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        return
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(name, flags, dir_fd=parent)
    except OSError:
        return
    try:
        _unflag(fd)
    finally:
        os.close(fd)


def _unflag(fd: int) -> None:
    buf = array.array("l", [0])
    with contextlib.suppress(OSError):
        fcntl.ioctl(fd, FS_IOC_GETFLAGS, buf)
        if buf[0] & STUBBORN:
            buf[0] &= ~STUBBORN
            fcntl.ioctl(fd, FS_IOC_SETFLAGS, buf)


def _key(parent: int, name: str) -> tuple[int, int]:
    try:
        st = os.stat(name, dir_fd=parent, follow_symlinks=False)
    except OSError:
        return (-1, -1)
    return (st.st_dev, st.st_ino)
