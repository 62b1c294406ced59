"""rt_sigaction(2): dispositions as the kernel holds them, read back through the old
action; SIGKILL and SIGSTOP cannot be caught or ignored. Changes happen in a child."""

import os
import signal

import pytest

from syscalls import forking
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

SA_UNSUPPORTED = 0x00000400  # asm-generic/signal-defs.h: a bit no kernel accepts


@pytest.mark.smoke
def test_rt_sigaction_ignore_is_returned_as_the_old_action(kernel: Kernel, sigs, in_child) -> None:
    def run() -> tuple[int, int]:
        sigs.action(signal.SIGUSR1, sigs.ignore())[0].unwrap()
        r, old = sigs.action(signal.SIGUSR1)  # query only
        r.unwrap()
        return old.handler, sigs.action(signal.SIGUSR1, sigs.default())[1].handler

    query, replaced = in_child(run)
    assert query == kernel.SIG_IGN
    assert replaced == kernel.SIG_IGN


@pytest.mark.smoke
def test_rt_sigaction_default_is_restored(kernel: Kernel, sigs, in_child) -> None:
    def run() -> int:
        sigs.action(signal.SIGUSR2, sigs.ignore())[0].unwrap()
        sigs.action(signal.SIGUSR2, sigs.default())[0].unwrap()
        return sigs.action(signal.SIGUSR2)[1].handler

    assert in_child(run) == kernel.SIG_DFL


@pytest.mark.smoke
def test_rt_sigaction_mask_is_kept_without_sigkill_and_sigstop(
    kernel: Kernel, sigs, in_child
) -> None:
    wanted = {signal.SIGHUP, signal.SIGUSR2, signal.SIGKILL, signal.SIGSTOP}

    def run() -> int:
        sigs.action(signal.SIGUSR1, sigs.ignore(mask=wanted))[0].unwrap()
        return sigs.action(signal.SIGUSR1)[1].mask

    mask = in_child(run)
    assert mask == sum(1 << (s - 1) for s in (signal.SIGHUP, signal.SIGUSR2))


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSTOP])
@pytest.mark.smoke
def test_rt_sigaction_changing_sigkill_or_sigstop_is_einval(
    kernel: Kernel, sigs, in_child, sig: int
) -> None:
    assert in_child(lambda: sigs.action(sig, sigs.ignore())[0].outcome) == "EINVAL"


@pytest.mark.smoke
def test_rt_sigaction_query_of_sigkill_shows_the_default(kernel: Kernel, sigs) -> None:
    r, old = sigs.action(signal.SIGKILL)
    r.unwrap()
    assert old.handler == kernel.SIG_DFL


@pytest.mark.parametrize("sig", [0, 65])
@pytest.mark.smoke
def test_rt_sigaction_signal_out_of_range_is_einval(kernel: Kernel, sigs, sig: int) -> None:
    assert sigs.action(sig)[0].errno == "EINVAL"


@pytest.mark.smoke
def test_rt_sigaction_wrong_sigset_size_is_einval(kernel: Kernel) -> None:
    old = kernel.new("unsigned long[4]")
    assert kernel.rt_sigaction(signal.SIGUSR1, None, old, 4).errno == "EINVAL"


@pytest.mark.min_kernel("5.11")
@pytest.mark.smoke
def test_rt_sigaction_drops_flag_bits_it_does_not_know(kernel: Kernel, sigs, in_child) -> None:
    def run() -> int:
        flags = kernel.SA_RESTART | SA_UNSUPPORTED
        sigs.action(signal.SIGUSR1, sigs.ignore(flags=flags))[0].unwrap()
        return sigs.action(signal.SIGUSR1)[1].flags

    flags = in_child(run)
    assert flags & kernel.SA_RESTART
    assert not flags & SA_UNSUPPORTED


@pytest.mark.smoke
def test_rt_sigaction_ignored_disposition_is_inherited_by_fork(
    kernel: Kernel, sigs, in_child
) -> None:
    def run() -> int:
        sigs.action(signal.SIGUSR1, sigs.ignore())[0].unwrap()
        pid = forking.fork(kernel, lambda: os.kill(os.getpid(), signal.SIGUSR1))
        return forking.exit_code(kernel, pid)  # alive to exit 0 only if still ignored

    assert in_child(run) == 0


@pytest.mark.smoke
def test_rt_sigaction_resethand_restores_default_after_one_delivery(
    kernel: Kernel, sigs, in_child
) -> None:
    """Python installs the handler (with libc's restorer); the raw call adds SA_RESETHAND."""

    def run() -> tuple[int, int, int]:
        hits: list[int] = []
        signal.signal(signal.SIGUSR1, lambda *_: hits.append(1))
        _, python = sigs.action(signal.SIGUSR1)
        python.flags |= kernel.SA_RESETHAND
        sigs.action(signal.SIGUSR1, python)[0].unwrap()
        kernel.kill(os.getpid(), signal.SIGUSR1).unwrap()
        after = sigs.action(signal.SIGUSR1)[1].handler
        return python.handler, len(hits), after

    installed, hits, after = in_child(run)
    assert installed not in (kernel.SIG_DFL, kernel.SIG_IGN)
    assert hits == 1
    assert after == kernel.SIG_DFL


def test_rt_sigaction_highest_signal_number_is_valid(kernel: Kernel, sigs, in_child) -> None:
    """Signals run 1.._NSIG inclusive: 64 may be given a disposition."""

    def run() -> tuple[str, int]:
        r, _ = sigs.action(64, sigs.ignore())
        return r.outcome, sigs.action(64)[1].handler

    assert in_child(run) == ("ok", kernel.SIG_IGN)


def test_rt_sigaction_ignoring_discards_the_pending_signal(kernel: Kernel, sigs, in_child) -> None:
    """POSIX: setting SIG_IGN for a pending signal discards it, blocked or not
    (kernel/signal.c: do_sigaction flushes it from the queues)."""

    def run() -> tuple[bool, set[int]]:
        sigs.block(signal.SIGUSR1)
        kernel.kill(os.getpid(), signal.SIGUSR1).unwrap()
        before = signal.SIGUSR1 in sigs.pending()
        sigs.action(signal.SIGUSR1, sigs.ignore())[0].unwrap()
        return before, sigs.pending()

    assert in_child(run) == (True, set())


def test_rt_sigaction_default_of_an_ignored_by_default_signal_discards_it(
    kernel: Kernel, sigs, in_child
) -> None:
    """SIG_DFL for SIGWINCH means ignore, so installing it discards a pending SIGWINCH."""

    def run() -> tuple[bool, set[int]]:
        sigs.block(signal.SIGWINCH)
        kernel.kill(os.getpid(), signal.SIGWINCH).unwrap()
        before = signal.SIGWINCH in sigs.pending()
        sigs.action(signal.SIGWINCH, sigs.default())[0].unwrap()
        return before, sigs.pending()

    assert in_child(run) == (True, set())


def test_rt_sigaction_default_of_a_fatal_signal_keeps_it_pending(
    kernel: Kernel, sigs, in_child
) -> None:
    def run() -> set[int]:
        sigs.action(signal.SIGUSR1, sigs.ignore())[0].unwrap()
        sigs.block(signal.SIGUSR1)
        kernel.kill(os.getpid(), signal.SIGUSR1).unwrap()  # blocked: queued though ignored
        sigs.action(signal.SIGUSR1, sigs.default())[0].unwrap()
        return sigs.pending()

    assert in_child(run) == {signal.SIGUSR1}
