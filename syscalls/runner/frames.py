"""Messages between the controller and its forked workers (syscalls.runner.pool): each a
pickled object behind a header (a mark and its length), over a pipe. Both ends are the
same program, forked from one process, so pickle is safe here.

A test can write to these pipes all the same: they are open in its process (or, through
/proc/self/fd, opened again). Bytes the other end did not send used to be read as a
length, and the reader waited for ever for a message that size: the run hung. Each
message now starts with a mark, and its length is bounded; what is not a message where
one must begin, or does not unpickle, is `Corrupt`, and the pipe is not read further."""

from __future__ import annotations

import os
import pickle
import struct
from typing import Any

_HEADER = struct.Struct("<4sI")  # mark, length
MARK = b"\xf3SYS"
MAX_MESSAGE = 1 << 30  # bytes: far more than a test's report (its output is cut at 1 MiB)


class Corrupt(Exception):
    """The pipe carried bytes that are not a message from the other end."""


def _length(mark: bytes, n: int) -> int:
    if mark != MARK or n > MAX_MESSAGE:
        raise Corrupt(f"bytes that are not a message ({(mark + struct.pack('<I', n))!r} ...)")
    return n


def _loads(data: bytes | memoryview) -> Any:
    try:
        return pickle.loads(data)
    except Exception as e:  # whatever unpickling garbage raises
        raise Corrupt(f"a message that does not unpickle ({type(e).__name__}: {e})") from None


def send(fd: int, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEADER.pack(MARK, len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def _read_exactly(fd: int, n: int) -> bytes:
    parts = []
    while n:
        chunk = os.read(fd, n)
        if not chunk:
            raise EOFError("the other end closed the pipe")
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)


def receive(fd: int) -> Any:
    """One message, waiting for it (EOFError if the other end is gone, Corrupt if what
    came is not one)."""
    n = _length(*_HEADER.unpack(_read_exactly(fd, _HEADER.size)))
    return _loads(_read_exactly(fd, n))


class Reader:
    """The receiving end of a pipe read as its data comes (after select)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        # A bytearray: appended to in place. With bytes, each 64 KiB chunk of a large
        # message (a test that printed 50 MB) copied all before it: 12 s for 50 MB.
        self.buffer = bytearray()
        self.eof = False
        self.corrupt: str | None = None  # why the pipe is not read further

    def read(self) -> list[Any]:
        """The messages complete so far; sets .eof once the writers are all gone, and
        .corrupt (with .eof) at bytes that are not a message: those before are kept."""
        chunk = os.read(self.fd, 1 << 16)
        if not chunk:
            self.eof = True
        buffer = self.buffer
        buffer += chunk
        messages = []
        offset = 0
        with memoryview(buffer) as view:
            try:
                while len(buffer) - offset >= _HEADER.size:
                    n = _length(*_HEADER.unpack_from(buffer, offset))
                    end = offset + _HEADER.size + n
                    if len(buffer) < end:
                        break
                    messages.append(_loads(view[offset + _HEADER.size : end]))
                    offset = end
            except Corrupt as e:
                self.corrupt, self.eof, offset = str(e), True, len(buffer)
        del buffer[:offset]
        return messages
