"""The controller's watchdog thread: per-test limits, worker deaths, the run's time limit.

Every POLL seconds it reads each worker's status record (syscalls.runner.status) and
  - kills the worker (and everything below it) whose test has run past its limit plus
    a grace period -- pytest-timeout's SIGALRM in the worker gets the first chance and a
    traceback; the watchdog is for tests that block the signal or hang in C with the
    GIL held -- and remembers why, for the crash report;
  - kills the worker whose main thread a test ended (pthread_exit), its other threads
    left running: the test could only wait for its limit;
  - kills the worker that a test stopped (SIGSTOP, SIGTSTP, SIGTTIN or SIGTTOU: /proc's
    state T; or a tracee's stop, t, for a tracer that does not continue it) and nothing
    continued for STOPPED seconds: stopped, it could only wait for its limit, two
    minutes, where SIGALRM cannot reach it;
  - kills the worker whose test wrote more than OUTPUT_LIMIT to its standard output and
    error (the files they are, under pytest's capture, grow by that much): a test that
    printed in a loop filled the disk at about 0.5 GB/s until its limit, and the worker
    then read it all into memory (4 s of it: 2 GB on disk, 2.4 GB resident);
  - kills the worker whose tests' directories filled their file system (syscalls.runner.
    space: one statvfs() a tick);
  - kills the worker, with its whole tree, that has more than a thousand processes
    below it once the machine's tasks have grown by twice that (syscalls.runner.
    forkbomb: one read of /proc/loadavg a tick): a fork bomb took every pid;
  - kills a forked worker that sits between tests, at one status record, for IDLE
    seconds while the controller's loop comes round: nothing it waits for is the
    controller's, so it is stuck (in the checks after its test, say, behind a thread
    that test left holding the interpreter's lock: the run hung for ever);
  - kills an xdist worker that sits between tests, at one status record counting more
    tests ended than the controller has reports of, for UNREPORTED seconds, while the
    controller has no events waiting (it is not merely behind): its channel to the
    controller is broken (a test wrote into execnet's pipe, and the controller waited
    for ever for a message of the length those bytes read as);
  - notices a worker that died (waitid WNOWAIT, leaving the reaping to the pool or
    execnet) and keeps its exit status, for the crash report;
  - kills and reaps processes adopted by the controller (a subreaper while the watchdog
    runs): the orphans of a worker that died mid-test, which would otherwise keep the
    worker's pipes open and the controller waiting for ever. The controller itself
    starts no processes but its workers, so any other child once a worker has died is
    such an orphan -- except while xdist starts a replacement worker (between
    testnodedown and newgateway), when the adopted are left for the next round;
  - at the overall --time-limit, sets the reason and interrupts the main thread (again
    every second, until the run ends); and the same when importing one test module
    takes longer than the per-test limit (code at a module's top level that hangs).
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from syscalls import processes, tempdirs
from syscalls.runner import stacks
from syscalls.runner.forkbomb import Bombs
from syscalls.runner.space import Space
from syscalls.runner.status import Status, read_status

POLL = 0.2
STOPPED = 10.0  # seconds a worker may stay stopped in a test (a child may continue it)
# What a test may write to its standard output and error: pytest captures them in
# temporary files, on disk, and reads them whole when the test ends (a report keeps 1 MiB)
OUTPUT_LIMIT = 64 << 20
UNREPORTED = 15.0  # seconds an idle xdist worker's ended tests may stay unreported
IDLE = 15.0  # seconds a forked worker may sit between tests, its controller attentive
ATTENTIVE = 3.0  # seconds since the pool's loop (and this thread) last came round


def grace(limit: float) -> float:
    """How long past its limit a test runs before the watchdog acts: long enough for
    pytest-timeout's own failure (a traceback) and the test's teardown, and well within
    the minute a target's host allows beyond the limit before it calls the guest hung."""
    return min(max(5.0, 0.1 * limit), 30.0)


def describe_exit(result: os.waitid_result) -> str:
    if result.si_code == os.CLD_EXITED:
        return f"worker exited with status {result.si_status}"
    return f"worker died: {processes.signal_name(result.si_status)}"


def peek_exit(pid: int) -> str | None:
    """How child `pid` ended, if it has, without reaping it; None while it runs (and
    where Python has no waitid, as on some BSDs: the crash report then says less)."""
    if not hasattr(os, "waitid"):
        return None
    try:
        result = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return "worker died (its status was already collected)"
    except OSError:
        return None
    if result is None or result.si_code not in (os.CLD_EXITED, os.CLD_KILLED, os.CLD_DUMPED):
        return None  # a tracee's stop (its tracer's wait sees those without WSTOPPED)
    return describe_exit(result)


class Output:
    """How much a worker's test has written to its standard output and error: the sizes
    of what its descriptors 1 and 2 are, where they are regular files (pytest's capture
    files; a run's output sent to a file with -s), since the test began."""

    def __init__(self) -> None:
        self.seq = -1  # the status record's test the sizes below were taken in
        self.at_start = 0

    def grown(self, pid: int, seq: int) -> int:
        size = _regular_size(pid, 1) + _regular_size(pid, 2)
        if seq != self.seq:  # another test: measured from here
            self.seq, self.at_start = seq, size
        return size - self.at_start


def _regular_size(pid: int, fd: int) -> int:
    try:
        st = os.stat(f"/proc/{pid}/fd/{fd}")
    except OSError:
        return 0
    return st.st_size if stat.S_ISREG(st.st_mode) else 0


@dataclass
class Worker:
    pid: int
    status_file: Path
    death: str | None = None  # how it ended, once it has
    killed: str | None = None  # why the watchdog killed it
    killed_at: float = 0.0  # when (time.monotonic())
    stopped: float | None = None  # since when it has been seen stopped
    output: Output = field(default_factory=Output)
    xdist: bool = False  # its reports come through execnet (counted by `reported`)
    unreported: float | None = None  # since when it has been idle with tests unreported
    unreported_seq: int = -1  # ... at this status record, unchanged since
    idle: tuple[int, float] = (-1, 0.0)  # a forked worker: (status record seq, since when)
    dumping: bool = False  # sent SIGABRT for its stack, which `killed` is yet to carry


class Watchdog:
    def __init__(
        self,
        status_dir: Path | None,
        time_limit: float | None,
        on_time_limit: Callable[[str], None],
    ) -> None:
        self.status_dir = status_dir
        self.time_limit = time_limit
        self.on_time_limit = on_time_limit
        self.started = time.monotonic()
        self.workers: dict[str, Worker] = {}  # "w0" (forked) or xdist's "gw0" -> worker
        self.lock = threading.Lock()
        self.spawning = False  # xdist is starting a replacement worker
        self.untracked = False
        self.deaths = 0
        self.expired: float | bool = False  # when the time limit was last acted on
        self.collecting_now: tuple[str, float, float] | None = None  # (module, start, limit)
        self.space: Space | None = None  # once the run's directories are made
        self.bombs = Bombs()
        self.reports: dict[str, int] = {}  # xdist worker id -> tests the controller has
        # events xdist's workers sent that the controller has yet to handle (its queue)
        self.backlog: Callable[[], int] = lambda: 0
        self.served: float | None = None  # when the pool's loop last came round
        self.held = False  # this thread did not come round for a while (a stopped process)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="syscalls-watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(5)

    def add_worker(self, wid: str, pid: int) -> None:
        assert self.status_dir is not None
        with self.lock:
            self.workers[wid] = Worker(pid, self.status_dir / wid, xdist=True)
            self.spawning = False

    def spawn(self, wid: str, status_file: Path, fork: Callable[[], int]) -> int:
        """fork() a worker of our own (syscalls.runner.pool) and watch it: under the
        lock, so reap_adopted() never takes the new child for an orphan."""
        with self.lock:
            pid = fork()
            self.workers[wid] = Worker(pid, status_file)
        return pid

    def forget(self, wid: str) -> None:
        """A worker that was reaped: its pid may soon be another process's."""
        with self.lock:
            self.workers.pop(wid, None)

    def worker_down(self) -> None:
        """xdist is about to replace a worker: its new process is not known yet."""
        with self.lock:  # waits for a reap_adopted() in progress, which knew every worker
            self.spawning = True

    def untracked_worker(self) -> None:
        """A worker whose pid execnet does not show: it is watched by the pid in its
        status record once that appears, and none of the controller's children can be
        told apart from an orphan any more, so none is reaped."""
        with self.lock:
            self.untracked = True

    def reported(self, wid: str) -> None:
        """The controller has the last report (teardown) of one more of `wid`'s tests."""
        self.reports[wid] = self.reports.get(wid, 0) + 1

    def death_of(self, wid: str, wait: float = 3.0) -> str | None:
        """Why worker `wid` ended: the watchdog's reason, or its exit status (waited
        for up to `wait` seconds, as the pipe can close just before the exit)."""
        worker = self.workers.get(wid)
        if worker is None:
            return None
        deadline = time.monotonic() + wait
        while worker.killed is None and worker.death is None:
            worker.death = peek_exit(worker.pid)
            if worker.death is None:
                if time.monotonic() > deadline:
                    return None
                time.sleep(0.01)
        dumped = time.monotonic() + stacks.ABORT_GRACE + 1.0
        while worker.dumping and time.monotonic() < dumped:  # its stack, on the way
            time.sleep(0.01)
        if worker.killed is not None:
            return worker.killed
        assert worker.death is not None
        if worker.death.startswith("worker died:"):  # a signal: where, if it was a fault
            return worker.death + stacks.read(worker.status_file)
        return worker.death

    def collecting(self, module: str | None, limit: float) -> None:
        """The controller imports test module `module` (None: done), within `limit`
        seconds (0: no limit)."""
        self.collecting_now = (module, time.monotonic(), limit) if module else None

    def killed_since(self, wid: str) -> float | None:
        """When the watchdog killed worker `wid` (None if it has not)."""
        worker = self.workers.get(wid)
        return None if worker is None or worker.killed is None else worker.killed_at

    def status(self, wid: str) -> Status | None:
        worker = self.workers.get(wid)
        return None if worker is None else read_status(worker.status_file)

    def kill_workers(self) -> None:
        """At an interrupted end: every worker and what it started, at once."""
        with self.lock:
            live = [w.pid for w in self.workers.values() if w.death is None]
        for pid in live:
            processes.kill_tree(pid)
        self.reap_adopted()

    def reap_adopted(self) -> None:
        """Kill and reap the controller's children that are not its workers."""
        with self.lock:
            if self.spawning or self.untracked:
                return
            ours = {w.pid for w in self.workers.values()}
            for pid in processes.children():
                if pid in ours:
                    continue
                try:  # a zombie first, without a walk of /proc (a fork bomb's thousands)
                    if os.waitpid(pid, os.WNOHANG)[0]:
                        continue
                except ChildProcessError:
                    continue
                processes.kill_tree(pid)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)

    def _run(self) -> None:
        ticked = time.monotonic()
        while not self._stop.wait(POLL):
            now = time.monotonic()
            self.held, ticked = now - ticked > ATTENTIVE, now
            # Said again every second until the run ends: a test may swallow one.
            over = bool(self.time_limit) and now - self.started > (self.time_limit or 0)
            why = f"the run exceeded its overall limit of {self.time_limit or 0:g} s (--time-limit)"
            collecting = self.collecting_now
            if not over and collecting is not None and collecting[2] > 0:
                module, start, limit = collecting
                over = now - start > limit + grace(limit)
                why = (
                    f"collecting {module} took longer than {limit:g} s (the per-test limit, "
                    "--timeout): its code at import hangs"
                )
            if over and (self.expired is False or now - self.expired >= 1.0):
                self.expired = now
                self.on_time_limit(why)
            if self.untracked:
                self._adopt_status_files()
            for wid, worker in list(self.workers.items()):
                if worker.death is None and worker.killed is None:
                    self._check(wid, worker, now)
            self._check_space(now)
            self._check_bombs(now)
            if self.deaths:
                self.reap_adopted()

    def _adopt_status_files(self) -> None:
        """Workers whose pid execnet did not show: the pid their status record carries."""
        if self.status_dir is None:
            return
        for path in self.status_dir.iterdir():
            status = read_status(path)
            if path.name not in self.workers and status is not None:
                with self.lock:
                    self.workers[path.name] = Worker(status.pid, path)

    def _check(self, wid: str, worker: Worker, now: float) -> None:
        worker.death = peek_exit(worker.pid)
        if worker.death is not None:
            self.deaths += 1
            return
        rec = read_status(worker.status_file)
        if rec is not None and rec.module and rec.limit > 0:  # an xdist worker collects
            if now - rec.start > rec.limit + grace(rec.limit):
                why = (
                    f"collecting {rec.module} took longer than {rec.limit:g} s (the per-test "
                    "limit, --timeout): its code at import hangs"
                )
                self._kill(worker, why)
                self.on_time_limit(why)  # every worker imports it: the run ends
            return
        if rec is not None and not rec.nodeid and worker.xdist:
            self._check_reports(wid, worker, rec, now)
        elif rec is not None and not rec.nodeid:
            self._check_idle(worker, rec, now)
        if rec is None or not rec.nodeid:
            return
        letter = state(worker.pid)
        if letter == b"Z" and peek_exit(worker.pid) is None:
            # A zombie leader that has not exited: its main thread ended (pthread_exit)
            # and other threads go on; nothing would ever end the test (it took its limit)
            self._kill(
                worker,
                "its main thread ended (pthread_exit?) while other threads went on: the "
                "watchdog killed its worker",
            )
            return
        if letter in (b"T", b"t"):  # t: a tracee's stop, which only its tracer ends
            worker.stopped = worker.stopped or now
            if now - worker.stopped >= STOPPED:
                how = "by a signal (SIGSTOP, SIGTSTP, SIGTTIN or SIGTTOU)"
                if letter == b"t":
                    tracer = processes.status(worker.pid).get(b"TracerPid", b"?").decode()
                    whose = (
                        " (this run's controller: PTRACE_TRACEME?)"
                        if tracer == str(processes.own_pid())
                        else ""
                    )
                    how = f"for its tracer, pid {tracer}{whose},"
                self._kill(
                    worker,
                    f"stopped {how} and not continued for {now - worker.stopped:.0f} s: "
                    "the watchdog killed its worker",
                    stack=letter == b"T",
                )
                return
        else:
            worker.stopped = None
        written = worker.output.grown(worker.pid, rec.seq)
        if written > OUTPUT_LIMIT:
            self._kill(
                worker,
                f"wrote {written >> 20} MiB to its standard output and error (the limit is "
                f"{OUTPUT_LIMIT >> 20} MiB; pytest's capture keeps it on disk): the watchdog "
                "killed its worker",
            )
            return
        if rec.limit <= 0 or now - rec.start <= rec.limit + grace(rec.limit):
            return
        # Freeze it, and make sure it is still in that test (not just past it).
        if not _stop_and_wait(worker.pid):
            return
        again = read_status(worker.status_file)
        if again is None or again.seq != rec.seq:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, signal.SIGCONT)
            return
        self._kill(
            worker,
            f"exceeded {rec.limit:g} s (the per-test limit, --timeout): "
            f"the watchdog killed its worker after {now - rec.start:.0f} s",
            stack=True,
        )

    def _check_reports(self, wid: str, worker: Worker, rec: Status, now: float) -> None:
        missing = rec.ended - self.reports.get(wid, 0)
        if missing > 0 and self.backlog() > 0:
            missing = 0  # the controller is behind with its events (a terminal held, say)
        if missing <= 0 or worker.unreported_seq != rec.seq:  # caught up, or moved on
            worker.unreported = None if missing <= 0 else now
            worker.unreported_seq = rec.seq
            return
        if worker.unreported is not None and now - worker.unreported >= UNREPORTED:
            self._kill(
                worker,
                f"its worker ended {missing} test{'s' if missing > 1 else ''} whose reports "
                f"never reached the controller in {now - worker.unreported:.0f} s: its channel "
                "to the controller was broken (bytes written into execnet's pipe by a test "
                "just before?); the watchdog killed its worker",
            )

    def _check_idle(self, worker: Worker, rec: Status, now: float) -> None:
        """A forked worker between tests starts its next one or goes: what it asks the
        controller is answered as the controller reads it. At one record for IDLE
        seconds while the controller came round, it is stuck outside any limit."""
        attentive = self.served is not None and now - self.served < ATTENTIVE
        if rec.seq != worker.idle[0] or not attentive or self.held:
            worker.idle = (rec.seq, now)
        elif now - worker.idle[1] >= IDLE:
            after = f"after {rec.last}" if rec.last else "before its first test"
            self._kill(
                worker,
                f"its worker sat between tests {after} for {now - worker.idle[1]:.0f} s, "
                "neither reporting, nor starting another test, nor ending (stuck in the "
                "checks after a test, behind a thread it left holding the interpreter's "
                "lock?): the watchdog killed it",
                stack=True,
            )

    def _check_space(self, now: float) -> None:
        if self.space is None:
            dirs = os.environ.get(tempdirs.RUN_DIRS)  # set as the run configures
            if not dirs:
                return
            self.space = Space(dirs.split(os.pathsep))
        found = self.space.hog(self._running(), now)
        if found is not None:
            self._kill(self.workers[found[0]], found[1])

    def _running(self) -> dict[str, int]:
        """Worker id -> pid of the workers neither dead nor killed."""
        return {
            wid: w.pid for wid, w in list(self.workers.items()) if w.death is None and not w.killed
        }

    def _check_bombs(self, now: float) -> None:
        found = self.bombs.bomb(self._running(), now)
        if found is not None:
            self._kill(self.workers[found[0]], found[1], group=True)

    def _kill(self, worker: Worker, why: str, group: bool = False, stack: bool = False) -> None:
        """`stack`: first ask it where it is (runner.stacks), for the failure."""
        worker.dumping = stack  # first: death_of() then waits for the stack
        worker.killed, worker.killed_at = why, time.monotonic()  # before it can be found dead
        if stack:
            try:
                stacks.ask(worker.pid)
                worker.killed = why + stacks.read(worker.status_file)
            finally:
                worker.dumping = False
        if group:  # its process group at once: the kernel lets no member fork past a
            # group's SIGKILL, where a walk of /proc falls behind a tree that grows
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(worker.pid, signal.SIGKILL)
        processes.kill_tree(worker.pid)
        self.deaths += 1


def state(pid: int) -> bytes | None:
    """The state letter /proc gives process `pid` (None without /proc)."""
    fields = processes.stat_fields(pid)
    return fields[0] if fields else None


def _stop_and_wait(pid: int, wait: float = 0.1) -> bool:
    """SIGSTOP and wait (briefly) until it has taken effect; False if pid is gone."""
    try:
        os.kill(pid, signal.SIGSTOP)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        now = state(pid)
        if now is None or now in (b"T", b"t", b"Z"):
            break  # no /proc: the kill and the re-read below still hold
        time.sleep(0.002)
    return True
