"""The run's workers, forked from the controller once the session is collected
(`--workers N`, what `syscalls run` uses): the controller hands out the collected tests
and replays each test's reports through its own hooks, so the terminal, JUnit XML, the
profile and a target's event log see one run.

Why not pytest-xdist: its workers are fresh interpreters that each import pytest and
collect the whole suite again, and every test costs the controller three or more
messages through execnet's thread. Here a worker is a fork of the collected session
(syscalls.runner.worker); a test costs two messages over a pipe; and a worker that died
is replaced by another fork at once, as is one that a test left changed beyond repair
(syscalls.runner.isolation). Plain `pytest -n` (xdist) keeps working as before.

Tests go out in contiguous runs of collection order (modules stay together, so their
fixtures are set up once per worker), long runs first and shorter ones towards the end,
so the workers finish together; tests marked `waits` (they wait on a timer) go first
of all, so others run while they wait; tests marked `disposable` (they change the whole
machine: the clock, modules, swap) run last, in one worker, with nothing beside them.
Each worker runs its tests in the order given.

The guarantees are the runner's (syscalls.runner): the watchdog reads each worker's
status file and kills a worker whose test overran; a worker that dies costs the test it
was running (the last "start" without an "end"), recorded with how it ended, and its
unstarted tests go to a fresh worker; --max-worker-restart, when given, bounds the deaths.
A worker still there UNKILLABLE seconds after the watchdog's SIGKILL (stuck in the
kernel) is left behind as if it had died, rather than waited for.
"""

from __future__ import annotations

import contextlib
import math
import os
import select
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from syscalls import processes, tempdirs
from syscalls.runner import frames, guard, siblings, strays, worker
from syscalls.runner.testprocess import own_limits, session_limit
from syscalls.runner.watchdog import Watchdog, state

MAX_RUN = 64  # tests handed out at once, at most
UNKILLABLE = 10.0  # seconds a worker the watchdog killed may take to die, then it is left
POLL = 1.0  # seconds between looks for such a worker
EARLY_DEATHS = 2  # workers that died beginning a test before it is failed, not run again
BEGINNING = (
    f"as it began this test, before its first report, {EARLY_DEATHS} times: the test is "
    "not handed out again"
)
WAITS = "waits"  # the marker of tests that mostly wait on a timer
ALONE = "disposable"  # they change the whole machine (the clock, modules, swap)


@dataclass
class Slot:
    """One worker, as the controller knows it."""

    wid: str
    pid: int
    commands: int  # our end of its command pipe
    reader: frames.Reader  # its results
    pending: deque[int] = field(default_factory=deque)  # handed out, not yet started
    current: int | None = None  # started, not yet ended
    done: bool = False  # it said bye
    retired: str | None = None  # it said why it must not run another test
    reaped: bool = False  # by stop(): its pid is no longer its own
    last: str | None = None  # the nodeid of the test it ended last
    ended: list[str] = field(default_factory=list)  # nodeids, since strays were last taken
    notes: dict[str, list[str]] = field(default_factory=dict)  # by nodeid: signals it sent
    last_words: str | None = None  # the traceback of the error that ended it
    garbled: str | None = None  # what it read from its command pipe, not a command
    location: tuple[str, int | None, str] | None = None  # the current test's, as it said


def count(value: str | int | None) -> int:
    """--workers: a number, or "auto": one per CPU this process may run on, and one more
    -- tests also wait (for their children, on timers) and a spare worker keeps the CPUs
    busy meanwhile (the whole suite on 2 CPUs: 5.5 s with 3 workers, 6.4 s with 2)."""
    if value in (None, "", "0"):
        return 0
    if value == "auto":
        if hasattr(os, "sched_getaffinity"):
            return len(os.sched_getaffinity(0)) + 1
        return (os.cpu_count() or 1) + 1
    try:
        n = int(value)  # type: ignore[arg-type]
    except ValueError:
        raise pytest.UsageError(f"--workers must be a number or auto, not {value!r}") from None
    if n < 0:
        raise pytest.UsageError(f"--workers must not be negative, not {n}")
    return n


class Pool:
    def __init__(
        self,
        config: pytest.Config,
        workers: int,
        watchdog: Watchdog,
        status_dir: Path,
        handlers: dict[int, Any],
        log_failure: Callable[[str, str], None],
        blocked: frozenset[int] = frozenset(),
        ending: frozenset[int] = frozenset(),
        interrupt: Callable[[int], None] | None = None,
    ) -> None:
        self.config = config
        self.workers = workers
        self.watchdog = watchdog
        self.status_dir = status_dir
        self.handlers = handlers  # the signal handlers the workers get back
        self.log_failure = log_failure  # (nodeid, why): a test failed outside its worker
        # Signals the controller takes itself (strays), and among them those that end
        # the run from outside (SIGTERM, SIGHUP), blocked only while it runs tests
        self.blocked, self.ending = blocked, ending
        self.strays = strays.Receiver(self.blocked)
        self.children = siblings.Children()  # the controller's: workers, and strangers
        self.gone: set[int] = set()  # pids of workers that have ended
        self.guard = guard.Guard()  # what a test may change in this process by its pid
        self.interrupt = interrupt  # (signal): the run ends, as for a signal from outside
        self.items: list[pytest.Item] = []
        self.limits: dict[str, float] = {}  # the tests' own limits, for every worker
        self.queue: deque[int] = deque()
        self.slots: dict[int, Slot] = {}  # by the fd of its results
        self.spawned = 0
        self.deaths = 0  # workers that died
        self.given_up: str | None = None  # why no worker is started any more
        self.finished = False  # every test was handed out and every worker said bye
        self.early_deaths: dict[int, int] = {}  # by test: workers that died beginning it
        restarts = config.getoption("maxworkerrestart", None)
        self.max_deaths = None if restarts is None else int(restarts)

    # --- the run -------------------------------------------------------------------

    def run(self, session: pytest.Session) -> None:
        # Under qemu-user (ci/run-arch) the extra thread is qemu's own, which its fork
        # emulation takes along (it starts it again in the child).
        qemu = self.config.getoption("target", None) == "qemu-user"
        foreign = 0 if qemu else _foreign_threads()
        if foreign:
            raise pytest.UsageError(
                f"--workers cannot fork this process: it runs {foreign} thread(s) of a C "
                "library (a rump kernel's?), which a fork does not take along; use -n N "
                "(xdist's workers each start their own) or run without workers"
            )
        self.session = session
        self.items = session.items
        self.limits = own_limits(self.items, session_limit(self.config))
        together, alone = _order(self.items)
        strays.block(self.ending)
        try:
            self._drive(together, self.workers)
            if alone and not self.queue and not self.given_up:
                self._drive(alone, 1)  # those that change the whole machine: nothing beside
            self._strays()
        finally:
            strays.unblock(self.ending)  # one still pending goes to its handler now
        self.finished = not self.queue and not self.given_up

    def _drive(self, indices: list[int], workers: int) -> None:
        self.queue = deque(indices)
        self.workers = workers
        for _ in range(min(workers, len(indices))):
            self._spawn()
        session = self.session
        wake = [self.strays.fd] if self.strays.fd is not None else []
        while self.slots:
            self.watchdog.served = time.monotonic()  # a worker's question gets its answer
            ready, _, _ = select.select([*self.slots, *wake], [], [], POLL)
            self._strays(ready)  # before the reports: the test that sent one still runs
            for slot in self.slots.values():
                slot.ended.clear()
            for fd in ready:
                if fd in self.slots:
                    self._serve(self.slots[fd])
            for slot in self._unkillable():
                self._ended(slot, left=True)
            if session.shouldfail or session.shouldstop:
                self.stop()
                if session.shouldfail:
                    raise session.Failed(session.shouldfail)
                raise session.Interrupted(session.shouldstop)

    def _take(self) -> list[int]:
        """The next run of tests: shorter as the queue empties (guided scheduling)."""
        size = max(1, min(MAX_RUN, math.ceil(len(self.queue) / (4 * self.workers))))
        return [self.queue.popleft() for _ in range(min(size, len(self.queue)))]

    def _spawn(self) -> None:
        first = self._take()
        wid = f"w{self.spawned}"
        status = self.status_dir / wid  # the worker writes it, the watchdog reads it
        self.spawned += 1
        commands_r, commands_w = os.pipe()
        results_r, results_w = os.pipe()
        others = [fd for s in self.slots.values() for fd in (s.commands, s.reader.fd)]
        if self.strays.fd is not None:
            others.append(self.strays.fd)  # the controller's signals, not the worker's
        controller = processes.own_pid()

        def fork() -> int:
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the worker; its reports reach the controller
                for fd in (commands_w, results_r, *others):
                    os.close(fd)  # another worker's pipes must close when it dies
                worker.serve(
                    self.session,
                    status,
                    commands_r,
                    results_w,
                    first,
                    self.handlers,
                    controller,
                    self.limits,
                    self.blocked,
                )
            return pid

        pid = self.watchdog.spawn(wid, status, fork)
        os.close(commands_r)
        os.close(results_w)
        self.slots[results_r] = Slot(wid, pid, commands_w, frames.Reader(results_r), deque(first))

    def _serve(self, slot: Slot) -> None:
        for message in slot.reader.read():
            self._handle(slot, message)
        if slot.reader.eof:
            self._ended(slot)

    def _handle(self, slot: Slot, message: tuple[Any, ...]) -> None:
        kind = message[0]
        hook = self.config.hook
        if kind == "start":
            index = message[1]
            while slot.pending and slot.pending.popleft() != index:
                pass
            slot.current = index
            item = self.items[index]
            slot.location = _location(message) or item.location
            hook.pytest_runtest_logstart(nodeid=item.nodeid, location=slot.location)
        elif kind == "end":
            item = self.items[message[1]]
            self._beside(slot, item.nodeid)
            changed = self.guard.check()
            if changed:
                slot.notes.setdefault(item.nodeid, []).append(changed)
            notes = slot.notes.pop(item.nodeid, None)
            for data in message[2]:
                if notes and data.get("when") == "teardown":
                    _fail_teardown(data, "\n".join(notes))
                report = hook.pytest_report_from_serializable(config=self.config, data=data)
                hook.pytest_runtest_logreport(report=report)
            location = slot.location if slot.current == message[1] else None
            hook.pytest_runtest_logfinish(nodeid=item.nodeid, location=location or item.location)
            slot.current, slot.last, slot.location = None, item.nodeid, None
            slot.ended.append(item.nodeid)
        elif kind == "more":
            more = [] if self.given_up else self._take()
            slot.pending.extend(more)  # back to the queue if it dies before it starts them
            with contextlib.suppress(OSError):  # it died: its end of the pipe tells
                frames.send(slot.commands, more)
        elif kind == "warn":
            fields = message[1]
            warning = warnings.WarningMessage(
                message=fields["message"],
                category=fields["category"] or UserWarning,
                filename=fields["filename"],
                lineno=fields["lineno"],
            )
            hook.pytest_warning_recorded.call_historic(
                kwargs={
                    "warning_message": warning,
                    "when": fields["when"],
                    "nodeid": fields["nodeid"],
                    "location": fields["location"],
                }
            )
        elif kind == "bye":
            slot.done = True
        elif kind == "retire":
            slot.retired = message[1]
        elif kind == "died":
            slot.last_words = message[1]
        elif kind == "garbled":
            slot.garbled = message[1]

    def _beside(self, slot: Slot, nodeid: str) -> None:
        """Processes a test started beside its worker (siblings), found as test `nodeid`
        of `slot` ends: killed, and named on the test of the worker whose process group
        they are in (each worker leads its own), else on this one."""
        found = siblings.strangers(self.children.now(), {s.pid for s in self.slots.values()})
        if not found:
            return
        siblings.end(found)
        for stranger in found:
            if stranger.group in self.gone:
                continue  # what a worker that ended left (its orphans): its test is told
            note = (
                f"the test started {stranger} beside its worker, as a child of the run's "
                "controller (clone with CLONE_PARENT), out of the reach of its worker's "
                "checks: killed; a test's processes must stay below it"
            )
            owner = next((s for s in self.slots.values() if s.pid == stranger.group), None)
            if owner is None:
                owner = slot
                note += (
                    " (it left its worker's process group: a test of another worker may "
                    "have started it)"
                )
            if owner is slot:
                slot.notes.setdefault(nodeid, []).append(note)
            elif owner.current is not None:
                owner.notes.setdefault(self.items[owner.current].nodeid, []).append(note)
            else:
                self.log_failure(owner.last or nodeid, note)

    def _strays(self, ready: list[int] | None = None, ending: bool = True) -> None:
        """Signals a test sent the controller (strays), or the command, which passed them
        on: its test fails at teardown, or, ended already, afterwards. One from outside
        the workers is told and ignored, but SIGTERM and SIGHUP to the controller, which
        end the run (unless `ending` is False: it is over). `ready`: what select() found
        readable (the signalfd, or not: nothing to take)."""
        if ready is not None and self.strays.fd is not None and self.strays.fd not in ready:
            return
        for signum, sender, to_command in self.strays.take():
            pid = strays.owner(sender, (s.pid for s in self.slots.values()))
            slot = next((s for s in self.slots.values() if s.pid == pid), None)
            what = strays.what(signum, sender)
            if slot is None and signum not in strays.STRAYS and not to_command:
                if ending and self.interrupt is not None:  # SIGTERM, SIGHUP
                    self.interrupt(signum)  # raises, as the signal's handler would
                continue
            if slot is None:
                whom = "the command" if to_command else "the controller"
                _terminal_line(self.config, f"syscalls: {whom} ignored {what}")
                continue
            # The tests that may have sent it: those that ended since strays were last
            # taken (one that ended before would have sent it before), those whose end
            # is in the pipe, and the one its worker is in now (its status record)
            if select.select([slot.reader.fd], [], [], 0)[0]:
                self._serve(slot)
            status = self.watchdog.status(slot.wid)
            running = status.nodeid if status is not None and status.nodeid else None
            if running is None and slot.current is not None:
                running = self.items[slot.current].nodeid
            suspects = [*slot.ended, *([running] if running and running != slot.last else [])]
            reached = (
                f"the `syscalls run` command (pid {processes.parent_pid()}), which did not "
                "pass it on"
                if to_command
                else f"the run's controller (pid {os.getpid()}), which ignored it"
            )
            note = strays.told(signum, sender, slot.pid, reached)
            if len(suspects) > 1:
                others = ", ".join(n.rpartition("::")[2] for n in suspects[:-1])
                note += (
                    f" Sent by this test or by one just before it on this worker ({others}):"
                    " the controller took it a little after it was sent"
                )
            if running is not None and running != slot.last:
                slot.notes.setdefault(running, []).append(note)  # for its end
            elif suspects or slot.last:
                self.log_failure(suspects[-1] if suspects else slot.last or "", note)
            else:  # before its first test
                _terminal_line(self.config, f"syscalls: worker {slot.wid}: {note}")

    def _unkillable(self) -> list[Slot]:
        """Workers the watchdog killed that are still there UNKILLABLE seconds later: in
        uninterruptible sleep in the kernel under test (a deadlock), which no signal
        ends. Waited for, they would hold the run for ever."""
        now = time.monotonic()
        return [
            slot
            for slot in self.slots.values()
            if (since := self.watchdog.killed_since(slot.wid)) is not None
            and now - since > UNKILLABLE
        ]

    def _ended(self, slot: Slot, left: bool = False) -> None:
        """Its pipe closed: it said bye, or it died (in a test, or between tests); or,
        `left`, it could not be killed and is left behind."""
        del self.slots[slot.reader.fd]
        self.gone.add(slot.pid)
        os.close(slot.reader.fd)
        with contextlib.suppress(OSError):
            os.close(slot.commands)
        ended = slot.done or slot.retired is not None  # by its own choice
        corrupt = slot.reader.corrupt
        if corrupt is not None:  # whatever it says next cannot be read: it goes
            ended = False
            processes.kill_tree(slot.pid)
        cause = None if ended else self.watchdog.death_of(slot.wid, wait=0 if left else 1.0)
        if corrupt is not None:
            cause = (
                f"worker {slot.wid}'s pipe to the controller carried {corrupt}, which the "
                "worker did not send (a test that wrote to the runner's own descriptors, "
                "512 and up?); the worker was killed"
            )
        elif left:
            where = (state(slot.pid) or b"?").decode()
            cause = (
                f"{cause}; still there {UNKILLABLE:g} s after SIGKILL (state {where}: stuck "
                "in the kernel), left behind"
            )
        elif not ended and cause is None:  # alive, with its pipe closed or replaced
            cause = (
                f"worker {slot.wid}'s pipe to the controller was closed or replaced during "
                "this test; the worker was killed"
            )
            processes.kill_tree(slot.pid)
        if slot.last_words and cause is not None:
            words = slot.last_words.strip()
            cause = f"{cause}: {words.splitlines()[-1]}" + (f"\n\n{words}" if "\n" in words else "")
        with contextlib.suppress(ChildProcessError):
            os.waitpid(slot.pid, os.WNOHANG if left else 0)
        self.watchdog.forget(slot.wid)
        if slot.done:
            return
        if not left:  # what its test had in its directory goes now, not at the run's end
            tempdirs.remove_left_by(slot.pid)
        if slot.retired is None:
            self.deaths += 1
        unstarted = list(slot.pending)
        if slot.garbled is not None and slot.current is None and slot.last is not None:
            self.log_failure(
                slot.last,
                f"after this test, worker {slot.wid}'s command pipe carried {slot.garbled}, "
                "which the controller did not send (did the test write to the runner's own "
                "descriptors, 512 and up?); the worker ended, and the tests after it ran in "
                "a fresh one",
            )
        if slot.current is not None:
            self.log_failure(self.items[slot.current].nodeid, cause)
        elif unstarted and self._died_beginning(unstarted[0]):
            head, _, traceback = (cause or "").partition("\n")
            why = f"{head} -- {BEGINNING}" + (f"\n{traceback}" if traceback else "")
            self._failed_unstarted(unstarted.pop(0), why)
        self.queue.extendleft(reversed(unstarted))
        if slot.retired is None and self.max_deaths is not None and self.deaths > self.max_deaths:
            self.given_up = f"maximum crashed workers reached: {self.max_deaths}"
        if self.queue and not self.given_up:
            self._spawn()

    def _died_beginning(self, index: int) -> bool:
        """A worker died between two tests, with test `index` next: in the hooks that
        begin a test before its first report (a plugin's hook wrapper that raises for
        it, say). Once, it may be chance (a signal from outside): the test is handed
        out again. Twice, it is the test's: handed out again it would kill every
        fresh worker for ever."""
        self.early_deaths[index] = self.early_deaths.get(index, 0) + 1
        return self.early_deaths[index] >= EARLY_DEATHS

    def _failed_unstarted(self, index: int, why: str) -> None:
        item, hook = self.items[index], self.config.hook
        hook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        self.log_failure(item.nodeid, why)
        hook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)

    # --- an early end ----------------------------------------------------------------

    def stop(self) -> None:
        """Kill every worker (and what its test started) and reap it: -x, an interrupt.
        Its pipe stays open for drain()."""
        live = [s for s in self.slots.values() if not s.reaped]
        for slot in live:
            processes.kill_tree(slot.pid)
        deadline = time.monotonic() + UNKILLABLE  # for them all: one stuck in the kernel
        for slot in live:  # is left behind
            _reap(slot.pid, deadline)
            slot.reaped = True  # its pid may be another process's from now on
            self.watchdog.forget(slot.wid)

    def drain(self) -> None:
        """After stop(): the reports the workers sent before they died (finished tests
        are kept); the tests they were in are left in running()."""
        for slot in list(self.slots.values()):
            while not slot.reader.eof and select.select([slot.reader.fd], [], [], 0)[0]:
                for message in slot.reader.read():
                    if message[0] in ("start", "end"):
                        with contextlib.suppress(Exception):
                            self._handle(slot, message)

    def running(self) -> list[str]:
        return [self.items[s.current].nodeid for s in self.slots.values() if s.current is not None]

    def close(self) -> None:
        self.stop()
        self._strays(ending=False)
        self.strays.close()
        self.children.close()
        self.guard.close()
        for slot in self.slots.values():
            for fd in (slot.reader.fd, slot.commands):
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.slots.clear()


def _fail_teardown(data: dict[str, Any], why: str) -> None:
    """A serialized teardown report, failed with `why` (beside its own failure, if any)."""
    if data.get("outcome") == "passed":
        data["outcome"], data["longrepr"] = "failed", why
    else:
        data["sections"] = [*(data.get("sections") or ()), ("syscalls runner", why)]


def _terminal_line(config: pytest.Config, text: str) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(text)


def _reap(pid: int, deadline: float) -> bool:
    """Wait for child `pid` to end until `deadline` (time.monotonic()); False if it has
    not (a SIGKILLed process stuck in the kernel)."""
    while True:
        try:
            if os.waitpid(pid, os.WNOHANG)[0]:
                return True
        except ChildProcessError:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)


def _location(message: tuple[Any, ...]) -> tuple[str, int | None, str] | None:
    """The location a worker sent with "start", if it is one (path, line, name)."""
    loc = message[2] if len(message) > 2 else None
    if (
        isinstance(loc, tuple)
        and len(loc) == 3
        and isinstance(loc[0], str)
        and (loc[1] is None or type(loc[1]) is int)
        and isinstance(loc[2], str)
    ):
        return loc
    return None


def _foreign_threads() -> int:
    """Threads of this process that Python did not start (0 where /proc cannot say)."""
    return max(0, (processes.threads() or 0) - threading.active_count())


def _order(items: list[pytest.Item]) -> tuple[list[int], list[int]]:
    """The order tests are handed out in: those that wait first, then the rest -- but
    those that change the whole machine (`disposable`), which run alone, after them."""
    waits, rest, alone = [], [], []
    for i, item in enumerate(items):
        if item.get_closest_marker(ALONE) is not None:
            alone.append(i)
        elif item.get_closest_marker(WAITS) is not None:
            waits.append(i)
        else:
            rest.append(i)
    return waits + rest, alone
