"""Messages between the controller and its forked workers (syscalls.runner.pool): each a
pickled object prefixed by its length, over a pipe. Both ends are the same program, forked
from one process, so pickle is safe here: nothing else writes to these pipes."""

from __future__ import annotations

import os
import pickle
import struct
from typing import Any

_LENGTH = struct.Struct("<I")


def send(fd: int, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_LENGTH.pack(len(data)) + data)
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
    """One message, waiting for it (EOFError if the other end is gone)."""
    (n,) = _LENGTH.unpack(_read_exactly(fd, _LENGTH.size))
    return pickle.loads(_read_exactly(fd, n))


class Reader:
    """The receiving end of a pipe read as its data comes (after select)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        # A bytearray: appended to in place. With bytes, each 64 KiB chunk of a large
        # message (a test that printed 50 MB) copied all before it: 12 s for 50 MB.
        self.buffer = bytearray()
        self.eof = False

    def read(self) -> list[Any]:
        """The messages complete so far; sets .eof once the writers are all gone."""
        chunk = os.read(self.fd, 1 << 16)
        if not chunk:
            self.eof = True
        buffer = self.buffer
        buffer += chunk
        messages = []
        offset = 0
        with memoryview(buffer) as view:
            while len(buffer) - offset >= _LENGTH.size:
                (n,) = _LENGTH.unpack_from(buffer, offset)
                end = offset + _LENGTH.size + n
                if len(buffer) < end:
                    break
                messages.append(pickle.loads(view[offset + _LENGTH.size : end]))
                offset = end
        del buffer[:offset]
        return messages
