"""rt_sigprocmask(2) and rt_sigpending(2): the thread's blocked set, and signals held
pending while blocked. The mask is per thread, so every change happens in a child."""

import os
import signal

import pytest

from syscalls import forking
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

USR1, USR2, HUP = signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP


def test_rt_sigprocmask_block_adds_and_returns_old_mask(kernel: Kernel, sigs, in_child) -> None:
    def run() -> tuple[set[int], set[int]]:
        sigs.procmask(kernel.SIG_SETMASK, {HUP})[0].unwrap()
        r, old = sigs.procmask(kernel.SIG_BLOCK, {USR1})
        r.unwrap()
        return old, sigs.blocked()

    old, now = in_child(run)
    assert old == {HUP}
    assert now == {HUP, USR1}


def test_rt_sigprocmask_unblock_removes_only_those(kernel: Kernel, sigs, in_child) -> None:
    def run() -> set[int]:
        sigs.procmask(kernel.SIG_SETMASK, {HUP, USR1, USR2})[0].unwrap()
        sigs.procmask(kernel.SIG_UNBLOCK, {USR1})[0].unwrap()
        return sigs.blocked()

    assert in_child(run) == {HUP, USR2}


def test_rt_sigprocmask_setmask_replaces_the_mask(kernel: Kernel, sigs, in_child) -> None:
    def run() -> set[int]:
        sigs.procmask(kernel.SIG_SETMASK, {HUP, USR1})[0].unwrap()
        sigs.procmask(kernel.SIG_SETMASK, {USR2})[0].unwrap()
        return sigs.blocked()

    assert in_child(run) == {USR2}


def test_rt_sigprocmask_silently_refuses_to_block_sigkill_and_sigstop(
    kernel: Kernel, sigs, in_child
) -> None:
    def run() -> tuple[str, set[int]]:
        r, _ = sigs.procmask(kernel.SIG_SETMASK, {signal.SIGKILL, signal.SIGSTOP, USR1})
        return r.outcome, sigs.blocked()

    assert in_child(run) == ("ok", {USR1})


def test_rt_sigprocmask_unknown_how_is_einval(kernel: Kernel, sigs) -> None:
    assert sigs.procmask(7, {USR1})[0].errno == "EINVAL"


def test_rt_sigprocmask_wrong_sigset_size_is_einval(kernel: Kernel) -> None:
    old = kernel.new("uint64_t *")
    assert kernel.rt_sigprocmask(kernel.SIG_BLOCK, None, old, 4).errno == "EINVAL"


def test_blocked_signal_stays_pending_until_unblocked(kernel: Kernel, sigs, in_child) -> None:
    def run() -> tuple[int, set[int], int, set[int]]:
        hits: list[int] = []
        signal.signal(USR1, lambda *_: hits.append(1))
        sigs.block(USR1)
        kernel.kill(os.getpid(), USR1).unwrap()
        before, pending = len(hits), sigs.pending()
        sigs.procmask(kernel.SIG_UNBLOCK, {USR1})[0].unwrap()  # delivered on the way out
        return before, pending, len(hits), sigs.pending()

    before, pending, after, left = in_child(run)
    assert (before, after) == (0, 1)
    assert USR1 in pending
    assert USR1 not in left


def test_blocked_fatal_signal_kills_only_once_unblocked(kernel: Kernel, sigs, in_child) -> None:
    def run() -> int:
        def child() -> int:
            sigs.block(signal.SIGTERM)
            kernel.kill(os.getpid(), signal.SIGTERM).unwrap()
            sigs.procmask(kernel.SIG_UNBLOCK, {signal.SIGTERM})
            return 3  # not reached if the signal was delivered

        status = forking.wait(kernel, forking.fork(kernel, child))
        return os.WTERMSIG(status) if os.WIFSIGNALED(status) else -os.WEXITSTATUS(status)

    assert in_child(run) == signal.SIGTERM


def test_ignored_signal_sent_while_blocked_is_pending(kernel: Kernel, sigs, in_child) -> None:
    """A blocked signal is queued even if ignored: the disposition may change before it
    is unblocked. Unblocking with the signal still ignored discards it."""

    def run() -> tuple[set[int], set[int]]:
        signal.signal(USR2, signal.SIG_IGN)
        sigs.block(USR2)
        kernel.kill(os.getpid(), USR2).unwrap()
        pending = sigs.pending()
        sigs.procmask(kernel.SIG_UNBLOCK, {USR2})[0].unwrap()
        return pending, sigs.pending()

    pending, left = in_child(run)
    assert USR2 in pending
    assert USR2 not in left


def test_signal_mask_is_inherited_by_fork(kernel: Kernel, sigs, in_child) -> None:
    def run() -> int:
        sigs.block(USR1, HUP)
        pid = forking.fork(kernel, lambda: 0 if {USR1, HUP} <= sigs.blocked() else 1)
        return forking.exit_code(kernel, pid)

    assert in_child(run) == 0


def test_rt_sigpending_of_a_fresh_child_is_empty(kernel: Kernel, sigs, in_child) -> None:
    assert in_child(sigs.pending) == set()


def test_rt_sigpending_lists_a_blocked_realtime_signal_too(kernel: Kernel, sigs, in_child) -> None:
    rt = signal.SIGRTMIN + 2

    def run() -> set[int]:
        sigs.block(rt)
        kernel.kill(os.getpid(), rt).unwrap()
        return sigs.pending()

    assert in_child(run) == {rt}


def test_rt_sigpending_size_larger_than_the_kernels_sigset_is_einval(kernel: Kernel) -> None:
    out = kernel.new("uint64_t[2]")
    assert kernel.rt_sigpending(out, 16).errno == "EINVAL"


def test_rt_sigpending_smaller_size_copies_only_that_much(kernel: Kernel, sigs, in_child) -> None:
    """The kernel copies sigsetsize bytes (kernel/signal.c: rt_sigpending): with 4, the
    first 32 signals' bits, and nothing of the real-time one at bit 35."""
    rt = signal.SIGRTMIN + 2

    def run() -> tuple[int, int]:
        sigs.block(USR1, rt)
        kernel.kill(os.getpid(), USR1).unwrap()
        kernel.kill(os.getpid(), rt).unwrap()
        out = kernel.new("uint32_t[2]", [0, 0xFFFFFFFF])
        kernel.rt_sigpending(out, 4).unwrap()
        return int(out[0]), int(out[1])

    low, high = in_child(run)
    assert low == 1 << (USR1 - 1)
    assert high == 0xFFFFFFFF  # untouched


@pytest.mark.requires("fault_handler")
def test_rt_sigpending_into_a_bad_address_is_efault(kernel: Kernel) -> None:
    assert kernel.rt_sigpending(8, 8).errno == "EFAULT"


def test_rt_sigprocmask_without_a_new_set_ignores_how(kernel: Kernel, sigs, in_child) -> None:
    """`how` is looked at only when a new set is given (kernel/signal.c: rt_sigprocmask):
    a query with an unknown how succeeds and changes nothing."""

    def run() -> tuple[str, set[int], set[int]]:
        sigs.block(USR1)
        r, old = sigs.procmask(7, None)
        return r.outcome, old, sigs.blocked()

    assert in_child(run) == ("ok", {USR1}, {USR1})


def test_rt_sigprocmask_block_drops_sigkill_and_sigstop(kernel: Kernel, sigs, in_child) -> None:
    def run() -> set[int]:
        sigs.procmask(kernel.SIG_BLOCK, {signal.SIGKILL, signal.SIGSTOP, USR2})[0].unwrap()
        return sigs.blocked()

    assert in_child(run) == {USR2}


def test_rt_sigprocmask_blocks_the_highest_signal(kernel: Kernel, sigs, in_child) -> None:
    def run() -> set[int]:
        sigs.procmask(kernel.SIG_SETMASK, {64, 1})[0].unwrap()
        return sigs.blocked()

    assert in_child(run) == {1, 64}
