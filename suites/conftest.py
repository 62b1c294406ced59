"""Fixtures every suite area shares: `fds` (syscalls.fds.Fds), closed at teardown, and
`bad_memory` (syscalls.badmem.BadMemory), addresses for EFAULT tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from syscalls.badmem import BadMemory
from syscalls.fds import Fds
from syscalls.kernel import Kernel


@pytest.fixture
def fds(kernel: Kernel) -> Iterator[Fds]:
    holder = Fds(kernel)
    try:
        yield holder
    finally:
        holder.close_all()


@pytest.fixture
def bad_memory(kernel: Kernel) -> Iterator[BadMemory]:
    """Addresses for EFAULT tests (syscalls.badmem); its pages are unmapped at teardown."""
    bad = BadMemory(kernel)
    try:
        yield bad
    finally:
        bad.close()
