"""Fixtures every suite area shares: `fds` (syscalls.fds.Fds), closed at teardown, and
`bits(spec)`: the value of constants named as in C, "PROT_READ|PROT_WRITE" or
"O_TMPFILE&~O_DIRECTORY|O_RDWR" ("" is 0), for parameters that read as the flags, and
`bad_memory` (syscalls.badmem.BadMemory), addresses for EFAULT tests, and
`anothers_process()`: the pid of a process of another user (init's)."""

from __future__ import annotations

import os
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


@pytest.fixture
def anothers_process() -> Callable[[], int]:
    """anothers_process(): pid 1, init, when another user than the caller runs it (called
    in the test's body: an as_user test's runs as nobody); skips where it is the caller's
    own (a container of the user's). A test that asks something of it as a user asks
    for what would change nothing were it granted: init's own affinity, nice value ..."""

    def find() -> int:
        try:
            theirs = os.stat("/proc/1").st_uid != os.geteuid()
        except OSError as e:
            pytest.skip(f"/proc/1 cannot be seen ({e.strerror}): no process of another user")
        if not theirs:
            pytest.skip("pid 1 is the caller's own here: no process of another user")
        return 1

    return find
