"""Fixtures for the fs suite: fds closed after the test, constants the table lacks.

`fds` opens and registers descriptors; whatever a test leaves open is closed in teardown
(with os.close, so the teardown is not recorded as the test's observation).
`const.NAME` is kernel.NAME, or, where the generated Linux table does not carry the
name yet, the Linux uapi value listed below (facts from the headers named).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from syscalls.kernel import Kernel, Result

# Values from Linux's headers, used only when the platform table lacks the name.
_LINUX_FALLBACK = {
    # include/uapi/asm-generic/fcntl.h
    "LOCK_SH": 1,
    "LOCK_EX": 2,
    "LOCK_NB": 4,
    "LOCK_UN": 8,
    # include/linux/fs_types.h (dirent types; same numbers as BSD's <dirent.h>)
    "DT_UNKNOWN": 0,
    "DT_FIFO": 1,
    "DT_DIR": 4,
    "DT_REG": 8,
    "DT_LNK": 10,
    # include/linux/stat.h
    "UTIME_NOW": (1 << 30) - 1,
    "UTIME_OMIT": (1 << 30) - 2,
    # include/linux/fs.h MAY_* as access(2) takes them (POSIX <unistd.h> values)
    "F_OK": 0,
    "X_OK": 1,
    "W_OK": 2,
    "R_OK": 4,
    # include/linux/splice.h
    "SPLICE_F_MOVE": 1,
    "SPLICE_F_NONBLOCK": 2,
    "SPLICE_F_MORE": 4,
    # include/uapi/linux/fs.h
    "SYNC_FILE_RANGE_WAIT_BEFORE": 1,
    "SYNC_FILE_RANGE_WRITE": 2,
    "SYNC_FILE_RANGE_WAIT_AFTER": 4,
    "RWF_HIPRI": 0x1,
    "RWF_DSYNC": 0x2,
    "RWF_SYNC": 0x4,
    "RWF_NOWAIT": 0x8,
    "RWF_APPEND": 0x10,
    # include/uapi/linux/magic.h
    "PIPEFS_MAGIC": 0x50495045,
}


class Constants:
    """kernel.NAME, else the Linux header value above, else a skip naming the constant."""

    def __init__(self, kernel: Kernel) -> None:
        self._kernel = kernel

    def __getattr__(self, name: str) -> int:
        p = self._kernel.platform
        if name in p.constants:
            return p.constants[name]
        if p.os == "linux" and name in _LINUX_FALLBACK:
            return _LINUX_FALLBACK[name]
        pytest.skip(f"{name} is not in the {p.name} table")


class Fds:
    """Descriptors a test opened; those still open at teardown are closed."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.held: list[int] = []

    def __call__(self, r: Result) -> int:
        """Unwrap an fd-returning call and keep the fd for teardown."""
        fd = r.unwrap()
        self.held.append(fd)
        return fd

    def close(self, fd: int) -> Result:
        """Close through the kernel (recorded) and forget the fd."""
        self.held.remove(fd)
        return self.kernel.close(fd)

    def open(self, path: Path | str, flags: int, mode: int = 0o600) -> int:
        return self(self.kernel.openat(self.kernel.AT_FDCWD, path, flags, mode))

    def file(self, path: Path, data: bytes = b"", flags: int | None = None) -> int:
        """Create `path` holding `data` (untraced), then open it (O_RDWR by default)."""
        path.write_bytes(data)
        return self.open(path, self.kernel.O_RDWR if flags is None else flags)

    def pipe(self, flags: int = 0) -> tuple[int, int]:
        """pipe2(): (read end, write end)."""
        pair = self.kernel.new("int[2]")
        self.kernel.pipe2(pair, flags).unwrap()
        self.held += [pair[0], pair[1]]
        return pair[0], pair[1]

    def close_all(self) -> None:
        for fd in self.held:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.held.clear()


@pytest.fixture
def fds(kernel: Kernel) -> Iterator[Fds]:
    holder = Fds(kernel)
    try:
        yield holder
    finally:
        holder.close_all()


@pytest.fixture
def const(kernel: Kernel) -> Any:
    return Constants(kernel)
