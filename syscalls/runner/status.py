"""One worker's status (forked or xdist's), for the watchdog in the controller: which
test it runs, since when, and with what limit.

Each worker owns one small file in the run's status directory and rewrites it in place
(one pwrite) when a test starts and when it ends; the controller reads it whenever it
likes. A record carries a CRC, so a read that raced a write is recognised and retried
on the next look instead of being believed. Times are CLOCK_MONOTONIC, the same clock in
every process of the machine.
"""

from __future__ import annotations

import contextlib
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from syscalls import processes
from syscalls.runner.highfd import out_of_the_way

# magic, pid, seq, tests ended, start, limit, what the name is, length of the name
_HEAD = struct.Struct("<IqqqddBI")
_CRC = struct.Struct("<I")
MAGIC = 0x5359_5332  # "SYS2"
MAX_NODEID = 8192  # longer nodeids are cut (the record stays one small write)
_TEST, _MODULE, _ENDED = 0, 1, 2  # what the record's name is


@dataclass(frozen=True)
class Status:
    pid: int
    seq: int  # bumped by every write: the same seq twice is the same moment
    nodeid: str  # "" between tests
    start: float  # time.monotonic() when the test (or the module's import) started
    limit: float  # seconds it may take (0: no limit)
    ended: int = 0  # tests its worker has ended so far
    module: str = ""  # the test module its worker imports now (an xdist worker collects)
    last: str = ""  # between tests, the nodeid of the test that has just ended


class StatusWriter:
    """The worker's side: start(nodeid, limit), ended(nodeid) and idle(), a few
    microseconds each."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seq = 0
        self.ended_tests = 0
        self.pid = processes.own_pid()  # the writer's, for xdist's workers (watchdog)
        # above the tests' range, as the runner's other descriptors (highfd)
        self.fd = out_of_the_way(
            os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        )
        self.idle()

    def start(self, nodeid: str, limit: float, now: float) -> None:
        self._write(nodeid.encode(errors="replace")[:MAX_NODEID], now, limit)

    def collecting(self, module: str, limit: float, now: float) -> None:
        self._write(module.encode(errors="replace")[:MAX_NODEID], now, limit, _MODULE)

    def idle(self) -> None:
        self._write(b"", 0.0, 0.0)

    def ended(self, nodeid: str) -> None:
        """Test `nodeid` has just ended: between tests, one more ended."""
        self.ended_tests += 1
        self._write(nodeid.encode(errors="replace")[:MAX_NODEID], 0.0, 0.0, _ENDED)

    def _write(self, name: bytes, start: float, limit: float, kind: int = _TEST) -> None:
        self.seq += 1
        head = (MAGIC, self.pid, self.seq, self.ended_tests, start, limit, kind, len(name))
        body = _HEAD.pack(*head) + name
        data = body + _CRC.pack(zlib.crc32(body))
        try:
            os.pwrite(self.fd, data, 0)
        except OSError:  # a test closed our fd (close_range in-process): open it again
            self.fd = out_of_the_way(
                os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            )
            os.pwrite(self.fd, data, 0)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


def read_status(path: Path) -> Status | None:
    """The last complete record, or None (no file yet, or a write in progress)."""
    try:
        with open(path, "rb") as f:
            data = f.read(_HEAD.size + MAX_NODEID + _CRC.size)
    except OSError:
        return None
    if len(data) < _HEAD.size + _CRC.size:
        return None
    magic, pid, seq, ended, start, limit, kind, n = _HEAD.unpack_from(data)
    end = _HEAD.size + n
    if magic != MAGIC or n > MAX_NODEID or len(data) < end + _CRC.size:
        return None
    if _CRC.unpack_from(data, end)[0] != zlib.crc32(data[:end]):
        return None
    name = data[_HEAD.size : end].decode(errors="replace")
    if kind == _MODULE:
        return Status(pid, seq, "", start, limit, ended, module=name)
    if kind == _ENDED:
        return Status(pid, seq, "", start, limit, ended, last=name)
    return Status(pid, seq, name, start, limit, ended)


# The directory of a run's status records: made by its controller, in the directory
# that $SYSCALLS_STATUS_BASE names (`syscalls run`'s own) or else in the temporary one
STATUS_PREFIX = "syscalls-runner-"
STATUS_BASE = "SYSCALLS_STATUS_BASE"


def running_in(base: Path) -> list[str]:
    """The tests the workers whose records are under `base` were in when they last
    wrote (their controller gone: nobody reads them any more)."""
    found = []
    for directory in sorted(base.glob(f"{STATUS_PREFIX}*")):
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            status = read_status(path) if path.is_file() else None
            if status is not None and status.nodeid:
                found.append(status.nodeid)
    return found
