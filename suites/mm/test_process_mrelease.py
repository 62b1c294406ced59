"""process_mrelease(2): reap the memory of a process that is dying, through its pidfd,
before its exit has finished (Linux >= 5.15). A process that is not exiting is EINVAL
(mm/oom_kill.c: task_will_free_mem), one whose memory is already gone ESRCH. Between
the two lies the moment it is released, which a test cannot catch reliably."""

import os
import signal

import pytest

from syscalls import forking
from syscalls.kernel import Kernel

pytestmark = [pytest.mark.os("linux"), pytest.mark.min_kernel("5.15")]


def test_process_mrelease_of_a_live_process_is_einval(kernel: Kernel, in_child) -> None:
    def run() -> str:
        with forking.waiting_child(kernel) as (pid, _):
            pidfd = kernel.pidfd_open(pid, 0).unwrap()
            return kernel.process_mrelease(pidfd, 0).outcome

    assert in_child(run) == "EINVAL"


def test_process_mrelease_of_self_is_einval(kernel: Kernel, fds: list[int]) -> None:
    fds.append(pidfd := kernel.pidfd_open(os.getpid(), 0).unwrap())
    assert kernel.process_mrelease(pidfd, 0).errno == "EINVAL"


def test_process_mrelease_of_an_exited_unreaped_child_is_esrch(kernel: Kernel, in_child) -> None:
    """A zombie has no memory left to release (find_lock_task_mm finds none)."""

    def run() -> tuple[str, int]:
        rfd, _wfd = os.pipe()  # held open: the child blocks until killed
        pid = forking.fork(kernel, lambda: os.read(rfd, 1) and 0)
        pidfd = kernel.pidfd_open(pid, 0).unwrap()
        os.kill(pid, signal.SIGKILL)
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # exited, left unreaped
        r = kernel.process_mrelease(pidfd, 0)
        return r.outcome, os.WTERMSIG(forking.wait(kernel, pid))

    assert in_child(run) == ("ESRCH", signal.SIGKILL)


def test_process_mrelease_with_flags_is_einval(kernel: Kernel, fds: list[int]) -> None:
    fds.append(pidfd := kernel.pidfd_open(os.getpid(), 0).unwrap())
    assert kernel.process_mrelease(pidfd, 1).errno == "EINVAL"


def test_process_mrelease_through_a_descriptor_that_is_no_pidfd_is_ebadf(
    kernel: Kernel, fds: list[int]
) -> None:
    fds.extend(os.pipe())
    assert kernel.process_mrelease(fds[0], 0).errno == "EBADF"


def test_process_mrelease_of_a_reaped_child_is_esrch(kernel: Kernel, in_child) -> None:
    def run() -> str:
        pid = forking.fork(kernel)
        pidfd = kernel.pidfd_open(pid, 0).unwrap()
        forking.wait(kernel, pid)
        return kernel.process_mrelease(pidfd, 0).outcome

    assert in_child(run) == "ESRCH"
