"""Fixtures every suite area shares: `fds` (syscalls.fds.Fds), closed at teardown, and
`bits(spec)`: the value of constants named as in C, "PROT_READ|PROT_WRITE" or
"O_TMPFILE&~O_DIRECTORY|O_RDWR" ("" is 0), for parameters that read as the flags, and
`bad_memory` (syscalls.badmem.BadMemory), addresses for EFAULT tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

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
def bits(kernel: Kernel) -> Callable[[str], int]:
    def value(spec: str) -> int:
        total = 0
        for part in filter(None, spec.split("|")):
            name, _, without = part.partition("&~")
            total |= getattr(kernel, name) & ~(getattr(kernel, without) if without else 0)
        return total

    return value


@pytest.fixture
def bad_memory(kernel: Kernel) -> Iterator[BadMemory]:
    """Addresses for EFAULT tests (syscalls.badmem); its pages are unmapped at teardown."""
    bad = BadMemory(kernel)
    try:
        yield bad
    finally:
        bad.close()
