"""PTRACE_SETSIGINFO, PTRACE_GETSIGMASK and PTRACE_SETSIGMASK: the tracer rewrites the
signal a tracee is about to take, and reads and sets its blocked mask.

kernel/ptrace.c: at a signal-delivery stop the siginfo is the tracee's last_siginfo;
SETSIGINFO replaces it and it travels on with the signal the tracer resumes with (a
signal now blocked is queued again, with that siginfo, for the tracee to take later).
GETSIGMASK and SETSIGMASK take the size of the kernel's sigset_t (8) in addr, EINVAL
otherwise; SETSIGMASK cannot block SIGKILL or SIGSTOP (they are dropped from the mask).
"""

import os
import signal

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

SIGSET = 8


def _mask(kernel: Kernel, *signals: int):
    return kernel.new("uint64_t *", sum(1 << (s - 1) for s in signals))


def _members(mask: int) -> set[int]:
    return {s for s in range(1, 65) if mask >> (s - 1) & 1}


def test_setsiginfo_changes_the_siginfo_the_tracee_receives(
    kernel: Kernel, ptrace, in_child
) -> None:
    def run() -> tuple[int, int, int, int, int]:
        seen = kernel.new("int[3]")  # in this process; the tracee exits with a digest

        def body() -> int:
            os.kill(os.getpid(), signal.SIGUSR1)  # stops for the tracer, then is queued
            info = kernel.new("siginfo_t *")
            r = kernel.rt_sigtimedwait(_mask(kernel, signal.SIGUSR1), info, None, SIGSET)
            ok = r.value == signal.SIGUSR1
            return (info.si_code == kernel.SI_QUEUE) | (info.si_status == 1234) << 1 | ok << 2

        with ptrace.traceme(body) as pid:
            ptrace("PTRACE_CONT", pid, 0, 0).unwrap()
            assert ptrace.wait_stop(pid) == signal.SIGUSR1
            info = kernel.new("siginfo_t *")
            ptrace("PTRACE_GETSIGINFO", pid, 0, info).unwrap()
            seen[0] = info.si_code
            info.si_code, info.si_status = kernel.SI_QUEUE, 1234  # si_status: sival_int
            ptrace("PTRACE_SETSIGINFO", pid, 0, info).unwrap()
            back = kernel.new("siginfo_t *")
            ptrace("PTRACE_GETSIGINFO", pid, 0, back).unwrap()
            seen[1], seen[2] = back.si_code, back.si_status
            ptrace("PTRACE_SETSIGMASK", pid, SIGSET, _mask(kernel, signal.SIGUSR1)).unwrap()
            ptrace("PTRACE_CONT", pid, 0, signal.SIGUSR1).unwrap()
            status = ptrace.wait(pid)
            return seen[0], seen[1], seen[2], os.WIFEXITED(status), os.WEXITSTATUS(status)

    before, code, value, exited, digest = in_child(run)
    assert before == kernel.SI_USER
    assert (code, value) == (kernel.SI_QUEUE, 1234)
    assert exited
    assert digest == 0b111  # taken later, with the tracer's si_code and value


def _stopped_twice(kernel: Kernel, ptrace, body):
    """traceme with a body that blocks SIGUSR2 alone and stops itself again (the mask is
    set whole: a run may start with signals blocked, as `perf stat` blocks SIGWINCH)."""

    def stop_again() -> int:
        kernel.rt_sigprocmask(kernel.SIG_SETMASK, _mask(kernel, signal.SIGUSR2), None, SIGSET)
        os.kill(os.getpid(), signal.SIGSTOP)
        return body()

    return ptrace.traceme(stop_again)


def test_getsigmask_reads_the_tracees_blocked_signals(kernel: Kernel, ptrace, in_child) -> None:
    def run() -> set[int]:
        with _stopped_twice(kernel, ptrace, lambda: 0) as pid:
            ptrace("PTRACE_CONT", pid, 0, 0).unwrap()
            ptrace.wait_stop(pid)
            mask = kernel.new("uint64_t *")
            ptrace("PTRACE_GETSIGMASK", pid, SIGSET, mask).unwrap()
            return _members(mask[0])

    assert in_child(run) == {signal.SIGUSR2}


def test_setsigmask_sets_the_tracees_mask_without_kill_or_stop(
    kernel: Kernel, ptrace, in_child
) -> None:
    def run() -> tuple[set[int], int]:
        def report() -> int:  # exit 0 if the tracee's own mask is {SIGUSR1}
            old = kernel.new("uint64_t *")
            kernel.rt_sigprocmask(kernel.SIG_BLOCK, None, old, SIGSET).unwrap()
            return 0 if _members(old[0]) == {signal.SIGUSR1} else 1

        with _stopped_twice(kernel, ptrace, report) as pid:
            ptrace("PTRACE_CONT", pid, 0, 0).unwrap()
            ptrace.wait_stop(pid)
            wanted = _mask(kernel, signal.SIGUSR1, signal.SIGKILL, signal.SIGSTOP)
            ptrace("PTRACE_SETSIGMASK", pid, SIGSET, wanted).unwrap()
            mask = kernel.new("uint64_t *")
            ptrace("PTRACE_GETSIGMASK", pid, SIGSET, mask).unwrap()
            ptrace("PTRACE_CONT", pid, 0, 0).unwrap()
            status = ptrace.wait(pid)
            return _members(mask[0]), os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1

    assert in_child(run) == ({signal.SIGUSR1}, 0)


@pytest.mark.parametrize("request_", ["PTRACE_GETSIGMASK", "PTRACE_SETSIGMASK"])
def test_sigmask_requests_with_another_size_are_einval(
    kernel: Kernel, ptrace, in_child, request_: str
) -> None:
    def run() -> str:
        with ptrace.traceme() as pid:
            return ptrace(request_, pid, 4, kernel.new("uint64_t *")).outcome

    assert in_child(run) == "EINVAL"
