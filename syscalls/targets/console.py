"""The target's console, copied to console.log and the terminal, within bounds.

The console is the kernel under test's: one that prints in a loop (a WARN on every
syscall, a printk storm) would fill the host's disk through console.log and the user's
terminal until the run's overall limit. Past LIMIT bytes each copy keeps only its last
TAIL bytes, written when the run ends after a line that says how much was left out.

What reaches the terminal is made printable (Printable): the console carries what the
guest's kernel and tests print, names a kernel gave among them, and an escape sequence
there would move the cursor, clear the screen, retitle the window or, after a carriage
return, write over the results line. console.log keeps the bytes as they came.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol


class Sink(Protocol):
    """Where a copy goes: a file opened in binary, the terminal's buffer, Printable."""

    def write(self, data: bytes, /) -> int | None: ...

    def flush(self) -> None: ...


LIMIT = 64 << 20  # bytes copied as they come
TAIL = 1 << 20  # and the last of what came after


class Bounded:
    """One copy of the console: a file, or the terminal (`limit`, `tail` in bytes)."""

    def __init__(self, out: Sink, limit: int | None = None, tail: int | None = None) -> None:
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


# C0 controls but tab and newline, DEL, and the C1 controls as UTF-8 writes them
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\xc2[\x80-\x9f]")


def printable(data: bytes) -> bytes:
    """`data` with carriage returns dropped (the serial console ends its lines with
    them) and every other control character but tab and newline escaped (\\x1b)."""
    escaped = _CONTROL.sub(lambda m: b"".join(b"\\x%02x" % c for c in m.group()), data)
    return escaped.replace(b"\r", b"")


class Printable:
    """A sink for the terminal that writes printable(data) on to `out` (a first byte of
    UTF-8's two that may be a C1 control, held until the next write)."""

    def __init__(self, out: Sink) -> None:
        self.out = out
        self.held = b""

    def write(self, data: bytes, /) -> int:
        whole = self.held + data
        cut = len(whole) - 1 if whole.endswith(b"\xc2") else len(whole)
        self.out.write(printable(whole[:cut]))
        self.held = whole[cut:]
        return len(data)

    def flush(self) -> None:
        self.out.flush()


@contextlib.contextmanager
def copies(log: Path, terminal: Sink) -> Iterator[tuple[Bounded, Bounded]]:
    """The console's two copies, console.log (appended to) and the terminal; what came
    past the limit is written as they close, however the run ended."""
    with log.open("ab") as f:
        to_log, to_terminal = Bounded(f), Bounded(Printable(terminal))
        try:
            yield to_log, to_terminal
        finally:
            to_log.finish()
            to_terminal.finish()
