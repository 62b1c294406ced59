"""Helpers for the signals suite: the kernel's sigset_t and struct sigaction.

The kernel's sigset_t is _NSIG (64) bits, one uint64_t on every 64-bit arch, passed
with sigsetsize 8. Its struct sigaction is not libc's: on x86_64 (and aarch64) it is
handler, flags, restorer, mask (arch/x86/include/uapi/asm/signal.h); the C headers'
`struct sigaction` is libc's layout, so it is spelt here as an anonymous struct rather
than as a cdef struct the layout check would compare against libc.

Installing a *handler* by raw rt_sigaction would need a restorer (SA_RESTORER on
x86_64), so tests install handlers with Python's signal module, in a child, and use
the raw calls to read and adjust what the kernel holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pytest

from syscalls.kernel import Kernel, Result

SIGSET_BYTES = 8
# The kernel's struct sigaction: three longs, then the 64-bit sigset (on i386 the mask
# is two 32-bit longs at offset 12, which uint64_t lays out the same).
KERNEL_SIGACTION = "struct { unsigned long handler, flags, restorer; uint64_t mask; } *"


def sigset(kernel: Kernel, signals: Iterable[int] = ()) -> Any:
    return kernel.new("uint64_t *", sum(1 << (s - 1) for s in set(signals)))


def members(mask: int) -> set[int]:
    return {s for s in range(1, 65) if mask >> (s - 1) & 1}


@dataclass
class Action:
    handler: int
    flags: int
    restorer: int
    mask: int


class Signals:
    """The raw signal calls of one kernel, with sigsets as Python sets."""

    Action = Action

    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel

    def ignore(self, flags: int = 0, mask: Iterable[int] = ()) -> Action:
        """SIG_IGN with these flags and mask, for installing."""
        return Action(self.k.SIG_IGN, flags, 0, sigset(self.k, mask)[0])

    def default(self, flags: int = 0, mask: Iterable[int] = ()) -> Action:
        return Action(self.k.SIG_DFL, flags, 0, sigset(self.k, mask)[0])

    def procmask(self, how: int, signals: Iterable[int] | None) -> tuple[Result, set[int]]:
        old = sigset(self.k)
        new = None if signals is None else sigset(self.k, signals)
        r = self.k.rt_sigprocmask(how, new, old, SIGSET_BYTES)
        return r, members(old[0])

    def blocked(self) -> set[int]:
        return self.procmask(self.k.SIG_BLOCK, None)[1]

    def block(self, *signals: int) -> None:
        self.procmask(self.k.SIG_BLOCK, signals)[0].unwrap()

    def pending(self) -> set[int]:
        out = sigset(self.k)
        self.k.rt_sigpending(out, SIGSET_BYTES).unwrap()
        return members(out[0])

    def action(self, sig: int, new: Action | None = None) -> tuple[Result, Action]:
        """rt_sigaction: install `new` (if given); the previous action."""
        if self.k.platform.arch not in ("x86_64", "aarch64", "i386"):
            pytest.skip("struct sigaction is spelt here for x86_64, aarch64 and i386 only")
        old = self.k.new(KERNEL_SIGACTION)
        act = None
        if new is not None:
            act = self.k.new(KERNEL_SIGACTION, [new.handler, new.flags, new.restorer, new.mask])
        r = self.k.rt_sigaction(sig, act, old, SIGSET_BYTES)
        return r, Action(old.handler, old.flags, old.restorer, old.mask)

    def timedwait(self, signals: Iterable[int], timeout_ns: int | None = 0) -> tuple[Result, Any]:
        """rt_sigtimedwait for these signals: (result, siginfo). None waits forever."""
        info = self.k.new("siginfo_t *")
        ts = None
        if timeout_ns is not None:
            ts = self.k.new("struct timespec *", divmod(timeout_ns, 1_000_000_000))
        return self.k.rt_sigtimedwait(sigset(self.k, signals), info, ts, SIGSET_BYTES), info


@pytest.fixture
def sigs(kernel: Kernel) -> Signals:
    return Signals(kernel)
