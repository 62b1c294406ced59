"""signalfd4(2): blocked signals read as struct signalfd_siginfo (Linux only).

The signal mask is per thread, so every test blocks its signal inside a child.
"""

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from syscalls import readiness
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

SIGSET_BYTES = 8  # the kernel's sigset_t: _NSIG = 64 bits


def _mask(kernel: Kernel, *signals: int) -> Any:
    return kernel.new("uint64_t *", sum(1 << (s - 1) for s in signals))


def _signalfd(kernel: Kernel, *signals: int, flags: int = 0) -> int:
    signal.pthread_sigmask(signal.SIG_BLOCK, set(signals))
    return kernel.signalfd4(-1, _mask(kernel, *signals), SIGSET_BYTES, flags).unwrap()


def test_signalfd_reads_blocked_signal_with_sender(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int, int, int, int]:
        fd = _signalfd(kernel, signal.SIGUSR1)
        kernel.kill(os.getpid(), signal.SIGUSR1).unwrap()
        info = kernel.new("struct signalfd_siginfo *")
        size = kernel.ffi.sizeof(info[0])
        assert kernel.read(fd, info, size).unwrap() == size
        return info.ssi_signo, info.ssi_pid, info.ssi_uid, info.ssi_code, os.getpid()

    signo, pid, uid, code, me = in_child(run)
    assert signo == signal.SIGUSR1
    assert pid == me
    assert uid == os.getuid()
    assert code == kernel.SI_USER


def test_signalfd_reads_the_value_of_a_queued_signal(kernel: Kernel, in_child) -> None:
    """rt_sigqueueinfo's si_value comes out as ssi_int (its int member; si_status's slot
    of siginfo_t holds it, as in signals/test_rt_sigtimedwait.py)."""

    def run() -> tuple[int, int, int]:
        fd = _signalfd(kernel, signal.SIGUSR1)
        sent = kernel.new("siginfo_t *")
        sent.si_signo, sent.si_code = signal.SIGUSR1, kernel.SI_QUEUE
        sent.si_pid, sent.si_uid = os.getpid(), os.getuid()
        sent.si_status = 4321  # the sival_int slot
        kernel.rt_sigqueueinfo(os.getpid(), signal.SIGUSR1, sent).unwrap()
        info = kernel.new("struct signalfd_siginfo *")
        size = kernel.ffi.sizeof(info[0])
        assert kernel.read(fd, info, size).unwrap() == size
        return info.ssi_signo, info.ssi_code, info.ssi_int

    assert in_child(run) == (signal.SIGUSR1, kernel.SI_QUEUE, 4321)


def test_signalfd_read_consumes_the_pending_signal(kernel: Kernel, in_child) -> None:
    def run() -> str:
        fd = _signalfd(kernel, signal.SIGUSR2, flags=kernel.SFD_NONBLOCK)
        kernel.kill(os.getpid(), signal.SIGUSR2).unwrap()
        info = kernel.new("struct signalfd_siginfo *")
        kernel.read(fd, info, 128).unwrap()
        assert signal.SIGUSR2 not in signal.sigpending()
        return kernel.read(fd, info, 128).outcome

    assert in_child(run) == "EAGAIN"


def test_signalfd_nonblocking_read_without_signal_is_eagain(kernel: Kernel, in_child) -> None:
    def run() -> str:
        fd = _signalfd(kernel, signal.SIGUSR1, flags=kernel.SFD_NONBLOCK)
        return kernel.read(fd, kernel.new("struct signalfd_siginfo *"), 128).outcome

    assert in_child(run) == "EAGAIN"


def test_signalfd_is_readable_while_signal_pending(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        fd = _signalfd(kernel, signal.SIGUSR1, flags=kernel.SFD_NONBLOCK)
        p = kernel.new("struct pollfd *", (fd, kernel.POLLIN, 0))
        before = readiness.poll(kernel, p, 1, 0).unwrap()
        kernel.kill(os.getpid(), signal.SIGUSR1).unwrap()
        return before, readiness.poll(kernel, p, 1, 0).unwrap()

    assert in_child(run) == (0, 1)


def test_signalfd_ignores_signals_outside_its_mask(kernel: Kernel, in_child) -> None:
    def run() -> str:
        fd = _signalfd(kernel, signal.SIGUSR1, flags=kernel.SFD_NONBLOCK)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})
        kernel.kill(os.getpid(), signal.SIGUSR2).unwrap()
        return kernel.read(fd, kernel.new("struct signalfd_siginfo *"), 128).outcome

    assert in_child(run) == "EAGAIN"


def test_signalfd_existing_fd_takes_a_new_mask(kernel: Kernel, in_child) -> None:
    def run() -> int:
        fd = _signalfd(kernel, signal.SIGUSR1, flags=kernel.SFD_NONBLOCK)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})
        again = kernel.signalfd4(fd, _mask(kernel, signal.SIGUSR2), SIGSET_BYTES, 0).unwrap()
        assert again == fd
        kernel.kill(os.getpid(), signal.SIGUSR2).unwrap()
        info = kernel.new("struct signalfd_siginfo *")
        kernel.read(fd, info, 128).unwrap()
        return info.ssi_signo

    assert in_child(run) == signal.SIGUSR2


def test_signalfd_read_smaller_than_siginfo_is_einval(kernel: Kernel, in_child) -> None:
    def run() -> str:
        fd = _signalfd(kernel, signal.SIGUSR1, flags=kernel.SFD_NONBLOCK)
        kernel.kill(os.getpid(), signal.SIGUSR1).unwrap()
        return kernel.read(fd, kernel.buf(64), 64).outcome

    assert in_child(run) == "EINVAL"


def test_signalfd_unknown_flag_is_einval(kernel: Kernel) -> None:
    r = kernel.signalfd4(-1, _mask(kernel, signal.SIGUSR1), SIGSET_BYTES, 1 << 30)
    assert r.errno == "EINVAL"


def test_signalfd_wrong_sigset_size_is_einval(kernel: Kernel) -> None:
    assert kernel.signalfd4(-1, _mask(kernel, signal.SIGUSR1), 4, 0).errno == "EINVAL"


def test_signalfd_update_of_non_signalfd_is_einval(kernel: Kernel, fds) -> None:
    r, _ = fds.pipe()
    assert kernel.signalfd4(r, _mask(kernel, signal.SIGUSR1), SIGSET_BYTES, 0).errno == "EINVAL"


# --- signalfd(2), the legacy call: signalfd4 without flags ---------------------------------


def test_signalfd_legacy_reads_a_blocked_signal(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
        fd = kernel.signalfd(-1, _mask(kernel, signal.SIGUSR1), SIGSET_BYTES).unwrap()
        kernel.kill(os.getpid(), signal.SIGUSR1).unwrap()
        info = kernel.new("struct signalfd_siginfo *")
        kernel.read(fd, info, 128).unwrap()
        return info.ssi_signo, info.ssi_code

    assert in_child(run) == (signal.SIGUSR1, kernel.SI_USER)


def test_signalfd_legacy_descriptor_is_blocking_and_kept_across_exec(kernel: Kernel, fds) -> None:
    fd = fds(kernel.signalfd(-1, _mask(kernel, signal.SIGUSR1), SIGSET_BYTES))
    assert kernel.fcntl(fd, kernel.F_GETFL, 0).unwrap() & kernel.O_NONBLOCK == 0
    assert kernel.fcntl(fd, kernel.F_GETFD, 0).unwrap() & kernel.FD_CLOEXEC == 0


def test_signalfd_legacy_update_replaces_the_mask(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGUSR2})
        fd = kernel.signalfd(-1, _mask(kernel, signal.SIGUSR1), SIGSET_BYTES).unwrap()
        again = kernel.signalfd(fd, _mask(kernel, signal.SIGUSR2), SIGSET_BYTES).unwrap()
        kernel.fcntl(fd, kernel.F_SETFL, kernel.O_NONBLOCK).unwrap()
        kernel.kill(os.getpid(), signal.SIGUSR1).unwrap()
        info = kernel.new("struct signalfd_siginfo *")
        missed = kernel.read(fd, info, 128).errno
        kernel.kill(os.getpid(), signal.SIGUSR2).unwrap()
        kernel.read(fd, info, 128).unwrap()
        return again == fd and missed == "EAGAIN", info.ssi_signo

    assert in_child(run) == (True, signal.SIGUSR2)


def test_signalfd_legacy_wrong_sigset_size_is_einval(kernel: Kernel) -> None:
    assert kernel.signalfd(-1, _mask(kernel, signal.SIGUSR1), 4).errno == "EINVAL"


def test_signalfd_legacy_update_of_a_pipe_is_einval(kernel: Kernel, fds) -> None:
    r, _ = fds.pipe()
    assert kernel.signalfd(r, _mask(kernel, signal.SIGUSR1), SIGSET_BYTES).errno == "EINVAL"


def test_signalfd_one_read_takes_several_signals(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, list[int]]:
        fd = _signalfd(kernel, signal.SIGUSR1, signal.SIGUSR2, flags=kernel.SFD_NONBLOCK)
        kernel.kill(os.getpid(), signal.SIGUSR1).unwrap()
        kernel.kill(os.getpid(), signal.SIGUSR2).unwrap()
        info = kernel.new("struct signalfd_siginfo[3]")
        size = kernel.ffi.sizeof(info[0])
        n = kernel.read(fd, info, 3 * size).unwrap()
        return n // size, sorted(info[i].ssi_signo for i in range(n // size))

    assert in_child(run) == (2, sorted([signal.SIGUSR1, signal.SIGUSR2]))


def test_signalfd_flags_set_nonblock_and_cloexec(kernel: Kernel, fds) -> None:
    fd = fds(
        kernel.signalfd4(
            -1,
            _mask(kernel, signal.SIGUSR1),
            SIGSET_BYTES,
            kernel.SFD_NONBLOCK | kernel.SFD_CLOEXEC,
        )
    )
    assert kernel.fcntl(fd, kernel.F_GETFL, 0).unwrap() & kernel.O_NONBLOCK
    assert kernel.fcntl(fd, kernel.F_GETFD, 0).unwrap() & kernel.FD_CLOEXEC


def test_signalfd_without_flags_is_blocking_and_kept_across_exec(kernel: Kernel, fds) -> None:
    fd = fds(kernel.signalfd4(-1, _mask(kernel, signal.SIGUSR1), SIGSET_BYTES, 0))
    assert not kernel.fcntl(fd, kernel.F_GETFL, 0).unwrap() & kernel.O_NONBLOCK
    assert not kernel.fcntl(fd, kernel.F_GETFD, 0).unwrap() & kernel.FD_CLOEXEC


def test_signalfd_mask_leaves_out_sigkill_and_sigstop(kernel: Kernel, fds) -> None:
    mask = _mask(kernel, signal.SIGUSR1, signal.SIGKILL, signal.SIGSTOP)
    fd = fds(kernel.signalfd4(-1, mask, SIGSET_BYTES, 0))
    status = Path(f"/proc/self/fdinfo/{fd}").read_text()
    shown = int(status.split("sigmask:")[1].split()[0], 16)
    assert shown == 1 << (signal.SIGUSR1 - 1)
