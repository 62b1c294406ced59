"""rt_sigtimedwait(2), rt_sigqueueinfo(2), rt_tgsigqueueinfo(2): taking blocked signals
synchronously with their siginfo.

Standard signals coalesce while pending; real-time signals queue one instance per send.
si_value of a queued signal sits at offset 24 of siginfo_t on 64-bit arches
(asm-generic/siginfo.h, _rt: pid, uid, sigval), read here through si_status's slot.
"""

import os
import signal
import time

import pytest

from syscalls import forking, procstate
from syscalls.kernel import Kernel
from syscalls.threads import Waiter

pytestmark = pytest.mark.os("linux")

USR1 = signal.SIGUSR1


def _queue(kernel: Kernel, pid: int, sig: int, code: int, value: int):
    info = kernel.new("siginfo_t *")
    info.si_signo, info.si_code = sig, code
    info.si_pid, info.si_uid = os.getpid(), os.getuid()
    info.si_status = value  # the sival_int slot
    return kernel.rt_sigqueueinfo(pid, sig, info)


def test_rt_sigtimedwait_timeout_without_signal_is_eagain(kernel: Kernel, sigs, in_child) -> None:
    def run() -> str:
        sigs.block(USR1)
        return sigs.timedwait({USR1}, 10_000_000)[0].outcome

    assert in_child(run) == "EAGAIN"


def test_rt_sigtimedwait_returns_a_killed_signal_with_sender(
    kernel: Kernel, sigs, in_child
) -> None:
    def run() -> tuple[int, int, int, int, int, set[int]]:
        sigs.block(USR1)
        kernel.kill(os.getpid(), USR1).unwrap()
        r, info = sigs.timedwait({USR1})
        return (
            r.unwrap(),
            info.si_signo,
            info.si_code,
            info.si_pid - os.getpid(),
            info.si_uid,
            sigs.pending(),
        )

    ret, signo, code, dpid, uid, left = in_child(run)
    assert ret == signo == USR1
    assert code == kernel.SI_USER
    assert dpid == 0
    assert uid == os.getuid()
    assert USR1 not in left  # consumed


def test_rt_sigqueueinfo_delivers_si_queue_and_its_value(kernel: Kernel, sigs, in_child) -> None:
    def run() -> tuple[int, int]:
        sigs.block(USR1)
        _queue(kernel, os.getpid(), USR1, kernel.SI_QUEUE, 1234).unwrap()
        _, info = sigs.timedwait({USR1})
        return info.si_code, info.si_status

    assert in_child(run) == (kernel.SI_QUEUE, 1234)


def test_rt_sigqueueinfo_posing_as_kernel_to_another_process_is_eperm(
    kernel: Kernel, in_child
) -> None:
    """si_code >= 0 (SI_USER, or kernel codes) may not be forged for another process."""

    def run() -> str:
        pid = forking.fork(kernel, lambda: os.read(os.pipe()[0], 1))
        try:
            return _queue(kernel, pid, USR1, kernel.SI_USER, 0).outcome
        finally:
            kernel.kill(pid, signal.SIGKILL)
            forking.wait(kernel, pid)

    assert in_child(run) == "EPERM"


def test_rt_tgsigqueueinfo_targets_the_calling_thread(kernel: Kernel, sigs, in_child) -> None:
    def run() -> tuple[int, int]:
        sigs.block(USR1)
        info = kernel.new("siginfo_t *")
        info.si_signo, info.si_code, info.si_status = USR1, kernel.SI_QUEUE, 7
        tid = kernel.gettid().unwrap()
        kernel.rt_tgsigqueueinfo(os.getpid(), tid, USR1, info).unwrap()
        _, got = sigs.timedwait({USR1})
        return got.si_code, got.si_status

    assert in_child(run) == (kernel.SI_QUEUE, 7)


def test_standard_signals_coalesce_while_pending(kernel: Kernel, sigs, in_child) -> None:
    def run() -> tuple[str, str]:
        sigs.block(USR1)
        kernel.kill(os.getpid(), USR1).unwrap()
        kernel.kill(os.getpid(), USR1).unwrap()
        return sigs.timedwait({USR1})[0].outcome, sigs.timedwait({USR1})[0].outcome

    assert in_child(run) == ("ok", "EAGAIN")


def test_realtime_signals_queue_every_instance_in_order(kernel: Kernel, sigs, in_child) -> None:
    rt = kernel.SIGRTMIN + 2  # above glibc's reserved real-time signals

    def run() -> list[int]:
        sigs.block(rt)
        for value in (1, 2, 3):
            _queue(kernel, os.getpid(), rt, kernel.SI_QUEUE, value).unwrap()
        values = []
        while (got := sigs.timedwait({rt}))[0].ok:
            values.append(got[1].si_status)
        return values

    assert in_child(run) == [1, 2, 3]


def test_lowest_pending_standard_signal_is_taken_first(kernel: Kernel, sigs, in_child) -> None:
    def run() -> list[int]:
        sigs.block(signal.SIGUSR2, USR1, signal.SIGHUP)
        for sig in (signal.SIGUSR2, USR1, signal.SIGHUP):
            kernel.kill(os.getpid(), sig).unwrap()
        wanted = {signal.SIGUSR2, USR1, signal.SIGHUP}
        return [sigs.timedwait(wanted)[0].unwrap() for _ in range(3)]

    assert in_child(run) == sorted([signal.SIGUSR2, USR1, signal.SIGHUP])


def test_rt_sigtimedwait_invalid_timeout_is_einval(kernel: Kernel, sigs, in_child) -> None:
    def run() -> str:
        sigs.block(USR1)
        bad = kernel.new("struct timespec *", (0, 1_000_000_000))  # tv_nsec out of range
        mask = kernel.new("uint64_t *", 1 << (USR1 - 1))
        return kernel.rt_sigtimedwait(mask, None, bad, 8).outcome

    assert in_child(run) == "EINVAL"


def test_rt_sigtimedwait_negative_seconds_is_einval(kernel: Kernel, sigs, in_child) -> None:
    def run() -> str:
        sigs.block(USR1)
        bad = kernel.new("struct timespec *", (-1, 0))
        mask = kernel.new("uint64_t *", 1 << (USR1 - 1))
        return kernel.rt_sigtimedwait(mask, None, bad, 8).outcome

    assert in_child(run) == "EINVAL"


def test_rt_sigtimedwait_wrong_sigset_size_is_einval(kernel: Kernel, sigs, in_child) -> None:
    def run() -> str:
        sigs.block(USR1)
        kernel.kill(os.getpid(), USR1).unwrap()  # pending: only the size can refuse it
        mask = kernel.new("uint64_t *", 1 << (USR1 - 1))
        ts = kernel.new("struct timespec *", (0, 0))
        return kernel.rt_sigtimedwait(mask, None, ts, 4).outcome

    assert in_child(run) == "EINVAL"


def test_rt_sigtimedwait_restores_the_blocked_mask_after_waiting(
    kernel: Kernel, sigs, in_child
) -> None:
    """While it sleeps the waited-for signals are unblocked (kernel/signal.c:
    do_sigtimedwait); the mask the thread had comes back when the wait times out."""

    def run() -> tuple[str, set[int]]:
        sigs.block(USR1, signal.SIGUSR2)
        r, _ = sigs.timedwait({USR1}, 1_000_000)
        return r.outcome, sigs.blocked()

    assert in_child(run) == ("EAGAIN", {USR1, signal.SIGUSR2})


def test_rt_sigtimedwait_leaves_signals_outside_the_set_pending(
    kernel: Kernel, sigs, in_child
) -> None:
    def run() -> tuple[str, set[int]]:
        sigs.block(USR1, signal.SIGUSR2)
        kernel.kill(os.getpid(), signal.SIGUSR2).unwrap()
        r, _ = sigs.timedwait({USR1})
        return r.outcome, sigs.pending()

    assert in_child(run) == ("EAGAIN", {signal.SIGUSR2})


def test_rt_sigqueueinfo_signal_number_comes_from_the_argument(
    kernel: Kernel, sigs, in_child
) -> None:
    """The kernel overwrites si_signo with the sig argument (kernel/signal.c:
    __copy_siginfo_from_user)."""

    def run() -> tuple[int, int, set[int]]:
        sigs.block(USR1, signal.SIGUSR2)
        info = kernel.new("siginfo_t *")
        info.si_signo, info.si_code = signal.SIGUSR2, kernel.SI_QUEUE
        kernel.rt_sigqueueinfo(os.getpid(), USR1, info).unwrap()
        r, got = sigs.timedwait({USR1})
        return r.unwrap(), got.si_signo, sigs.pending()

    assert in_child(run) == (USR1, USR1, set())


def test_rt_sigqueueinfo_passes_the_senders_pid_and_uid_through(
    kernel: Kernel, sigs, in_child
) -> None:
    def run() -> tuple[int, int]:
        sigs.block(USR1)
        info = kernel.new("siginfo_t *")
        info.si_signo, info.si_code = USR1, kernel.SI_QUEUE
        info.si_pid, info.si_uid = 4321, 8765
        kernel.rt_sigqueueinfo(os.getpid(), USR1, info).unwrap()
        _, got = sigs.timedwait({USR1})
        return got.si_pid, got.si_uid

    assert in_child(run) == (4321, 8765)


def test_rt_sigqueueinfo_si_user_code_to_itself_is_allowed(kernel: Kernel, sigs, in_child) -> None:
    """The EPERM for si_code >= 0 applies only to other processes."""

    def run() -> tuple[int, int]:
        sigs.block(USR1)
        _queue(kernel, os.getpid(), USR1, kernel.SI_USER, 0).unwrap()
        r, got = sigs.timedwait({USR1})
        return r.unwrap(), got.si_code

    assert in_child(run) == (USR1, kernel.SI_USER)


def test_rt_sigqueueinfo_posing_as_tkill_to_another_process_is_eperm(
    kernel: Kernel, in_child
) -> None:
    """SI_TKILL is negative, but forging it for another process is refused too."""

    def run() -> str:
        pid = forking.fork(kernel, lambda: os.read(os.pipe()[0], 1))
        try:
            return _queue(kernel, pid, USR1, kernel.SI_TKILL, 0).outcome
        finally:
            kernel.kill(pid, signal.SIGKILL)
            forking.wait(kernel, pid)

    assert in_child(run) == "EPERM"


def test_rt_tgsigqueueinfo_si_user_code_to_another_process_is_eperm(
    kernel: Kernel, in_child
) -> None:
    def run() -> str:
        pid = forking.fork(kernel, lambda: os.read(os.pipe()[0], 1))
        try:
            info = kernel.new("siginfo_t *")
            info.si_signo, info.si_code = USR1, kernel.SI_USER
            return kernel.rt_tgsigqueueinfo(pid, pid, USR1, info).outcome
        finally:
            kernel.kill(pid, signal.SIGKILL)
            forking.wait(kernel, pid)

    assert in_child(run) == "EPERM"


@pytest.mark.parametrize(("tgid", "tid"), [(0, 1), (1, 0), (-1, 1)])
def test_rt_tgsigqueueinfo_non_positive_ids_are_einval(kernel: Kernel, tgid: int, tid: int) -> None:
    info = kernel.new("siginfo_t *")
    info.si_signo, info.si_code = USR1, kernel.SI_QUEUE
    assert kernel.rt_tgsigqueueinfo(tgid, tid, USR1, info).errno == "EINVAL"


def test_rt_sigqueueinfo_to_a_missing_process_is_esrch(kernel: Kernel, in_child) -> None:
    def run() -> str:
        pid = forking.fork(kernel)
        forking.wait(kernel, pid)
        return _queue(kernel, pid, USR1, kernel.SI_QUEUE, 0).outcome

    assert in_child(run) == "ESRCH"


def test_rt_sigtimedwait_sleeping_thread_is_woken_by_a_signal_sent_later(
    kernel: Kernel, sigs, in_child
) -> None:
    """The signal arrives while the thread sleeps: the sender must wake it, not leave it
    to its timeout (kernel/signal.c: complete_signal, signal_wake_up)."""

    def run() -> tuple[int, int, float]:
        sigs.block(USR1)  # the waiter thread inherits the mask
        start = time.monotonic()
        waiter = Waiter(lambda: sigs.timedwait({USR1}, 20_000_000_000))
        procstate.wait_blocked(kernel, waiter.tid, "rt_sigtimedwait")
        kernel.tgkill(os.getpid(), waiter.tid, USR1).unwrap()
        r, info = waiter.join()
        return r.unwrap(), info.si_code, time.monotonic() - start

    sig, code, elapsed = in_child(run, timeout=30)
    assert (sig, code) == (USR1, kernel.SI_TKILL)
    assert elapsed < 15  # woken, not timed out


def test_rt_sigtimedwait_process_signal_wakes_the_thread_waiting_for_it(
    kernel: Kernel, sigs, in_child
) -> None:
    """A process-directed signal is handed to a thread that waits for it, even when
    another thread is the one the sender reached first."""

    def run() -> tuple[int, float]:
        sigs.block(USR1)
        start = time.monotonic()
        waiter = Waiter(lambda: sigs.timedwait({USR1}, 20_000_000_000))
        procstate.wait_blocked(kernel, waiter.tid, "rt_sigtimedwait")
        kernel.kill(os.getpid(), USR1).unwrap()
        r, _ = waiter.join()
        return r.unwrap(), time.monotonic() - start

    sig, elapsed = in_child(run, timeout=30)
    assert sig == USR1
    assert elapsed < 15
