"""Fds: the descriptors a test opened, closed at teardown whatever the test did.

The suites' `fds` fixture (suites/conftest.py) hands one to each test. Teardown closes
with Kernel.close_quietly, so it is not recorded among the test's observations.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from syscalls.kernel import Kernel, Result


def make_fifo(kernel: Kernel, path: str | os.PathLike[str]) -> None:
    """A FIFO at path, made by the kernel's own call: mkfifo where it has one (the BSDs,
    whose mknod makes no FIFOs), mknodat(S_IFIFO) where it has not (Linux)."""
    with kernel.unobserved():
        if kernel.has("mkfifo"):
            kernel.mkfifo(path, 0o600).unwrap()
        else:
            kernel.mknodat(kernel.AT_FDCWD, path, kernel.S_IFIFO | 0o600, 0).unwrap()


def iovecs(kernel: Kernel, *chunks: bytes | int) -> tuple[Any, list[Any]]:
    """A struct iovec array over fresh buffers, one per chunk: bytes give a buffer's
    contents, an int a zeroed buffer of that size. Returns (array, buffers); both must
    stay alive while the kernel may use them."""
    bufs = [kernel.buf(c) for c in chunks]
    iov = kernel.new(f"struct iovec[{len(chunks)}]")
    for i, (c, b) in enumerate(zip(chunks, bufs, strict=True)):
        iov[i].iov_base = b
        iov[i].iov_len = c if isinstance(c, int) else len(c)
    return iov, bufs


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

    def socketpair(self, kind: int | None = None) -> tuple[int, int]:
        """AF_UNIX socketpair (SOCK_STREAM by default)."""
        k = self.kernel
        pair = k.new("int[2]")
        k.socketpair(k.AF_UNIX, k.SOCK_STREAM if kind is None else kind, 0, pair).unwrap()
        self.held += [pair[0], pair[1]]
        return pair[0], pair[1]

    def close_all(self) -> None:
        for fd in self.held:
            self.kernel.close_quietly(fd)
        self.held.clear()
