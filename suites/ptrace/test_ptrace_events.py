"""PTRACE_O_TRACEFORK, TRACEVFORK, TRACEVFORKDONE, TRACECLONE, TRACEEXEC and EXITKILL.

An event stop reports SIGTRAP with the event in bits 16 and up of the wait status
(status >> 8 == SIGTRAP | event << 8), and PTRACE_GETEVENTMSG tells more
(kernel/fork.c, fs/exec.c, kernel/ptrace.c): the new task's id for FORK, VFORK, CLONE
and VFORK_DONE, the thread id the task had before exec for EXEC. A task the tracee
creates under one of these options is traced from its start, which is a SIGSTOP stop
(for a tracee that was not seized). Without TRACEEXEC, an exec by a traced (not seized)
task stops it with a plain SIGTRAP. With EXITKILL, the tracee gets SIGKILL when its
tracer exits.
"""

import os
import shutil
import signal
import threading

import pytest

from syscalls import forking
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

TRUE = shutil.which("true") or "/bin/true"


def _msg(kernel: Kernel, ptrace, pid: int) -> int:
    msg = kernel.new("unsigned long *")
    ptrace("PTRACE_GETEVENTMSG", pid, 0, msg).unwrap()
    return int(msg[0])


def _event_stop(ptrace, pid: int) -> tuple[int, int]:
    """(stop signal, event) of the tracee's next stop."""
    status = ptrace.wait(pid)
    assert os.WIFSTOPPED(status), f"tracee did not stop: status {status:#x}"
    return os.WSTOPSIG(status), status >> 16


def _run_to_exit(ptrace, pid: int, running: bool = False) -> int:
    """Continue the stopped (or already `running`) task through any stops until it
    exits; its exit code."""
    while True:
        if not running:
            ptrace("PTRACE_CONT", pid, 0, 0).unwrap()
        running = False
        status = ptrace.wait(pid)
        if os.WIFEXITED(status):
            return os.WEXITSTATUS(status)
        assert os.WIFSTOPPED(status), f"task ended by a signal: status {status:#x}"


def test_tracefork_stops_at_fork_with_the_childs_pid(kernel: Kernel, ptrace, in_child) -> None:
    def body() -> int:
        return forking.exit_code(kernel, forking.fork(kernel, lambda: 3))

    def run() -> tuple[int, int, bool, int, int]:
        with ptrace.traceme(body) as pid:
            ptrace("PTRACE_SETOPTIONS", pid, 0, kernel.PTRACE_O_TRACEFORK).unwrap()
            ptrace("PTRACE_CONT", pid, 0, 0).unwrap()
            sig, event = _event_stop(ptrace, pid)
            child = _msg(kernel, ptrace, pid)
            first = ptrace.wait_stop(child)  # traced from its first instruction
            child_code = _run_to_exit(ptrace, child)
            return sig, event, first == signal.SIGSTOP, child_code, _run_to_exit(ptrace, pid)

    sig, event, stopped, child_code, code = in_child(run)
    assert (sig, event) == (signal.SIGTRAP, kernel.PTRACE_EVENT_FORK)
    assert stopped
    assert (child_code, code) == (3, 3)


def test_tracevfork_and_vforkdone_report_the_child_around_its_exec(
    kernel: Kernel, ptrace, in_child
) -> None:
    """posix_spawn (glibc: clone with CLONE_VM|CLONE_VFORK) stops the parent at the vfork
    and again when the child has exec'd and let go of the parent's memory."""

    def body() -> int:
        child = os.posix_spawn(TRUE, ["true"], {})
        return os.waitstatus_to_exitcode(os.waitpid(child, 0)[1])

    def run() -> tuple:
        options = kernel.PTRACE_O_TRACEVFORK | kernel.PTRACE_O_TRACEVFORKDONE
        with ptrace.traceme(body) as pid:
            ptrace("PTRACE_SETOPTIONS", pid, 0, options).unwrap()
            ptrace("PTRACE_CONT", pid, 0, 0).unwrap()
            vfork = _event_stop(ptrace, pid)
            child = _msg(kernel, ptrace, pid)
            ptrace("PTRACE_CONT", pid, 0, 0).unwrap()  # it waits for the child's exec
            first = ptrace.wait_stop(child)
            child_code = _run_to_exit(ptrace, child)  # through its exec's SIGTRAP
            done = _event_stop(ptrace, pid)
            done_msg = _msg(kernel, ptrace, pid)
            return vfork, first, child_code, done, done_msg == child, _run_to_exit(ptrace, pid)

    vfork, first, child_code, done, same_child, code = in_child(run)
    assert vfork == (signal.SIGTRAP, kernel.PTRACE_EVENT_VFORK)
    assert first == signal.SIGSTOP
    assert done == (signal.SIGTRAP, kernel.PTRACE_EVENT_VFORK_DONE)
    assert same_child
    assert (child_code, code) == (0, 0)


def test_traceclone_stops_at_thread_creation_with_the_new_tid(
    kernel: Kernel, ptrace, in_child
) -> None:
    def body() -> int:
        tids: list[int] = []
        t = threading.Thread(target=lambda: tids.append(threading.get_native_id()))
        t.start()
        t.join()
        return 0 if tids and tids[0] != os.getpid() else 1

    def run() -> tuple:
        with ptrace.traceme(body) as pid:
            ptrace("PTRACE_SETOPTIONS", pid, 0, kernel.PTRACE_O_TRACECLONE).unwrap()
            ptrace("PTRACE_CONT", pid, 0, 0).unwrap()
            clone = _event_stop(ptrace, pid)
            tid = _msg(kernel, ptrace, pid)
            first = ptrace.wait_stop(tid)
            ptrace("PTRACE_CONT", tid, 0, 0).unwrap()
            ptrace("PTRACE_CONT", pid, 0, 0).unwrap()
            thread_end = ptrace.wait(tid)  # a traced thread's exit is reported to us
            code = _run_to_exit(ptrace, pid, running=True)
            return clone, tid != pid, first, os.WIFEXITED(thread_end), code

    clone, new_tid, first, thread_exited, code = in_child(run)
    assert clone == (signal.SIGTRAP, kernel.PTRACE_EVENT_CLONE)
    assert new_tid
    assert first == signal.SIGSTOP
    assert thread_exited
    assert code == 0


@pytest.mark.parametrize("option", [True, False])
def test_exec_stops_the_tracee(kernel: Kernel, ptrace, in_child, option: bool) -> None:
    """With TRACEEXEC an event stop whose message is the pre-exec thread id; without it a
    plain SIGTRAP (the tracee was not seized)."""

    def run() -> tuple[int, int, int, int]:
        with ptrace.traceme(lambda: os.execv(TRUE, ["true"])) as pid:
            if option:
                ptrace("PTRACE_SETOPTIONS", pid, 0, kernel.PTRACE_O_TRACEEXEC).unwrap()
            ptrace("PTRACE_CONT", pid, 0, 0).unwrap()
            sig, event = _event_stop(ptrace, pid)
            msg = _msg(kernel, ptrace, pid) - pid if option else 0
            return sig, event, msg, _run_to_exit(ptrace, pid)

    expected_event = kernel.PTRACE_EVENT_EXEC if option else 0
    assert in_child(run) == (signal.SIGTRAP, expected_event, 0, 0)


def _tracer_that_leaves(kernel: Kernel, ptrace, options: int) -> tuple[int, int]:
    """A child (the tracer) forks a grandchild (the tracee, blocked reading a pipe),
    traces it with `options`, lets it run and exits. This process is a child
    subreaper, so the tracee comes back to it. (tracee pid, pipe to release it)."""
    kernel.prctl(kernel.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0).unwrap()
    release_r, release_w = os.pipe()
    report_r, report_w = os.pipe()

    def tracer() -> int:
        def tracee() -> int:
            if not ptrace.request_tracing():
                return ptrace.TRACEME_ENOSYS
            os.kill(os.getpid(), signal.SIGSTOP)
            os.read(release_r, 1)
            return 0

        pid = forking.fork(kernel, tracee)
        assert ptrace.wait_stop(pid) == signal.SIGSTOP
        ptrace("PTRACE_SETOPTIONS", pid, 0, options).unwrap()
        ptrace("PTRACE_CONT", pid, 0, 0).unwrap()
        os.write(report_w, pid.to_bytes(4, "little"))
        return 0

    helper = forking.fork(kernel, tracer)
    os.close(report_w)
    tracee = int.from_bytes(os.read(report_r, 4), "little")
    assert forking.exit_code(kernel, helper) == 0
    return tracee, release_w


@pytest.mark.parametrize("exitkill", [True, False])
def test_exitkill_kills_the_tracee_when_the_tracer_exits(
    kernel: Kernel, ptrace, in_child, exitkill: bool
) -> None:
    def run() -> tuple[bool, int]:
        options = kernel.PTRACE_O_EXITKILL if exitkill else 0
        tracee, release = _tracer_that_leaves(kernel, ptrace, options)
        if not exitkill:
            os.write(release, b"x")  # untraced now: it reads and exits 0
        status = forking.wait(kernel, tracee)
        killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        return killed, os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1

    assert in_child(run) == ((True, -1) if exitkill else (False, 0))
