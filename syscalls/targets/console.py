"""The target's console, copied to console.log and the terminal, within bounds.

The console is the kernel under test's: one that prints in a loop (a WARN on every
syscall, a printk storm) would fill the host's disk through console.log and the user's
terminal until the run's overall limit. Past LIMIT bytes each copy keeps only its last
TAIL bytes, written when the run ends after a line that says how much was left out.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

LIMIT = 64 << 20  # bytes copied as they come
TAIL = 1 << 20  # and the last of what came after


class Bounded:
    """One copy of the console: a file, or the terminal (`limit`, `tail` in bytes)."""

    def __init__(self, out: BinaryIO, limit: int | None = None, tail: int | None = None) -> None:
        self.out = out
        self.limit = LIMIT if limit is None else limit
        self.tail_size = TAIL if tail is None else tail
        self.written = 0
        self.dropped = 0  # bytes past the limit, not in `tail`
        self.tail = bytearray()

    def write(self, chunk: bytes) -> None:
        room = max(0, self.limit - self.written)
        if room:
            head = chunk[:room]
            self.out.write(head)
            self.out.flush()
            self.written += len(head)
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            excess = len(self.tail) - self.tail_size
            if excess > 0:
                del self.tail[:excess]
                self.dropped += excess

    def finish(self) -> None:
        """What came past the limit: how much was left out, then its last part."""
        if self.dropped or self.tail:
            self.out.write(
                f"\n[syscalls: console output past {self.limit} bytes: {self.dropped} "
                f"bytes left out; the last {len(self.tail)} follow]\n".encode()
            )
            self.out.write(bytes(self.tail))
            self.out.flush()
            self.tail.clear()


@contextlib.contextmanager
def copies(log: Path, terminal: BinaryIO) -> Iterator[tuple[Bounded, Bounded]]:
    """The console's two copies, console.log (appended to) and the terminal; what came
    past the limit is written as they close, however the run ended."""
    with log.open("ab") as f:
        to_log, to_terminal = Bounded(f), Bounded(terminal)
        try:
            yield to_log, to_terminal
        finally:
            to_log.finish()
            to_terminal.finish()
