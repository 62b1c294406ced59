"""kill(2), tkill(2), tgkill(2): sending signals to processes, groups and threads.

Signal 0 checks that the target exists and may be signalled. A user may not signal
another user's process, such as pid 1, unless it holds CAP_KILL.
"""

import os
import signal
import threading

import pytest

from syscalls import forking
from syscalls.kernel import Kernel

USR1 = signal.SIGUSR1


def _reaped_pid(kernel: Kernel) -> int:
    pid = forking.fork(kernel)
    forking.wait(kernel, pid)
    return pid


@pytest.mark.smoke
def test_kill_signal_zero_to_existing_process_succeeds(kernel: Kernel) -> None:
    assert kernel.kill(os.getpid(), 0).unwrap() == 0


@pytest.mark.smoke
def test_kill_of_reaped_process_is_esrch(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: kernel.kill(_reaped_pid(kernel), 0).outcome) == "ESRCH"


@pytest.mark.parametrize("sig", [-1, 65])
@pytest.mark.smoke
def test_kill_invalid_signal_is_einval(kernel: Kernel, sig: int) -> None:
    assert kernel.kill(os.getpid(), sig).errno == "EINVAL"


def _pending_for_process(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        found = [int(ln.split()[1], 16) for ln in f if ln.startswith("ShdPnd:")]
    if not found:
        pytest.skip("/proc/PID/status has no ShdPnd line here: a pending signal cannot be seen")
    return found[0]


@pytest.mark.root  # a process of another user to signal: made by root, signalled as nobody
def test_kill_of_another_users_process_is_eperm_and_delivers_nothing(
    kernel: Kernel, in_child
) -> None:
    def block_sigterm() -> None:  # a SIGTERM wrongly sent stays pending: it can be seen
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})

    answers = {10: "ok", 11: "EPERM", 12: "another answer"}  # 1: the child raised

    def run() -> tuple[str, bool]:
        with forking.waiting_child(kernel, block_sigterm) as (root_owned, _):

            def as_nobody() -> int:
                kernel.setresuid(65534, 65534, 65534).unwrap()
                answer = kernel.kill(root_owned, signal.SIGTERM).outcome
                return next((k for k, v in answers.items() if v == answer), 12)

            code = forking.exit_code(kernel, forking.fork(kernel, as_nobody))
            sent = bool(_pending_for_process(root_owned) & 1 << (signal.SIGTERM - 1))
        return answers.get(code, f"exit status {code}"), sent

    assert in_child(run) == ("EPERM", False)


def test_kill_signal_zero_is_eperm_where_a_signal_would_be(kernel: Kernel, in_child) -> None:
    def run() -> str:
        if os.geteuid() == 0:  # root may signal pid 1: become a user, who may not
            kernel.setresuid(65534, 65534, 65534).unwrap()
        return kernel.kill(1, 0).outcome

    assert in_child(run) == "EPERM"


# tkill and tgkill go their own way to the same check (kernel/signal.c do_send_specific:
# check_kill_permission): signal 0 to another user's thread, init's, is EPERM too.
@pytest.mark.os("linux")
@pytest.mark.as_user("root may signal any process (CAP_KILL)")
@pytest.mark.parametrize("call", ["tkill", "tgkill"])
def test_tkill_or_tgkill_of_another_users_thread_is_eperm(
    kernel: Kernel, anothers_process, call: str
) -> None:
    pid = anothers_process()
    args = (pid,) if call == "tkill" else (pid, pid)
    assert getattr(kernel, call)(*args, 0).errno == "EPERM"


def test_kill_zero_signals_the_callers_process_group(kernel: Kernel, sigs, in_child) -> None:
    def run() -> bool:
        sigs.block(USR1)
        kernel.kill(0, USR1).unwrap()  # in_child leads its own group
        return USR1 in sigs.pending()

    assert in_child(run) is True


def test_kill_negative_pid_signals_that_process_group(kernel: Kernel, in_child) -> None:
    def run() -> int:
        def child() -> None:
            os.setpgid(0, 0)
            os.read(os.pipe()[0], 1)

        pid = forking.fork(kernel, child)
        try:
            while kernel.getpgid(pid).unwrap() != pid:  # until it has its own group
                os.sched_yield()
            kernel.kill(-pid, signal.SIGTERM).unwrap()
        finally:
            status = forking.wait(kernel, pid)
        return os.WTERMSIG(status) if os.WIFSIGNALED(status) else -1

    assert in_child(run) == signal.SIGTERM


def test_kill_of_empty_process_group_is_esrch(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: kernel.kill(-_reaped_pid(kernel), 0).outcome) == "ESRCH"


@pytest.mark.os("linux")
@pytest.mark.smoke
def test_tgkill_reaches_the_named_thread_as_si_tkill(kernel: Kernel, sigs, in_child) -> None:
    def run() -> tuple[int, int]:
        sigs.block(USR1)
        kernel.tgkill(os.getpid(), kernel.gettid().unwrap(), USR1).unwrap()
        r, info = sigs.timedwait({USR1})
        return r.unwrap(), info.si_code

    assert in_child(run) == (USR1, kernel.SI_TKILL)


@pytest.mark.os("linux")
def test_tgkill_pends_on_the_target_thread_only(kernel: Kernel, sigs, in_child) -> None:
    def run() -> tuple[bool, bool]:
        sigs.block(USR1)  # the new thread inherits the mask
        go, done = threading.Event(), threading.Event()
        seen: list[bool] = []

        def worker() -> None:
            go.wait()
            seen.append(USR1 in sigs.pending())
            sigs.timedwait({USR1})  # consume it here
            done.set()

        tid: list[int] = []
        t = threading.Thread(target=lambda: tid.append(kernel.gettid().value) or worker())
        t.start()
        while not tid:
            os.sched_yield()
        kernel.tgkill(os.getpid(), tid[0], USR1).unwrap()
        here = USR1 in sigs.pending()  # pending is per thread plus the shared set
        go.set()
        done.wait()
        t.join()
        return here, seen[0]

    here, there = in_child(run)
    assert not here
    assert there


@pytest.mark.os("linux")
def test_tgkill_with_wrong_thread_group_is_esrch(kernel: Kernel, in_child) -> None:
    def run() -> str:
        return kernel.tgkill(_reaped_pid(kernel), kernel.gettid().unwrap(), 0).outcome

    assert in_child(run) == "ESRCH"


@pytest.mark.os("linux")
@pytest.mark.parametrize(("tgid", "tid"), [(0, 1), (1, 0), (-1, 1)])
def test_tgkill_non_positive_ids_are_einval(kernel: Kernel, tgid: int, tid: int) -> None:
    assert kernel.tgkill(tgid, tid, 0).errno == "EINVAL"


@pytest.mark.os("linux")
def test_tkill_of_missing_thread_is_esrch(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: kernel.tkill(_reaped_pid(kernel), 0).outcome) == "ESRCH"


@pytest.mark.os("linux")
def test_tkill_zero_tid_is_einval(kernel: Kernel) -> None:
    assert kernel.tkill(0, 0).errno == "EINVAL"


def test_kill_int_min_pid_is_esrch(kernel: Kernel) -> None:
    """-INT_MIN has no process group to name: kill_something_info refuses it as ESRCH
    before looking anything up (kernel/signal.c)."""
    assert kernel.kill(-(2**31), 0).errno == "ESRCH"


def test_kill_highest_signal_number_is_valid(kernel: Kernel, sigs, in_child) -> None:
    """Signal numbers run 1.._NSIG (64) inclusive; 64 is the last real-time signal."""

    def run() -> set[int]:
        sigs.block(64)
        kernel.kill(os.getpid(), 64).unwrap()
        return sigs.pending()

    assert in_child(run) == {64}


@pytest.mark.os("linux")
@pytest.mark.parametrize("sig", [-1, 65])
def test_tgkill_invalid_signal_is_einval(kernel: Kernel, sig: int) -> None:
    assert kernel.tgkill(os.getpid(), kernel.gettid().unwrap(), sig).errno == "EINVAL"


@pytest.mark.os("linux")
@pytest.mark.parametrize("sig", [-1, 65])
def test_tkill_invalid_signal_is_einval(kernel: Kernel, sig: int) -> None:
    assert kernel.tkill(kernel.gettid().unwrap(), sig).errno == "EINVAL"


@pytest.mark.os("linux")
def test_tgkill_signal_zero_to_own_thread_succeeds_and_sends_nothing(
    kernel: Kernel, sigs, in_child
) -> None:
    def run() -> tuple[int, set[int]]:
        r = kernel.tgkill(os.getpid(), kernel.gettid().unwrap(), 0).unwrap()
        return r, sigs.pending()

    assert in_child(run) == (0, set())


@pytest.mark.os("linux")
def test_tkill_reaches_the_thread_as_si_tkill_from_the_sender(
    kernel: Kernel, sigs, in_child
) -> None:
    def run() -> tuple[int, int, bool]:
        sigs.block(USR1)
        kernel.tkill(kernel.gettid().unwrap(), USR1).unwrap()
        r, info = sigs.timedwait({USR1})
        return r.unwrap(), info.si_code, info.si_pid == os.getpid()

    assert in_child(run) == (USR1, kernel.SI_TKILL, True)


def test_kill_signal_zero_to_an_unreaped_zombie_succeeds(kernel: Kernel, in_child) -> None:
    """A zombie still holds its pid until reaped: it can be named, not yet ESRCH."""

    def run() -> str:
        pid = forking.fork(kernel)
        info = kernel.new("siginfo_t *")  # wait for the exit, leaving the zombie
        kernel.waitid(kernel.P_PID, pid, info, kernel.WEXITED | kernel.WNOWAIT, None).unwrap()
        try:
            return kernel.kill(pid, 0).outcome
        finally:
            forking.wait(kernel, pid)

    assert in_child(run) == "ok"
