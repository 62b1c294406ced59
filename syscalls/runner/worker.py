"""A worker forked from the controller once the session is collected (syscalls.runner.pool):
it runs the tests the controller hands it, in that order, and sends back what happened.

Forked, not started: it has the collected session from its first instruction -- no
interpreter start-up, no imports, no collection of its own (about a second of CPU per
worker on the whole suite, and seconds under software emulation). Before its first test:
- the controller's reporting plugins (terminal, JUnit XML, the profile, the event log,
  anything that implements a report hook but pytest's session and log capture) leave
  its plugin manager: their hooks run in the controller, on the reports sent there;
- pytest's global output capture starts again on files of its own (the controller's
  files would be shared, and one process's output read into another's report);
- it leads a process group of its own, dies with the controller and is the OOM
  killer's first choice (apart);
- SIGINT, SIGTERM and SIGHUP are handled again as before the controller took them;
- a TestProcess watches each test, as in any process that runs tests;
- a test's captured output is cut to its first and last half MiB in its report (cut);
- a fork of the worker that a test let return into pytest exits at its first report,
  instead of running (and reporting) the tests after its parent's;
- its pipes move up to fd 512 or above, out of the way of tests that reuse, close or
  dup2() onto low numbers (the controller kills a worker whose pipe closed under it).

To the controller (syscalls.runner.frames): ("start", i, location) as test i starts, ("end", i,
reports) with its reports (serialized by pytest's own hook, as xdist does), ("warn",
fields) for a warning, ("more",) when it needs more tests before it can run its last one
(pytest tears down fixtures by the next test), ("bye",) when done, ("retire", why) when
a test left it changed beyond repair (syscalls.runner.isolation) and a fresh worker must
run the tests it was given, ("died", traceback) as an error ends it. From the controller:
lists of test indices, [] for "no more".
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
import sys
import traceback
from collections import deque
from pathlib import Path
from typing import Any, NoReturn

import pytest
from _pytest._io import TerminalWriter

from syscalls import processes
from syscalls.runner import bounds, descriptors, frames, highfd, strays
from syscalls.runner.copies import is_copy
from syscalls.runner.highfd import out_of_the_way
from syscalls.runner.testprocess import TestProcess

REPORT_HOOKS = (
    "pytest_runtest_logstart",
    "pytest_runtest_logreport",
    "pytest_runtest_logfinish",
    "pytest_warning_recorded",
)
# Report hooks that belong where the test runs: pytest's session counts failures (for
# -x), its logging plugin attaches captured log records to the reports.
KEEP = ("session", "logging-plugin")
FAILED = 70  # the worker's exit status when it could not go on (EX_SOFTWARE)


class Forward:
    """pytest plugin in the worker: the reports of each test, to the controller."""

    def __init__(self, config: pytest.Config, fd: int) -> None:
        self.config = config
        self.fd = fd
        self.pid, self.ppid = os.getpid(), os.getppid()
        self.index = -1  # the test being run
        self.reports: list[Any] = []
        # pytest_warning_recorded is a historic hook: registering this plugin replays the
        # warnings recorded so far, which the controller has already seen.
        self.live = False

    def send(self, message: Any) -> None:
        if is_copy(self.pid, self.ppid):  # a test's fork that returned into pytest: never
            os._exit(FAILED)  # let it report, or run the tests after its parent's
        frames.send(self.fd, message)

    def pytest_runtest_logstart(self, location: tuple[str, int | None, str]) -> None:
        # The test's location, which pytest computed here for this hook: the controller
        # need not read the test's source again for its own (0.1 ms a test).
        self.send(("start", self.index, location))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        hook = self.config.hook
        data = hook.pytest_report_to_serializable(config=self.config, report=report)
        data["sections"] = [(title, bounds.cut(text)) for title, text in data.get("sections") or ()]
        if data.get("longrepr") is not None:  # a failure's or a skip's text
            data["longrepr"] = bounds.bound(data["longrepr"])
        data["user_properties"] = bounds.properties(data.get("user_properties"))
        self.reports.append(data)

    def pytest_runtest_logfinish(self) -> None:
        reports, self.reports = self.reports, []
        try:
            self.send(("end", self.index, reports))
        except (pickle.PicklingError, TypeError, AttributeError):
            # A property a test recorded that does not pickle (a lambda, an open file):
            # it goes as its repr, as JUnit XML would write it anyway. Plain values stay
            # as they are: the observations' own JSON text, quoted by repr(), was no
            # longer JSON, and the controller died reading it (INTERNALERROR).
            for report in reports:
                props = report.get("user_properties") or []
                report["user_properties"] = [(name, _plain(value)) for name, value in props]
            self.send(("end", self.index, reports))

    def pytest_warning_recorded(
        self, warning_message: Any, when: str, nodeid: str, location: Any
    ) -> None:
        if not self.live:
            return
        category = warning_message.category
        fields = {
            "message": bounds.cut(str(warning_message.message), bounds.PIECE),
            "category": category if category.__module__ in ("builtins", "pytest") else None,
            "filename": warning_message.filename,
            "lineno": warning_message.lineno,
            "when": when,
            "nodeid": nodeid,
            "location": location,
        }
        self.send(("warn", fields))


def serve(
    session: pytest.Session,
    status: Path,
    commands: int,
    results: int,
    first: list[int],
    handlers: dict[int, Any],
    controller: int,
    limits: dict[str, float],
    blocked: frozenset[int] = frozenset(),
) -> NoReturn:
    """The worker's life, in the child of the controller's fork; never returns.
    `handlers`: the signal handlers to put back (the controller's own are not ours);
    `controller`: the pid of the process that forked it; `limits`: the tests' own
    limits (testprocess.own_limits); `blocked`: the signals the controller blocks for
    itself (syscalls.runner.strays), unblocked here."""
    code = 0
    forward: Forward | None = None
    try:
        apart(controller)
        highfd.close_run_only()  # the supervisor's pipe, the progress log: no test's
        commands, results = out_of_the_way(commands), out_of_the_way(results)
        descriptors.PRIVATE.update((commands, results))  # made non-blocking: put back
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        strays.unblock(blocked)
        _quiet_gc()
        config = session.config
        _capture_afresh(config)
        _drop_reporters(config.pluginmanager)
        # pytest-timeout writes a hung test's stacks to config.get_terminal_writer(),
        # which asserts that a terminal reporter is registered (every timeout failed
        # with that AssertionError): a writer to the test's captured output instead.
        config.get_terminal_writer = TerminalWriter  # type: ignore[method-assign]
        tests = TestProcess(config, status, replaceable=True)
        config.pluginmanager.register(tests, "syscalls-runner-tests")
        tests.limits = limits  # looked up once, before the fork (2.6 ms here, more in a VM)
        forward = Forward(config, results)
        config.pluginmanager.register(forward, "syscalls-runner-forward")
        forward.live = True
        _run(session.items, forward, commands, deque(first), tests)
        tests.pytest_sessionfinish(session)  # what an interrupted teardown left running
        forward.send(("bye",) if tests.retire is None else ("retire", tests.retire))
    except KeyboardInterrupt:  # a SIGINT sent to it alone: the controller reports it
        code = FAILED
        _last_words(forward, "KeyboardInterrupt (a test raised it, or SIGINT reached the worker)")
    except BaseException:
        code = FAILED
        traceback.print_exc(file=sys.__stderr__)
        _last_words(forward, traceback.format_exc())
    finally:
        os._exit(code)  # no atexit, no pytest cleanup: those are the controller's


def _plain(value: Any) -> Any:
    """`value` if it is a plain one (which pickles), else its repr."""
    return value if type(value) in (str, int, float, bool, type(None)) else repr(value)


LAST_WORDS = 16384  # characters of its traceback a dying worker sends, at most (the end)


def _last_words(forward: Forward | None, text: str) -> None:
    """Why the worker is about to die, for the controller to put in the failure: its
    own stderr may be a capture file of its own by then, which nobody reads."""
    if forward is not None:
        with contextlib.suppress(BaseException):
            forward.send(("died", text[-LAST_WORDS:]))


# The cyclic GC's thresholds in a worker (Python's: 700, 10, 10)
GC_THRESHOLDS = (20000, 50, 1000)


def _quiet_gc() -> None:
    """Fewer collections in a worker. Each walks the objects made since the last and
    writes to their headers, and a page written after a fork (an in_child test's) is a
    copy-on-write fault. Measured on the whole suite, alternated (3 pairs): 3% fewer
    faults, 4.91 s against 5.01 s. What the worker has made before its first test is
    frozen too, as the controller froze the collected session."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def apart(controller: int | None = None) -> None:
    """A process group of its own: a test's kill(0, sig) or killpg() of its own group --
    a bug in a test about signals, say -- reaches this worker and what it forked, not
    the controller and the other workers (it was the whole run), and the watchdog can
    kill the group at once (a fork bomb). Not in the group, the worker no longer dies
    with it (Ctrl-C, a CI job cancelled): it dies with the controller instead, by
    SIGKILL, as the group kill would have done. And the OOM killer takes it (or a
    test's child) before the controller or anything else. For a forked worker and for
    an xdist worker (`controller`: its parent's pid, when known)."""
    controller = controller or processes.parent_pid()  # before it can die unnoticed
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)
    processes.die_with_parent()
    processes.first_for_the_oom_killer()
    if processes.parent_pid() != controller:  # it was gone before the line above
        os._exit(FAILED)


def _run(
    items: list[pytest.Item],
    forward: Forward,
    commands: int,
    queue: deque[int],
    tests: TestProcess,
) -> None:
    exhausted = False
    while queue:
        if len(queue) == 1 and not exhausted:  # its teardown depends on what comes next
            forward.send(("more",))
            try:
                more = frames.receive(commands)
            except frames.Corrupt as e:  # a test wrote to that pipe: nothing more is read
                forward.send(("garbled", str(e)))
                raise
            queue.extend(more)
            exhausted = not more
        index = queue.popleft()
        forward.index = index
        item = items[index]
        nextitem = items[queue[0]] if queue else None
        item.config.hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
        if tests.retire is not None:  # the test left this process beyond repair
            _tear_down_all(item)
            return


def _tear_down_all(item: pytest.Item) -> None:
    """The fixtures still set up for the tests this worker will not run, finalized."""
    try:
        item.session._setupstate.teardown_exact(None)
    except BaseException:  # a finalizer's error: the test it belongs to runs elsewhere
        traceback.print_exc(file=sys.__stderr__)


def _capture_afresh(config: pytest.Config) -> None:
    capman = config.pluginmanager.get_plugin("capturemanager")
    if capman is None or not capman.is_globally_capturing():
        return
    # The inherited MultiCapture's files are the controller's: left alone, not closed.
    capman._global_capturing = None
    capman.start_global_capturing()


def _drop_reporters(pm: pytest.PytestPluginManager) -> None:
    reporters = {
        id(impl.plugin): impl.plugin
        for name in REPORT_HOOKS
        for impl in getattr(pm.hook, name).get_hookimpls()
    }
    for plugin in reporters.values():
        if pm.get_name(plugin) not in KEEP:
            pm.unregister(plugin)
