"""wait4(2): waiting for children by pid, group or any, with WNOHANG and WUNTRACED.

The status word is decoded with os.W* (the classic <sys/wait.h> encoding, the same on
every Unix); rusage of the reaped child is struct rusage.
"""

import os
import signal

import pytest

from syscalls import forking
from syscalls.kernel import Kernel


def _blocked_child(kernel: Kernel) -> tuple[int, int]:
    """A child that waits for EOF on a pipe: (pid, write end to close to release it)."""
    r, w = os.pipe()

    def child() -> None:
        os.close(w)
        os.read(r, 1)

    pid = forking.fork(kernel, child)
    os.close(r)
    return pid, w


@pytest.mark.smoke
def test_wait4_wnohang_with_running_child_returns_zero(kernel: Kernel, in_child) -> None:
    def run() -> int:
        pid, w = _blocked_child(kernel)
        try:
            return kernel.wait4(pid, kernel.new("int *"), kernel.WNOHANG, None).unwrap()
        finally:
            os.close(w)
            forking.wait(kernel, pid)

    assert in_child(run) == 0


@pytest.mark.smoke
def test_wait4_without_children_is_echild(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: kernel.wait4(-1, kernel.new("int *"), 0, None).outcome) == "ECHILD"


@pytest.mark.smoke
def test_wait4_for_a_process_that_is_not_a_child_is_echild(kernel: Kernel, in_child) -> None:
    r = in_child(lambda: kernel.wait4(os.getppid(), kernel.new("int *"), kernel.WNOHANG, None))
    assert r.errno == "ECHILD"


@pytest.mark.smoke
def test_wait4_any_child_returns_its_pid(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        pid = forking.fork(kernel, lambda: 3)
        status = kernel.new("int *")
        return kernel.wait4(-1, status, 0, None).unwrap() - pid, os.WEXITSTATUS(status[0])

    assert in_child(run) == (0, 3)


@pytest.mark.smoke
def test_wait4_reports_death_by_signal(kernel: Kernel, in_child) -> None:
    def run() -> int:
        pid, w = _blocked_child(kernel)
        kernel.kill(pid, signal.SIGKILL).unwrap()
        status = forking.wait(kernel, pid)
        os.close(w)
        return status

    status = in_child(run)
    assert os.WIFSIGNALED(status)
    assert os.WTERMSIG(status) == signal.SIGKILL
    assert not os.WIFEXITED(status)


@pytest.mark.smoke
def test_wait4_wuntraced_reports_a_stopped_child(kernel: Kernel, in_child) -> None:
    def run() -> int:
        pid, w = _blocked_child(kernel)
        try:
            kernel.kill(pid, signal.SIGSTOP).unwrap()
            return forking.wait(kernel, pid, kernel.WUNTRACED)
        finally:
            kernel.kill(pid, signal.SIGKILL)
            forking.wait(kernel, pid)
            os.close(w)

    status = in_child(run)
    assert os.WIFSTOPPED(status)
    assert os.WSTOPSIG(status) == signal.SIGSTOP


def test_wait4_wcontinued_reports_a_continued_child(kernel: Kernel, in_child) -> None:
    def run() -> int:
        pid, w = _blocked_child(kernel)
        try:
            kernel.kill(pid, signal.SIGSTOP).unwrap()
            forking.wait(kernel, pid, kernel.WUNTRACED)
            kernel.kill(pid, signal.SIGCONT).unwrap()
            return forking.wait(kernel, pid, kernel.WCONTINUED)
        finally:
            kernel.kill(pid, signal.SIGKILL)
            forking.wait(kernel, pid)
            os.close(w)

    status = in_child(run)
    assert os.WIFCONTINUED(status)
    assert not os.WIFSTOPPED(status)


@pytest.mark.smoke
def test_wait4_fills_rusage_of_the_reaped_child(kernel: Kernel, in_child) -> None:
    def run() -> int:
        pid = forking.fork(kernel)
        ru = kernel.new("struct rusage *")
        kernel.wait4(pid, kernel.new("int *"), 0, ru).unwrap()
        return ru.ru_maxrss

    assert in_child(run) > 0


@pytest.mark.smoke
def test_wait4_zero_waits_only_for_own_process_group(kernel: Kernel, in_child) -> None:
    def run() -> tuple[str, int]:
        pid, w = _blocked_child(kernel)
        try:
            kernel.setpgid(pid, pid).unwrap()  # the only child leaves our group
            return kernel.wait4(0, kernel.new("int *"), kernel.WNOHANG, None).outcome, pid
        finally:
            os.close(w)
            forking.wait(kernel, pid)

    outcome, _ = in_child(run)
    assert outcome == "ECHILD"


@pytest.mark.smoke
def test_wait4_unknown_option_is_einval(kernel: Kernel, in_child) -> None:
    """WNOWAIT belongs to waitid; wait4 refuses it."""
    r = in_child(lambda: kernel.wait4(-1, kernel.new("int *"), kernel.WNOWAIT, None).outcome)
    assert r == "EINVAL"


def test_wait4_int_min_pid_is_esrch(kernel: Kernel, in_child) -> None:
    """-INT_MIN names no process group: kernel/exit.c kernel_wait4 refuses it as ESRCH,
    even with no children to wait for."""
    r = in_child(lambda: kernel.wait4(-(2**31), kernel.new("int *"), kernel.WNOHANG, None).outcome)
    assert r == "ESRCH"


def test_wait4_wexited_is_not_one_of_its_options(kernel: Kernel, in_child) -> None:
    """wait4 always waits for exits; WEXITED itself is waitid's and is refused."""
    r = in_child(lambda: kernel.wait4(-1, kernel.new("int *"), kernel.WEXITED, None).outcome)
    assert r == "EINVAL"


def test_wait4_negative_pid_waits_for_that_process_group(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        near, near_w = _blocked_child(kernel)  # stays in our group, running
        far, far_w = _blocked_child(kernel)
        try:
            kernel.setpgid(far, far).unwrap()
            os.close(far_w)  # far exits
            status = kernel.new("int *")
            got = kernel.wait4(-far, status, 0, None).unwrap()
            return got - far, os.WEXITSTATUS(status[0])
        finally:
            os.close(near_w)
            forking.wait(kernel, near)

    assert in_child(run) == (0, 0)


def test_wait4_without_wuntraced_does_not_report_a_stop(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        pid, w = _blocked_child(kernel)
        try:
            kernel.kill(pid, signal.SIGSTOP).unwrap()
            info = kernel.new("siginfo_t *")  # wait for the stop, leaving it reportable
            kernel.waitid(kernel.P_PID, pid, info, kernel.WSTOPPED | kernel.WNOWAIT, None).unwrap()
            status = kernel.new("int *")
            plain = kernel.wait4(pid, status, kernel.WNOHANG, None).unwrap()
            untraced = kernel.wait4(pid, status, kernel.WNOHANG | kernel.WUNTRACED, None).unwrap()
            return plain, untraced - pid
        finally:
            kernel.kill(pid, signal.SIGKILL)
            forking.wait(kernel, pid)
            os.close(w)

    assert in_child(run) == (0, 0)


def test_wait4_wclone_ignores_ordinary_children(kernel: Kernel, in_child) -> None:
    """__WCLONE waits only for children whose exit signal is not SIGCHLD: an ordinary
    zombie child is not eligible, so there is no child to wait for."""

    def run() -> tuple[str, int]:
        pid = forking.fork(kernel, lambda: 6)
        opts = kernel.platform["__WCLONE"] | kernel.WNOHANG
        # the child may not have exited yet: ECHILD does not depend on that
        outcome = kernel.wait4(pid, kernel.new("int *"), opts, None).outcome
        return outcome, forking.exit_code(kernel, pid)

    assert in_child(run) == ("ECHILD", 6)
