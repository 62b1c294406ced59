"""Fixtures every suite area shares: `fds` (syscalls.fds.Fds), closed at teardown."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from syscalls.fds import Fds
from syscalls.kernel import Kernel


@pytest.fixture
def fds(kernel: Kernel) -> Iterator[Fds]:
    holder = Fds(kernel)
    try:
        yield holder
    finally:
        holder.close_all()
