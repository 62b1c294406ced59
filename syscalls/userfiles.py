"""Files a user names on the command line: an input (a table, a profile, JUnit) is read
whole, bounded, and only if it is a regular file; an output (a table, an HTML page) is
checked before the work that makes it, and written under a temporary name of its own
renamed over it. What cannot be is one line naming the path and why."""

from __future__ import annotations

import errno
import os
import secrets
import stat
from pathlib import Path


class UnreadableInput(Exception):
    """The file cannot be read as input; the message is one line naming it."""


def read_input(path: Path, what: str, limit: int) -> bytes:
    """The bytes of `path`, a `what` (e.g. "binding table") of at most `limit` bytes.

    A directory, a device or a FIFO is refused without waiting (O_NONBLOCK: opening a
    FIFO would wait for a writer), and a larger file without reading it all."""
    data = read_regular(path, what, limit)
    if len(data) > limit:
        raise UnreadableInput(f"{path}: larger than {limit >> 20} MiB: not a {what}")
    return data


def read_regular(path: Path, what: str, limit: int, follow: bool = True) -> bytes:
    """The first `limit` + 1 bytes of `path`, if it is a regular file (a FIFO is refused
    without waiting for a writer; with `follow` False, a symlink too): UnreadableInput
    otherwise, naming it as a `what`."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise UnreadableInput(f"{path}: {_strerror(e)}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise UnreadableInput(f"{path}: is a directory, not a {what}")
        if not stat.S_ISREG(mode):
            raise UnreadableInput(f"{path}: not a regular file, not a {what}")
        chunks, size = [], 0
        while size <= limit and (chunk := os.read(fd, min(1 << 20, limit + 1 - size))):
            chunks.append(chunk)
            size += len(chunk)
    except OSError as e:
        raise UnreadableInput(f"{path}: {_strerror(e)}") from None
    finally:
        os.close(fd)
    return b"".join(chunks)


def _strerror(e: OSError) -> str:
    return "no such file" if e.errno == errno.ENOENT else e.strerror or str(e)


class OutputError(Exception):
    """The file cannot be written there; the message is one line naming the path."""


def check_output(out: Path, parents: bool = False) -> Path:
    """Where a file for `out` goes (a symlink is written through), refused before any
    work if it cannot go there: a directory, a device (`-o /dev/full` must not replace
    the device with a file), a directory that is missing or that this user cannot write.
    `parents`: the writer makes missing directories, so the nearest one that exists must
    be writable."""
    out = Path(os.path.realpath(out))
    if out.is_dir():
        raise OutputError(f"{out}: is a directory (give a file name)")
    if out.exists() and not out.is_file():
        raise OutputError(f"{out}: not a regular file")
    parent = out.parent
    while parents and not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        what = "not a directory" if parent.exists() else "no such directory"
        raise OutputError(f"{parent}: {what}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{parent}: cannot write here ({_why(parent)})")
    return out


def _why(directory: Path) -> str:
    """Why access(2) said no: a read-only file system or the permissions."""
    try:
        read_only = os.statvfs(directory).f_flag & os.ST_RDONLY
    except OSError as e:
        return e.strerror or str(e)
    return "read-only file system" if read_only else "permission denied"


def write_output(out: Path, data: bytes) -> Path:
    """`data` into `out` (checked as check_output does), atomically: a failure leaves the
    old file, and no temporary one (OutputError). The path written, a symlink followed."""
    out = check_output(out)
    # A name of its own: two commands writing one file must not share a temporary file.
    tmp = out.with_name(f".{out.name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if out.exists():  # keep the mode of the file it replaces
                os.fchmod(fd, stat.S_IMODE(out.stat().st_mode))
        finally:
            os.close(fd)
        os.replace(tmp, out)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{out}: {e.strerror or e}") from None
    return out
