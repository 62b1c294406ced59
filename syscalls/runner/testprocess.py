"""The side of the runner in the process that runs the tests (a worker, or pytest
itself without --workers or -n): every test's processes die with it, and its status for
the watchdog.

- The process is a child subreaper (Linux), so whatever a test forks stays below it --
  through setsid(), double forks and parents that exit first. After each test's
  teardown (its fixtures' finalizers included), leftovers are killed and reaped; a test
  that left any running fails in teardown, naming how many (syscalls.processes).
  Processes already running when the test body starts were started by its fixtures; if
  the test uses a fixture of a wider scope (a module's sshd), they are taken for that
  fixture's and may outlive the test -- until the session ends, when all are killed.
- RLIMIT_CORE's soft limit is 0 here and in everything forked from here: tests that
  crash a child on purpose leave no core file.
- No signal is blocked or ignored here (but those Python and the run ignore on purpose),
  whatever the run inherited (processes.default_signal_state).
- A test must leave the process as it found it: its signal dispositions and mask, umask,
  working directory, limits, environment, timers, threads, credentials, namespaces
  (syscalls.runner.isolation). A change fails the test at teardown, naming it, and is
  put back; one that cannot be put back ends a forked worker after that test (`retire`),
  and a fresh fork runs the rest.
- In a user's run, what a test leaves in /tmp, /dev/shm or /dev/mqueue fails it, named,
  and is removed (syscalls.runner.shared_dirs: a stat() of each per test).
- In a worker (forked, or xdist's), the test's nodeid, start time and limit go to the
  status file the controller's watchdog reads (syscalls.runner.status).

Per test this costs four plain hook calls and one per report, two wait calls when
nothing was left, a fingerprint of the process's state (isolation.Watch) and two
pwrite()s in a worker (README: Benchmark has the figures).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from syscalls import processes
from syscalls.runner import (
    bounds,
    descriptors,
    exiting,
    isolation,
    memory,
    namespaces,
    stacks,
    tracees,
)
from syscalls.runner.copies import Copies
from syscalls.runner.descriptors import DESCRIPTORS
from syscalls.runner.parent import Parent
from syscalls.runner.shared_dirs import SharedDirs
from syscalls.runner.status import StatusWriter

STATUS_DIR = "syscalls_status_dir"  # workerinput key: where workers write their status


def session_limit(config: pytest.Config) -> float:
    """pytest-timeout's per-test limit for this run (its option, environment variable or
    ini value, in that order); 0 when there is none or pytest-timeout is absent."""
    value: Any = config.getoption("timeout", None)
    if value is None:
        value = os.environ.get("PYTEST_TIMEOUT")
    if value is None:
        try:
            value = config.getini("timeout")
        except ValueError:  # no such ini key: pytest-timeout is not loaded
            value = None
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        return 0.0


def item_limit(item: pytest.Item, default: float) -> float:
    """The limit of one test: its @pytest.mark.timeout(N), else the run's. A test may
    ask for more time or less, not for none: timeout(0) (pytest-timeout's "no limit"),
    a negative number or not a number give the run's, or a hang would hold the run for
    ever. (--timeout 0 for the whole run is the user's to give.)"""
    mark = item.get_closest_marker("timeout")
    if mark is None:
        return default
    value = mark.args[0] if mark.args else mark.kwargs.get("timeout", default)
    try:
        limit = float(value)
    except (TypeError, ValueError):
        return default
    return limit if 0 < limit < float("inf") else default


def own_limits(items: list[pytest.Item], default: float) -> dict[str, float]:
    """nodeid -> limit, for the tests with a timeout marker of their own."""
    return {
        item.nodeid: item_limit(item, default)
        for item in items
        if item.get_closest_marker("timeout") is not None
    }


class TestProcess:
    """pytest plugin (registered by syscalls.runner.plugin in workers and serial runs).

    Three plain hook calls per test and no hook wrappers: pluggy's old-style wrappers
    (the only kind pytest 7.2's pluggy 1.0 has) cost about ten times a plain call."""

    __test__ = False  # not a test class, whatever its name

    def __init__(
        self, config: pytest.Config, status: Path | None = None, replaceable: bool = False
    ) -> None:
        """`status`: the status file (a forked worker's); an xdist worker's is named by
        its workerinput. `replaceable`: a forked worker, which may end after a test that
        left it changed beyond repair (`retire` then says why)."""
        self.before = exiting.Before()  # what may hold up this process's exit, after
        self.exitstatus = 0
        self.was_subreaper = processes.subreaper()
        processes.set_subreaper(True)
        processes.no_core_dumps()
        processes.default_signal_state()
        self.limit = session_limit(config)
        self.survivors: frozenset[int] = frozenset()  # leftovers SIGKILL did not end
        self.owned: frozenset[int] = frozenset()  # started by wider-scoped fixtures
        self.from_setup: frozenset[int] = frozenset()
        self.current: str | None = None  # the nodeid of the test in progress
        self.failed: str | None = None  # the last test whose call raised
        self.started = 0
        self.began = 0.0  # time.monotonic() as the test in progress began
        self.limits: dict[str, float] = {}  # nodeid -> its own limit (a timeout marker)
        self.replaceable = replaceable
        self.retire: str | None = None  # why this worker must not run another test
        # pytest-timeout's signal method puts back SIGALRM and ITIMER_REAL after each test
        timeout = config.pluginmanager.hasplugin("timeout") and hasattr(signal, "SIGALRM")
        self.managed = isolation.PYTEST_TIMEOUT_STATE if timeout else frozenset()
        # As root, namespaces of its own: what a test leaves mounted or named stays there
        own = namespaces.contain()
        if "mnt" not in own:
            self.managed |= {isolation.MOUNTS}
        if "uts" not in own:
            self.managed |= {isolation.NAMES}
        if "ipc" not in own:
            self.managed |= {isolation.SYSV}
        self.isolation = isolation.Watch(self.managed)
        self.copies = Copies()  # a test's fork that comes back into pytest is stopped
        config.pluginmanager.register(self.copies, "syscalls-runner-copies")
        self.state: isolation.State | None = None  # as the last test left it
        self.fingerprint: tuple[object, ...] = ()  # of that state
        self.anon: int | None = None  # its anonymous memory then, in kB (runner.memory)
        workerinput = getattr(config, "workerinput", {})
        if status is None and workerinput.get(STATUS_DIR):
            status = Path(workerinput[STATUS_DIR]) / workerinput["workerid"]
        self.status = StatusWriter(status) if status is not None else None
        if status is not None:
            stacks.record(status)  # a worker: where it dies or hangs goes in its failure
        self.parent = Parent() if self.status is not None else None  # a worker's controller
        # A user's test that leaves files in /tmp, /dev/shm or /dev/mqueue (runner.shared_dirs);
        # root's other processes write there too, and root's queues are its namespace's
        self.shared_dirs: SharedDirs | None = None
        self.watch_shared = processes.LINUX and os.geteuid() != 0

    def pytest_collectstart(self, collector: pytest.Collector) -> None:
        """An xdist worker collects for itself: the module it imports goes in its status
        record, with the per-test limit, for the watchdog to end a run whose module
        hangs at import (the controller does so for `syscalls run`, which collects)."""
        if self.status is not None and isinstance(collector, pytest.Module):
            self.status.collecting(collector.nodeid, self.limit, time.monotonic())

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if self.status is not None and isinstance(report.nodeid, str) and report.nodeid:
            self.status.idle()

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        self.watch(items)

    def watch(self, items: list[pytest.Item]) -> None:
        """Look up the tests with a limit of their own, once: a marker lookup per test
        would cost more than everything else here."""
        if self.status is not None:
            self.limits = own_limits(items, self.limit)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> None:
        self.copies.stop(self.current, "as the next test began")
        self.current = item.nodeid
        self.started += 1
        self.began = time.monotonic()
        if self.state is None:  # the first test (read here, its plugins' timers armed)
            self._take_state(isolation.read(self.managed))
            self.anon = memory.anonymous_kb(self.isolation.status)
            if self.watch_shared and self.shared_dirs is None:
                status = self.status.path if self.status is not None else None
                top = self.parent.pid if self.parent is not None else None
                self.shared_dirs = SharedDirs(status.parent if status else None, status, top)
        elif not self.replaceable:
            # This process reports too (serial pytest, an xdist worker): what the last
            # test's reports and warnings took after its check is not this test's.
            self.anon = memory.anonymous_kb(self.isolation.status_now())
        if self.status is not None:
            limit = self.limits.get(item.nodeid, self.limit)
            self.status.start(item.nodeid, limit, time.monotonic())

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """A huge failure text or property cut before xdist sends it, or the terminal
        and JUnit XML take it (a forked worker's Forward bounds its own as it sends)."""
        if self.replaceable:
            return
        if report.longrepr is not None:
            report.longrepr = bounds.text(report.longrepr)
        report.user_properties = bounds.properties(report.user_properties)

    @pytest.hookimpl(tryfirst=True)
    def pytest_warning_recorded(self, warning_message: Any) -> None:
        """A huge warning message cut before xdist sends it or the summary prints it."""
        if not self.replaceable:
            bounds.warning(warning_message)

    def pytest_exception_interact(self, node: pytest.Item, report: pytest.TestReport) -> None:
        """A test that raised (called for failures only: nothing in a passing run)."""
        if report.when == "call":
            self.failed = node.nodeid

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self) -> None:
        self.from_setup = processes.live_children()  # the fixtures are set up

    # After pytest's own teardown (the fixtures' finalizers), before the report is made:
    # the test is over for the watchdog, and what it left running fails it.
    @pytest.hookimpl(trylast=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        # before the status below is touched: a copy from a fixture's finalizer
        self.copies.stop(item.nodeid, "after the test's teardown (forked by a finalizer)")
        self._ended()
        if self.from_setup and _uses_a_wider_fixture(item):
            self.owned |= self.from_setup
        self.from_setup = frozenset()
        problems = []
        left = processes.reap_leftovers(ignore=self.survivors | self.owned)
        if left:
            self.survivors |= frozenset(left.survivors)
            problems.append(
                f"the test {left.describe()}; every process a test starts must end with it"
            )
        problems.extend(self.copies.found(item.nodeid))
        if self.parent is not None and self.parent.continued():
            problems.append(
                f"the test stopped the run's controller (pid {self.parent.pid}) with a "
                "signal: continued; a test stops only the processes it started"
            )
        traced = tracees.release()
        if traced:
            problems.append(f"the test {traced.describe()}")
            if traced.stuck and self.replaceable:  # its end lets them go
                self.retire = f"{item.nodeid} left processes traced"
        changed = self._check_state(item)
        if changed:
            problems.append(changed)
        if self.shared_dirs is not None:
            left_outside = self.shared_dirs.check(
                item.nodeid, self.began, lambda: _uses_a_wider_fixture(item)
            )
            if left_outside:
                problems.append(left_outside)
        grown = self._check_memory(item)
        if grown:
            problems.append(grown)
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)

    def _check_memory(self, item: pytest.Item) -> str | None:
        """Whether the test left much more memory in this process (runner.memory), from
        the status file the state check read just now."""
        before, self.anon = self.anon, memory.anonymous_kb(self.isolation.status)
        grown = memory.grown(before, self.anon)
        if grown is None:
            return None
        if self.replaceable:
            self.retire = f"{item.nodeid} left its memory in use"
            return f"{grown}; a fresh worker runs the tests after it"
        return f"{grown}; the tests after it in this process pay for it"

    def _take_state(self, state: isolation.State) -> None:
        self.state, self.fingerprint = state, self.isolation.fingerprint()

    def _check_state(self, item: pytest.Item) -> str | None:
        """What the test left changed in this process (put back), or None."""
        before = self.state
        if before is None or self.isolation.fingerprint() == self.fingerprint:
            return None
        self.isolation.reopen()  # the test may have closed or replaced its files
        descriptors.settle(before.get(DESCRIPTORS) or {})
        after = isolation.read(self.managed)
        found = isolation.changes(before, after, self.managed)
        if any(c.what == "threads" for c in found):
            after = isolation.settle(before, after, self.managed)
            found = isolation.changes(before, after, self.managed)
        if not found or _uses_a_wider_fixture(item):
            self._take_state(after)  # a module's fixture's, say, until its teardown
            return None
        found, stuck, now = isolation.repair(before, found, self.managed)
        self._take_state(now)
        if self.failed == item.nodeid:
            # Its assertion failed before its cleanup ran (a kernel that answered with a
            # descriptor where it should have refused): those are closed, not told again.
            found = [c for c in found if c.what != DESCRIPTORS or c in stuck]
            if not found:
                return None
        message = "the test left this process changed -- " + "; ".join(map(str, found))
        if not stuck:
            return message + " (put back)"
        names = ", ".join(c.what for c in stuck)
        if self.replaceable:
            self.retire = f"{item.nodeid} left {names} changed"
            return f"{message}; {names} cannot be put back: a fresh worker runs the tests after it"
        return f"{message}; {names} cannot be put back: the tests after it in this process may fail"

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        if self.current is not None:  # a finalizer raised: the teardown above never ran
            self._ended()
            self.from_setup = frozenset()
            self.state = None  # taken as it is: that test has failed already
            self.survivors |= frozenset(processes.reap_leftovers(ignore=self.survivors).survivors)
            tracees.release()
            if self.replaceable:  # unchecked, and pytest's own may be broken (capture)
                self.retire = f"{nodeid}'s teardown did not finish"

    def _ended(self) -> None:
        if self.status is not None and self.current is not None:
            self.status.ended(self.current)
        self.current = None

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # An interrupted test never reached its teardown: what it started dies now.
        processes.reap_leftovers(ignore=self.survivors)
        self.exitstatus = int(session.exitstatus)

    def pytest_unconfigure(self) -> None:
        left = exiting.left(self.before)
        if left is not None:  # a thread or exit handler that may never end
            exiting.guard(left, self.exitstatus)
        self.isolation.close()
        self.copies.close()
        if self.status is not None:
            self.status.close()
        if self.parent is not None:
            self.parent.close()
        if not self.was_subreaper:
            processes.set_subreaper(False)


_PLUGIN_MODULES = ("_pytest.", "xdist.", "pytest_")  # their session fixtures start nothing


def _uses_a_wider_fixture(item: pytest.Item) -> bool:
    """Whether the test uses a fixture of a scope wider than the function's (the
    plugins' own, such as tmp_path_factory, aside)."""
    defs = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
    return any(
        d.scope != "function" and not d.func.__module__.startswith(_PLUGIN_MODULES)
        for ds in defs.values()
        for d in ds
    )
