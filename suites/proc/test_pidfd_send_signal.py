"""pidfd_send_signal(2): signalling a process through its pidfd (Linux >= 5.1; pidfd_open
>= 5.3). Readiness of a pidfd on exit is the events suite's (test_pidfd.py)."""

import os
import signal

import pytest

from syscalls import forking
from syscalls.kernel import Kernel

pytestmark = [pytest.mark.os("linux"), pytest.mark.min_kernel("5.3")]


def _sleeper(kernel: Kernel) -> int:
    return forking.fork(kernel, lambda: os.read(os.pipe()[0], 1))  # blocks until killed


def test_pidfd_send_signal_delivers_the_signal(kernel: Kernel, in_child) -> None:
    def run() -> int:
        pid = _sleeper(kernel)
        try:
            fd = kernel.pidfd_open(pid, 0).unwrap()
            kernel.pidfd_send_signal(fd, signal.SIGTERM, None, 0).unwrap()
        finally:
            status = forking.wait(kernel, pid)
        return os.WTERMSIG(status) if os.WIFSIGNALED(status) else -1

    assert in_child(run) == signal.SIGTERM


def test_pidfd_send_signal_zero_probes_a_live_process(kernel: Kernel, in_child) -> None:
    def run() -> int:
        pid = _sleeper(kernel)
        try:
            return kernel.pidfd_send_signal(kernel.pidfd_open(pid, 0).unwrap(), 0, None, 0).unwrap()
        finally:
            kernel.kill(pid, signal.SIGKILL)
            forking.wait(kernel, pid)

    assert in_child(run) == 0


def test_pidfd_send_signal_to_reaped_process_is_esrch(kernel: Kernel, in_child) -> None:
    def run() -> str:
        pid = forking.fork(kernel)
        fd = kernel.pidfd_open(pid, 0).unwrap()
        forking.wait(kernel, pid)
        return kernel.pidfd_send_signal(fd, signal.SIGTERM, None, 0).outcome

    assert in_child(run) == "ESRCH"


def test_pidfd_send_signal_unknown_flag_is_einval(kernel: Kernel) -> None:
    fd = kernel.pidfd_open(os.getpid(), 0).unwrap()
    try:
        assert kernel.pidfd_send_signal(fd, 0, None, 1 << 30).errno == "EINVAL"
    finally:
        os.close(fd)


def test_pidfd_send_signal_on_a_non_pidfd_is_ebadf(kernel: Kernel) -> None:
    r, w = os.pipe()
    try:
        assert kernel.pidfd_send_signal(r, 0, None, 0).errno == "EBADF"
    finally:
        os.close(r)
        os.close(w)


def test_pidfd_send_signal_invalid_signal_is_einval(kernel: Kernel) -> None:
    fd = kernel.pidfd_open(os.getpid(), 0).unwrap()
    try:
        assert kernel.pidfd_send_signal(fd, 65, None, 0).errno == "EINVAL"
    finally:
        os.close(fd)


def _info(kernel: Kernel, sig: int, code: int, value: int = 0):
    info = kernel.new("siginfo_t *")
    info.si_signo, info.si_code = sig, code
    info.si_pid, info.si_uid = os.getpid(), os.getuid()
    info.si_status = value  # the sival_int slot (see signals/test_rt_sigtimedwait.py)
    return info


def test_pidfd_send_signal_info_for_another_signal_is_einval(kernel: Kernel) -> None:
    fd = kernel.pidfd_open(os.getpid(), 0).unwrap()
    try:
        info = _info(kernel, signal.SIGUSR2, kernel.SI_QUEUE)
        assert kernel.pidfd_send_signal(fd, signal.SIGUSR1, info, 0).errno == "EINVAL"
    finally:
        os.close(fd)


def test_pidfd_send_signal_info_to_itself_is_delivered_as_given(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int, int]:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
        fd = kernel.pidfd_open(os.getpid(), 0).unwrap()
        info = _info(kernel, signal.SIGUSR1, kernel.SI_QUEUE, 99)
        kernel.pidfd_send_signal(fd, signal.SIGUSR1, info, 0).unwrap()
        got = kernel.new("siginfo_t *")
        mask = kernel.new("uint64_t *", 1 << (signal.SIGUSR1 - 1))
        ts = kernel.new("struct timespec *", (0, 0))
        sig = kernel.rt_sigtimedwait(mask, got, ts, 8).unwrap()
        return sig, got.si_code, got.si_status

    assert in_child(run) == (signal.SIGUSR1, kernel.SI_QUEUE, 99)


def test_pidfd_send_signal_posing_as_kill_to_another_process_is_eperm(
    kernel: Kernel, in_child
) -> None:
    """A siginfo with si_code >= 0 (SI_USER: kill, or the kernel's own codes) may be
    given only for a signal to oneself; the child is left alone."""

    def run() -> tuple[str, bool]:
        pid = _sleeper(kernel)
        try:
            fd = kernel.pidfd_open(pid, 0).unwrap()
            info = kernel.new("siginfo_t *")
            info.si_signo, info.si_code = signal.SIGTERM, kernel.SI_USER
            info.si_pid, info.si_uid = os.getpid(), os.getuid()
            outcome = kernel.pidfd_send_signal(fd, signal.SIGTERM, info, 0).outcome
        finally:
            kernel.kill(pid, signal.SIGKILL)
            status = forking.wait(kernel, pid)
        return outcome, os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL

    assert in_child(run) == ("EPERM", True)


# Through a pidfd, as through kill (kernel/signal.c kill_pid_info, group_send_sig_info:
# check_kill_permission): signal 0 to another user's process, init's, is EPERM.
@pytest.mark.as_user("root may signal any process (CAP_KILL)")
def test_pidfd_send_signal_to_another_users_process_is_eperm(
    kernel: Kernel, fds, anothers_process
) -> None:
    fd = fds(kernel.pidfd_open(anothers_process(), 0))
    assert kernel.pidfd_send_signal(fd, 0, None, 0).errno == "EPERM"
