"""Reading a file a user names (a table, a profile, JUnit): whole, bounded, and only if
it is a regular file, with one line that says why not."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


class UnreadableInput(Exception):
    """The file cannot be read as input; the message is one line naming it."""


def read_input(path: Path, what: str, limit: int) -> bytes:
    """The bytes of `path`, a `what` (e.g. "binding table") of at most `limit` bytes.

    A directory, a device or a FIFO is refused without waiting (O_NONBLOCK: opening a
    FIFO would wait for a writer), and a larger file without reading it all."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise UnreadableInput(f"{path}: {_strerror(e)}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise UnreadableInput(f"{path}: is a directory, not a {what}")
        if not stat.S_ISREG(mode):
            raise UnreadableInput(f"{path}: not a regular file, not a {what}")
        chunks, size = [], 0
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise UnreadableInput(f"{path}: larger than {limit >> 20} MiB: not a {what}")
    except OSError as e:
        raise UnreadableInput(f"{path}: {_strerror(e)}") from None
    finally:
        os.close(fd)
    return b"".join(chunks)


def _strerror(e: OSError) -> str:
    return "no such file" if e.errno == errno.ENOENT else e.strerror or str(e)
