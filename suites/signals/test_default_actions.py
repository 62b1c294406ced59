"""Default signal actions: terminate (SIGTERM, SIGUSR1, SIGHUP), ignore (SIGCHLD, SIGURG,
SIGWINCH), stop and continue (SIGSTOP, SIGCONT). Core-dumping signals are left out: a
core may be piped to the host's crash handler.

Each test signals an in_child process; a fatal one surfaces as ChildFailed.
"""

import os
import signal

import pytest

from syscalls import forking
from syscalls.child import ChildFailed
from syscalls.kernel import Kernel


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGUSR1, signal.SIGHUP])
def test_default_action_of_terminating_signal_kills(kernel: Kernel, in_child, sig) -> None:
    def run() -> str:
        signal.signal(sig, signal.SIG_DFL)
        kernel.kill(os.getpid(), sig).unwrap()
        return "survived"

    with pytest.raises(ChildFailed, match=f"killed by {sig.name}"):
        in_child(run)


@pytest.mark.parametrize("sig", [signal.SIGCHLD, signal.SIGURG, signal.SIGWINCH])
def test_default_action_of_ignored_signal_does_nothing(kernel: Kernel, in_child, sig) -> None:
    def run() -> str:
        signal.signal(sig, signal.SIG_DFL)
        kernel.kill(os.getpid(), sig).unwrap()
        return "survived"

    assert in_child(run) == "survived"


def test_sigstop_stops_and_sigcont_resumes(kernel: Kernel, in_child) -> None:
    """A stopped child does not run: it writes only after SIGCONT."""

    def run() -> tuple[bool, bool, bytes, int]:
        r, w = os.pipe()
        go_r, go_w = os.pipe()

        def child() -> None:
            os.read(go_r, 1)
            os.write(w, b"ran")

        pid = forking.fork(kernel, child)
        kernel.kill(pid, signal.SIGSTOP).unwrap()
        stopped = os.WIFSTOPPED(forking.wait(kernel, pid, kernel.WUNTRACED))
        os.write(go_w, b"g")  # the child would run now, were it not stopped
        os.set_blocking(r, False)
        early = kernel.read(r, kernel.buf(3), 3).errno == "EAGAIN"
        kernel.kill(pid, signal.SIGCONT).unwrap()
        code = forking.exit_code(kernel, pid)
        os.set_blocking(r, True)
        return stopped, early, os.read(r, 3), code

    stopped, nothing_yet, out, code = in_child(run)
    assert stopped
    assert nothing_yet
    assert out == b"ran"
    assert code == 0


def test_sigkill_ends_a_stopped_process(kernel: Kernel, in_child) -> None:
    def run() -> int:
        pid = forking.fork(kernel, lambda: os.read(os.pipe()[0], 1))
        kernel.kill(pid, signal.SIGSTOP).unwrap()
        forking.wait(kernel, pid, kernel.WUNTRACED)
        kernel.kill(pid, signal.SIGKILL).unwrap()
        status = forking.wait(kernel, pid)
        return os.WTERMSIG(status) if os.WIFSIGNALED(status) else -1

    assert in_child(run) == signal.SIGKILL
