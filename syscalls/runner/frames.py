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
        self.buffer = b""
        self.eof = False

    def read(self) -> list[Any]:
        """The messages complete so far; sets .eof once the writers are all gone."""
        chunk = os.read(self.fd, 1 << 16)
        if not chunk:
            self.eof = True
        self.buffer += chunk
        messages = []
        offset = 0
        while len(self.buffer) - offset >= _LENGTH.size:
            (n,) = _LENGTH.unpack_from(self.buffer, offset)
            end = offset + _LENGTH.size + n
            if len(self.buffer) < end:
                break
            messages.append(pickle.loads(self.buffer[offset + _LENGTH.size : end]))
            offset = end
        self.buffer = self.buffer[offset:]
        return messages
