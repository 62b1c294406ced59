"""fork(2): a second process with its own pid, a copy of memory, and the parent's fds.

Children are forked raw (syscalls.forking) inside in_child, and always reaped.
aarch64/riscv64 have no fork syscall; forking.fork uses clone(SIGCHLD) there.
"""

import ast
import os
import resource
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from syscalls import forking, processes
from syscalls.kernel import Kernel


@pytest.mark.smoke
def test_fork_child_has_a_pid_other_than_the_parents(kernel: Kernel, in_child) -> None:
    def run() -> int:
        r, w = os.pipe()

        def child() -> None:
            os.write(w, kernel.getpid().unwrap().to_bytes(4, "little"))

        pid = forking.fork(kernel, child)
        reported = int.from_bytes(os.read(r, 4), "little")
        assert forking.exit_code(kernel, pid) == 0
        assert reported == pid
        return pid

    pid = in_child(run)
    assert pid > 0


@pytest.mark.smoke
def test_fork_child_sees_parent_as_getppid(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        r, w = os.pipe()
        pid = forking.fork(
            kernel, lambda: os.write(w, kernel.getppid().unwrap().to_bytes(4, "little")) and 0
        )
        ppid = int.from_bytes(os.read(r, 4), "little")
        forking.wait(kernel, pid)
        return ppid, os.getpid()

    ppid, parent = in_child(run)
    assert ppid == parent


@pytest.mark.smoke
def test_fork_returns_exit_code_through_wait4(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        pid = forking.fork(kernel, lambda: 42)
        status = kernel.new("int *")
        got = kernel.wait4(pid, status, 0, None).unwrap()
        return got - pid, status[0]

    delta, status = in_child(run)
    assert delta == 0
    assert os.WIFEXITED(status)
    assert os.WEXITSTATUS(status) == 42


@pytest.mark.smoke
def test_fork_child_writes_do_not_reach_the_parent(kernel: Kernel, in_child) -> None:
    def run() -> int:
        cell = kernel.new("long *", 1)

        def child() -> int:
            cell[0] = 2
            return cell[0]

        pid = forking.fork(kernel, child)
        assert forking.exit_code(kernel, pid) == 2
        return cell[0]

    assert in_child(run) == 1


@pytest.mark.smoke
def test_fork_child_inherits_open_file_descriptors(kernel: Kernel, in_child) -> None:
    def run() -> bytes:
        r, w = os.pipe()
        pid = forking.fork(kernel, lambda: kernel.write(w, b"hi", 2).unwrap() - 2)
        assert forking.exit_code(kernel, pid) == 0
        return os.read(r, 2)

    assert in_child(run) == b"hi"


@pytest.mark.smoke
def test_fork_child_shares_the_file_offset(kernel: Kernel, tmp, in_child) -> None:
    (tmp / "f").write_bytes(b"0123456789")

    def run() -> int:
        fd = os.open(tmp / "f", os.O_RDONLY)
        pid = forking.fork(kernel, lambda: kernel.lseek(fd, 4, kernel.SEEK_SET).unwrap() - 4)
        assert forking.exit_code(kernel, pid) == 0
        return kernel.lseek(fd, 0, kernel.SEEK_CUR).unwrap()

    assert in_child(run) == 4


# -- what the child does not get (fork(2)'s list) ---------------------------------------

SIGSET_BYTES = 8  # the kernel's sigset_t: 64 signals


def _pending(kernel: Kernel) -> int:
    mask = kernel.new("uint64_t *")
    kernel.rt_sigpending(mask, SIGSET_BYTES).unwrap()
    return int(mask[0])


def _in_forked_child(kernel: Kernel, body: Callable[[], object]) -> object:
    """body()'s value (a Python literal: numbers, strings, lists), computed in a raw
    fork's child: for what must be asked in the fork's child, not in in_child's own."""
    r, w = os.pipe()

    def child() -> None:
        os.write(w, repr(body()).encode())

    pid = forking.fork(kernel, child)
    os.close(w)
    assert forking.exit_code(kernel, pid) == 0
    with os.fdopen(r, "rb") as f:
        return ast.literal_eval(f.read().decode())


@pytest.mark.os("linux")
def test_fork_child_starts_with_no_pending_signals(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        usr1 = 1 << (signal.SIGUSR1 - 1)
        block = kernel.new("uint64_t *", usr1)
        kernel.rt_sigprocmask(kernel.SIG_BLOCK, block, None, SIGSET_BYTES).unwrap()
        kernel.kill(os.getpid(), signal.SIGUSR1).unwrap()  # pending here, blocked
        return _in_forked_child(kernel, lambda: _pending(kernel)), _pending(kernel) & usr1

    child_pending, parent_pending = in_child(run)
    assert child_pending == 0
    assert parent_pending  # still the parent's


@pytest.mark.os("linux")
def test_fork_child_has_no_interval_timers_or_alarm(kernel: Kernel, in_child) -> None:
    def armed(which: int) -> int:
        cur = kernel.new("struct itimerval *")
        kernel.getitimer(which, cur).unwrap()
        return cur.it_value.tv_sec * 1_000_000 + cur.it_value.tv_usec

    # arm64 and the other generic-syscall arches have no alarm(2): ITIMER_REAL is theirs.
    has_alarm = "alarm" in kernel.platform.syscalls

    def run() -> tuple[list[int], list[int], list[int]]:
        value = kernel.new("struct itimerval *", [[0, 0], [100, 0]])
        timers = (kernel.ITIMER_REAL, kernel.ITIMER_VIRTUAL, kernel.ITIMER_PROF)
        for which in timers:
            kernel.setitimer(which, value, None).unwrap()
        child = _in_forked_child(
            kernel,
            lambda: [armed(w) for w in timers] + ([kernel.alarm(0).unwrap()] if has_alarm else []),
        )
        return child[:3], child[3:], [armed(w) for w in timers]

    child_timers, child_alarm, parent_timers = in_child(run)
    assert child_timers == [0, 0, 0]
    assert child_alarm == ([0] if has_alarm else [])  # no alarm left to cancel
    assert all(t > 0 for t in parent_timers)


@pytest.mark.os("linux")
def test_fork_child_has_none_of_the_parents_posix_timers(kernel: Kernel, in_child) -> None:
    def run() -> tuple[str, str]:
        ev = kernel.new("struct sigevent *")
        ev.sigev_notify = kernel.SIGEV_NONE
        tid = kernel.new("int *")
        kernel.timer_create(kernel.CLOCK_MONOTONIC, ev, tid).unwrap()
        cur = kernel.new("struct itimerspec *")
        in_fork = _in_forked_child(kernel, lambda: kernel.timer_gettime(tid[0], cur).outcome)
        return in_fork, kernel.timer_gettime(tid[0], cur).outcome

    assert in_child(run) == ("EINVAL", "ok")


@pytest.mark.os("linux")
def test_fork_child_does_not_hold_the_parents_record_locks(
    kernel: Kernel, tmp: Path, in_child
) -> None:
    (tmp / "f").write_bytes(b"x" * 16)

    def run() -> tuple[int, int, str, int]:
        fd = os.open(tmp / "f", os.O_RDWR)
        lock = kernel.new("struct flock *")
        lock.l_type, lock.l_whence, lock.l_start, lock.l_len = kernel.F_WRLCK, 0, 0, 0
        kernel.fcntl(fd, kernel.F_SETLK, lock).unwrap()

        def child() -> tuple[int, int, str]:
            probe, mine = kernel.new("struct flock *"), kernel.new("struct flock *")
            for want in (probe, mine):
                want.l_type, want.l_whence, want.l_start, want.l_len = kernel.F_WRLCK, 0, 0, 0
            kernel.fcntl(fd, kernel.F_GETLK, probe).unwrap()  # a lock that is not ours
            taken = kernel.fcntl(fd, kernel.F_SETLK, mine).outcome
            return int(probe.l_type), int(probe.l_pid), taken

        l_type, l_pid, taken = _in_forked_child(kernel, child)
        return l_type, l_pid, taken, os.getpid()

    l_type, l_pid, taken, parent = in_child(run)
    assert (l_type, l_pid) == (kernel.F_WRLCK, parent)  # the parent's, in the child's way
    assert taken in ("EAGAIN", "EACCES")  # POSIX allows both; Linux answers EAGAIN


@pytest.mark.os("linux")
def test_fork_child_has_no_memory_locks(kernel: Kernel, in_child) -> None:
    page = os.sysconf("SC_PAGE_SIZE")

    def run() -> tuple[int, int]:
        addr = kernel.mmap(None, page, kernel.PROT_READ | kernel.PROT_WRITE,
                           kernel.MAP_PRIVATE | kernel.MAP_ANONYMOUS, -1, 0).unwrap()  # fmt: skip
        r = kernel.mlock(addr, page)
        if r.errno in ("EPERM", "ENOMEM", "EAGAIN"):
            pytest.skip(f"mlock of one page: {r.errno} (RLIMIT_MEMLOCK)")
        r.unwrap()
        if _locked_kb() is None:
            pytest.skip("/proc/self/status has no VmLck line here: nothing to count locks by")
        return _in_forked_child(kernel, _locked_kb), _locked_kb()

    child_kb, parent_kb = in_child(run)
    assert child_kb == 0
    assert parent_kb >= page // 1024


def _locked_kb() -> int | None:
    locked = processes.status("self").get(b"VmLck")  # b"4 kB"
    return None if locked is None else int(locked.split()[0])


@pytest.mark.os("linux")
def test_fork_child_cannot_use_the_parents_aio_context(kernel: Kernel, in_child) -> None:
    def run() -> tuple[str, str]:
        ctx = kernel.new("unsigned long *")
        r = kernel.io_setup(1, ctx)
        if r.errno == "EAGAIN":  # (ENOSYS is judged before: syscalls.enosys)
            pytest.skip("io_setup: EAGAIN (aio-max-nr reached)")
        r.unwrap()
        in_fork = _in_forked_child(kernel, lambda: kernel.io_destroy(ctx[0]).outcome)
        return in_fork, kernel.io_destroy(ctx[0]).outcome

    assert in_child(run) == ("EINVAL", "ok")


@pytest.mark.os("linux")
def test_fork_child_resource_usage_starts_at_zero(kernel: Kernel, in_child) -> None:
    def cpu() -> float:
        ru = kernel.new("struct rusage *")
        kernel.getrusage(kernel.RUSAGE_SELF, ru).unwrap()
        t = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1_000_000
        return (t + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6

    def run() -> tuple[float, float]:
        deadline = time.process_time() + 0.1
        while time.process_time() < deadline:  # the parent's own CPU time: 0.1 s at least
            pass
        at_fork = cpu()
        return _in_forked_child(kernel, cpu), at_fork

    child_cpu, parent_cpu = in_child(run)
    assert parent_cpu >= 0.1
    # Its own from its start, however dear a fork is here (UML's: ~0.3 s): below what
    # the parent had when it forked, which a child that inherited it would begin with.
    assert child_cpu < parent_cpu


# RLIMIT_NPROC counts the processes of the caller's real user; past it, fork is EAGAIN
# unless that user is root, or the caller holds CAP_SYS_RESOURCE or CAP_SYS_ADMIN
# (kernel/fork.c copy_process).
@pytest.mark.os("linux")
@pytest.mark.as_user("root forks whatever its RLIMIT_NPROC (the initial user)")
def test_fork_beyond_rlimit_nproc_as_a_user_is_eagain(kernel: Kernel, in_child) -> None:
    def run() -> str:
        resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))  # this process already counts
        if kernel.has("fork"):
            r = kernel.fork()
        else:
            r = kernel.clone(kernel.SIGCHLD, 0, 0, 0, 0)
        if r.ok:
            forking.child_side(r.value)
            forking.wait(kernel, r.value)
        return r.outcome

    assert in_child(run) == "EAGAIN"
