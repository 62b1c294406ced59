"""pidfd_open(2): a process as a pollable fd, readable once the process exits (Linux >= 5.3).

gVisor answers ENOSYS, which is a skip. Children are forked raw and reaped inside
in_child.
"""

import os
import threading

import pytest

from syscalls import forking, readiness
from syscalls.expect import at_least
from syscalls.kernel import Kernel

pytestmark = [pytest.mark.os("linux"), pytest.mark.min_kernel("5.3")]


def _readable(kernel: Kernel, fd: int, timeout_ms: int) -> int:
    p = kernel.new("struct pollfd *", (fd, kernel.POLLIN, 0))
    readiness.poll(kernel, p, 1, timeout_ms).unwrap()
    return p.revents


def test_pidfd_open_self_returns_cloexec_fd(kernel: Kernel, fds) -> None:
    fd = fds(kernel.pidfd_open(os.getpid(), 0))
    assert kernel.fcntl(fd, kernel.F_GETFD, 0).unwrap() & kernel.FD_CLOEXEC


@pytest.mark.min_kernel("5.10")
def test_pidfd_open_nonblock_shows_in_the_status_flags(kernel: Kernel, fds) -> None:
    fd = fds(kernel.pidfd_open(os.getpid(), kernel.PIDFD_NONBLOCK))
    assert kernel.fcntl(fd, kernel.F_GETFL, 0).unwrap() & kernel.O_NONBLOCK


def test_pidfd_open_of_a_thread_other_than_the_leader_is_refused(kernel: Kernel) -> None:
    """Without PIDFD_THREAD (Linux 6.9) a pidfd names a thread-group leader only: another
    thread's id is EINVAL, ENOENT since Linux 6.15 (kernel/fork.c, pidfd_prepare)."""
    refused = "ENOENT" if at_least(kernel.release(), "6.15") else "EINVAL"
    started, done = threading.Event(), threading.Event()
    tids: list[int] = []

    def body() -> None:
        tids.append(threading.get_native_id())
        started.set()
        done.wait(10)

    t = threading.Thread(target=body)
    t.start()
    try:
        started.wait(10)
        r = kernel.pidfd_open(tids[0], 0)
        if r.ok:
            os.close(r.value)
    finally:
        done.set()
        t.join()
    assert r.errno == refused


def test_pidfd_of_running_process_is_not_readable(kernel: Kernel, fds) -> None:
    fd = fds(kernel.pidfd_open(os.getpid(), 0))
    assert _readable(kernel, fd, 0) == 0


def test_pidfd_becomes_readable_when_child_exits(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        r, w = os.pipe()

        def child() -> None:
            os.close(w)
            os.read(r, 1)  # wait until the parent says "exit"

        pid = forking.fork(kernel, child)
        os.close(r)
        fd = kernel.pidfd_open(pid, 0).unwrap()
        before = _readable(kernel, fd, 0)
        os.close(w)  # the child reads EOF and exits
        after = _readable(kernel, fd, 5000)
        assert forking.exit_code(kernel, pid) == 0
        return before, after

    before, after = in_child(run)
    assert before == 0
    assert after & kernel.POLLIN


def test_pidfd_stays_readable_for_an_exited_unreaped_child(kernel: Kernel, in_child) -> None:
    def run() -> int:
        pid = forking.fork(kernel)
        fd = kernel.pidfd_open(pid, 0).unwrap()
        revents = _readable(kernel, fd, 5000)
        forking.wait(kernel, pid)
        return revents

    assert in_child(run) & kernel.POLLIN


def test_pidfd_open_nonexistent_pid_is_esrch(kernel: Kernel, in_child) -> None:
    def run() -> str:
        pid = forking.fork(kernel)
        forking.wait(kernel, pid)  # reaped: the pid is free (and unlikely to be reused yet)
        return kernel.pidfd_open(pid, 0).outcome

    assert in_child(run) == "ESRCH"


@pytest.mark.parametrize("pid", [0, -1])
def test_pidfd_open_non_positive_pid_is_einval(kernel: Kernel, pid: int) -> None:
    assert kernel.pidfd_open(pid, 0).errno == "EINVAL"


def test_pidfd_open_unknown_flag_is_einval(kernel: Kernel) -> None:
    assert kernel.pidfd_open(os.getpid(), 1).errno == "EINVAL"
