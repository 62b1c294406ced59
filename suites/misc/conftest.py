"""Fixtures for the misc suite: descriptors closed after the test.

`fds` registers what a test opens (pipes and files);
whatever is still open at teardown is closed with os.close, so the teardown is
not recorded as the test's observation.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest

from syscalls.kernel import Kernel, Result


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
