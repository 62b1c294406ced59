"""waitid(2): child state changes as siginfo, selected by P_PID, P_PGID, P_ALL, P_PIDFD.

The raw syscall takes a fifth argument (struct rusage *, NULL here). si_code says what
happened (CLD_EXITED, CLD_KILLED, CLD_STOPPED, CLD_CONTINUED); si_status holds the exit
code or the signal number.
"""

import os
import signal

import pytest

from syscalls import forking, readiness
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")


def _waitid(kernel: Kernel, idtype: int, ident: int, options: int):
    info = kernel.new("siginfo_t *")
    r = kernel.waitid(idtype, ident, info, options, None)
    return r, info


def _info(info) -> tuple[int, int, int, int]:
    return info.si_signo, info.si_code, info.si_pid, info.si_status


def _stopping_child(kernel: Kernel) -> int:
    """A child that stops itself with SIGSTOP, then waits to be killed."""

    def child() -> None:
        os.kill(os.getpid(), signal.SIGSTOP)
        os.read(os.pipe()[0], 1)  # nobody writes: blocks until SIGKILL

    return forking.fork(kernel, child)


def test_waitid_exited_child_is_cld_exited_with_its_code(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, tuple]:
        pid = forking.fork(kernel, lambda: 17)
        r, info = _waitid(kernel, kernel.P_PID, pid, kernel.WEXITED)
        return r.unwrap(), (*_info(info)[:2], info.si_pid - pid, info.si_status)

    ret, (signo, code, dpid, status) = in_child(run)
    assert ret == 0
    assert (signo, code, dpid, status) == (signal.SIGCHLD, kernel.CLD_EXITED, 0, 17)


def test_waitid_killed_child_is_cld_killed_with_the_signal(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        pid = _stopping_child(kernel)
        kernel.kill(pid, signal.SIGKILL).unwrap()
        _, info = _waitid(kernel, kernel.P_PID, pid, kernel.WEXITED)
        return info.si_code, info.si_status

    assert in_child(run) == (kernel.CLD_KILLED, signal.SIGKILL)


def test_waitid_reports_stop_and_continue(kernel: Kernel, in_child) -> None:
    def run() -> tuple[tuple[int, int], tuple[int, int]]:
        pid = _stopping_child(kernel)
        try:
            _, stopped = _waitid(kernel, kernel.P_PID, pid, kernel.WSTOPPED)
            stop = (stopped.si_code, stopped.si_status)
            kernel.kill(pid, signal.SIGCONT).unwrap()
            _, cont = _waitid(kernel, kernel.P_PID, pid, kernel.WCONTINUED)
            return stop, (cont.si_code, cont.si_status)
        finally:
            kernel.kill(pid, signal.SIGKILL)
            forking.wait(kernel, pid)

    stop, cont = in_child(run)
    assert stop == (kernel.CLD_STOPPED, signal.SIGSTOP)
    assert cont == (kernel.CLD_CONTINUED, signal.SIGCONT)


def test_waitid_wnowait_leaves_the_child_waitable(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        pid = forking.fork(kernel, lambda: 2)
        _, peek = _waitid(kernel, kernel.P_PID, pid, kernel.WEXITED | kernel.WNOWAIT)
        return peek.si_status, forking.exit_code(kernel, pid)

    assert in_child(run) == (2, 2)


def test_waitid_wnohang_without_change_returns_zero_and_no_pid(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        pid = _stopping_child(kernel)
        try:
            forking.wait(kernel, pid, kernel.WUNTRACED)  # consume the stop report
            r, info = _waitid(kernel, kernel.P_PID, pid, kernel.WEXITED | kernel.WNOHANG)
            return r.unwrap(), info.si_pid
        finally:
            kernel.kill(pid, signal.SIGKILL)
            forking.wait(kernel, pid)

    assert in_child(run) == (0, 0)


def test_waitid_p_pgid_selects_children_by_group(kernel: Kernel, in_child) -> None:
    def run() -> int:
        near = _stopping_child(kernel)  # stays in our group, never exits unless killed
        r, w = os.pipe()
        far = forking.fork(kernel, lambda: os.close(w) or (os.read(r, 1) and 0))
        try:
            os.close(r)
            kernel.setpgid(far, far).unwrap()
            os.close(w)  # far reads EOF and exits
            _, info = _waitid(kernel, kernel.P_PGID, far, kernel.WEXITED)
            return info.si_pid - far
        finally:
            kernel.kill(near, signal.SIGKILL)
            forking.wait(kernel, near)

    assert in_child(run) == 0


def test_waitid_p_all_takes_any_child(kernel: Kernel, in_child) -> None:
    def run() -> int:
        pid = forking.fork(kernel, lambda: 0)
        _, info = _waitid(kernel, kernel.P_ALL, 0, kernel.WEXITED)
        return info.si_pid - pid

    assert in_child(run) == 0


@pytest.mark.min_kernel("5.4")
def test_waitid_p_pidfd_waits_for_that_process(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        pid = forking.fork(kernel, lambda: 8)
        fd = kernel.pidfd_open(pid, 0).unwrap()
        _, info = _waitid(kernel, kernel.P_PIDFD, fd, kernel.WEXITED)
        return info.si_pid - pid, info.si_status

    assert in_child(run) == (0, 8)


@pytest.mark.min_kernel("5.10")
def test_waitid_on_a_nonblocking_pidfd_of_a_running_child_is_eagain(
    kernel: Kernel, in_child
) -> None:
    def run() -> tuple[str, str, int]:
        r, w = os.pipe()
        pid = forking.fork(kernel, lambda: os.read(r, 1) and 5)  # exits once told
        fd = kernel.pidfd_open(pid, kernel.PIDFD_NONBLOCK).unwrap()
        running, _ = _waitid(kernel, kernel.P_PIDFD, fd, kernel.WEXITED)
        os.write(w, b"x")
        p = kernel.new("struct pollfd *", (fd, kernel.POLLIN, 0))
        readiness.poll(kernel, p, 1, 5000).unwrap()  # readable once the child has exited
        exited, info = _waitid(kernel, kernel.P_PIDFD, fd, kernel.WEXITED)
        return running.outcome, exited.outcome, info.si_status

    assert in_child(run) == ("EAGAIN", "ok", 5)


def test_waitid_without_children_is_echild(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: _waitid(kernel, kernel.P_ALL, 0, kernel.WEXITED)[0].outcome) == (
        "ECHILD"
    )


def test_waitid_without_a_state_to_wait_for_is_einval(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: _waitid(kernel, kernel.P_ALL, 0, kernel.WNOHANG)[0].outcome) == (
        "EINVAL"
    )


def test_waitid_unknown_idtype_is_einval(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: _waitid(kernel, 42, 0, kernel.WEXITED)[0].outcome) == "EINVAL"


def test_waitid_unknown_option_bit_is_einval(kernel: Kernel, in_child) -> None:
    opts = kernel.WEXITED | 0x100
    assert in_child(lambda: _waitid(kernel, kernel.P_ALL, 0, opts)[0].outcome) == "EINVAL"


@pytest.mark.parametrize("ident", [0, -1])
def test_waitid_p_pid_non_positive_is_einval(kernel: Kernel, in_child, ident: int) -> None:
    r = in_child(lambda: _waitid(kernel, kernel.P_PID, ident, kernel.WEXITED)[0].outcome)
    assert r == "EINVAL"


def test_waitid_p_pgid_negative_is_einval(kernel: Kernel, in_child) -> None:
    def run() -> str:
        pid = forking.fork(kernel, lambda: 0)  # a child, so only the argument can refuse
        try:
            return _waitid(kernel, kernel.P_PGID, -1, kernel.WEXITED)[0].outcome
        finally:
            forking.wait(kernel, pid)

    assert in_child(run) == "EINVAL"


@pytest.mark.min_kernel("5.4")
def test_waitid_p_pgid_zero_means_the_callers_group(kernel: Kernel, in_child) -> None:
    """An exited child in another group is not reported; one in ours is (Linux >= 5.4;
    before, 0 named no group at all)."""

    def run() -> tuple[int, int]:
        far = forking.fork(kernel, lambda: os.setpgid(0, 0) or 3)
        kernel.setpgid(far, far)  # either side may win; EACCES once it has exited
        _waitid(kernel, kernel.P_PID, far, kernel.WEXITED | kernel.WNOWAIT)[0].unwrap()
        r, w = os.pipe()
        near = forking.fork(kernel, lambda: os.read(r, 1) and 9)
        try:
            _, early = _waitid(kernel, kernel.P_PGID, 0, kernel.WEXITED | kernel.WNOHANG)
            os.write(w, b"x")
            _, late = _waitid(kernel, kernel.P_PGID, 0, kernel.WEXITED)
            return early.si_pid, late.si_pid - near
        finally:
            forking.wait(kernel, far)
            os.close(w)

    assert in_child(run) == (0, 0)


@pytest.mark.min_kernel("5.3")
def test_waitid_p_pidfd_negative_is_einval(kernel: Kernel, in_child) -> None:
    r = in_child(lambda: _waitid(kernel, kernel.P_PIDFD, -1, kernel.WEXITED)[0].outcome)
    assert r == "EINVAL"


@pytest.mark.min_kernel("5.3")
def test_waitid_p_pidfd_on_a_non_pidfd_is_ebadf(kernel: Kernel, in_child) -> None:
    def run() -> str:
        r, w = os.pipe()
        pid = forking.fork(kernel, lambda: 0)
        try:
            return _waitid(kernel, kernel.P_PIDFD, r, kernel.WEXITED)[0].outcome
        finally:
            forking.wait(kernel, pid)
            os.close(r)
            os.close(w)

    assert in_child(run) == "EBADF"


def test_waitid_wstopped_alone_does_not_reap_an_exited_child(kernel: Kernel, in_child) -> None:
    """A zombie is not waitable without WEXITED, and does not count as a child that might
    still change: ECHILD (kernel/exit.c: wait_consider_task), and it stays reapable."""

    def run() -> tuple[str, int, int]:
        pid = forking.fork(kernel, lambda: 4)
        _waitid(kernel, kernel.P_PID, pid, kernel.WEXITED | kernel.WNOWAIT)[0].unwrap()  # exited
        r, info = _waitid(kernel, kernel.P_PID, pid, kernel.WSTOPPED | kernel.WNOHANG)
        return r.outcome, info.si_pid, forking.exit_code(kernel, pid)

    assert in_child(run) == ("ECHILD", 0, 4)


def test_waitid_wexited_alone_does_not_report_a_stop(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int, int]:
        pid = _stopping_child(kernel)
        try:
            _waitid(kernel, kernel.P_PID, pid, kernel.WSTOPPED | kernel.WNOWAIT)[0].unwrap()
            r, info = _waitid(kernel, kernel.P_PID, pid, kernel.WEXITED | kernel.WNOHANG)
            _, stop = _waitid(kernel, kernel.P_PID, pid, kernel.WSTOPPED | kernel.WNOHANG)
            return r.unwrap(), info.si_pid, stop.si_code
        finally:
            kernel.kill(pid, signal.SIGKILL)
            forking.wait(kernel, pid)

    assert in_child(run) == (0, 0, kernel.CLD_STOPPED)


def test_waitid_wnohang_without_change_zeroes_the_siginfo(kernel: Kernel, in_child) -> None:
    """With nothing to report the kernel writes zeros over si_signo, si_code, si_pid,
    si_uid and si_status (kernel/exit.c: waitid), not leaving the caller's bytes."""

    def run() -> tuple[int, int, int, int, int]:
        r, w = os.pipe()
        pid = forking.fork(kernel, lambda: os.read(r, 1) and 0)
        try:
            info = kernel.new("siginfo_t *")
            info.si_signo, info.si_code, info.si_pid = 99, 98, 97
            info.si_uid, info.si_status = 96, 95
            opts = kernel.WEXITED | kernel.WNOHANG
            kernel.waitid(kernel.P_PID, pid, info, opts, None).unwrap()
            return info.si_signo, info.si_code, info.si_pid, info.si_uid, info.si_status
        finally:
            os.write(w, b"x")
            forking.wait(kernel, pid)

    assert in_child(run) == (0, 0, 0, 0, 0)


def test_waitid_reports_the_childs_real_uid(kernel: Kernel, in_child) -> None:
    def run() -> int:
        pid = forking.fork(kernel, lambda: 0)
        _, info = _waitid(kernel, kernel.P_PID, pid, kernel.WEXITED)
        return info.si_uid

    assert in_child(run) == os.getuid()


def test_waitid_fills_the_rusage_of_the_reaped_child(kernel: Kernel, in_child) -> None:
    def run() -> int:
        pid = forking.fork(kernel)
        ru = kernel.new("struct rusage *")
        info = kernel.new("siginfo_t *")
        kernel.waitid(kernel.P_PID, pid, info, kernel.WEXITED, ru).unwrap()
        return ru.ru_maxrss

    assert in_child(run) > 0
