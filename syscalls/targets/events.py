"""pytest plugin for runs inside a target: a progress log the host can read at any time.

`-p syscalls.targets.events --events FILE` appends one JSON line per event to FILE, and
writes it out at once: each line reaches the host as it is written where the results
share is write-through (virtiofs and 9p without a cache, as the VM mounts it);
`--events-fsync` adds an fsync where the guest kernel caches writes (UML's hostfs, which
would lose them in a crash). Over virtiofs an fsync costs the guest ~1-4 ms under TCG,
each of ~2 300 events of a whole run:

    {"event": "session", "platform": ..., "kernel": ..., "target": ..., "meta": {...},
     "python_start": S}
    {"event": "collected", "count": N}
    {"event": "start", "nodeid": ...}
    {"event": "end", "nodeid": ..., "outcome": ..., "reason": ..., "observations": [...]}
    {"event": "finish", "exitstatus": N}

pytest writes JUnit XML and the profile only when the session ends; when the guest dies
first (a panic, a hang) the host rebuilds both from this log (syscalls.targets.results)
and names the tests that had started but not ended.

Every event also has "t", the seconds since the target booted (CLOCK_BOOTTIME) when it
happened, and the session the time this Python process started on that clock: with the
init's time stamps on the console they say where a run's time went
(syscalls.targets.timeline). With xdist, "collected" is the first worker's collection.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, TextIO

import pytest

from syscalls.profile import Collector, Profile, this_machine
from syscalls.runner import highfd


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("syscalls")
    group.addoption(
        "--events", default=None, metavar="FILE", help="append progress events (JSON lines)"
    )
    group.addoption(
        "--events-fsync",
        action="store_true",
        help="fsync the events file after each event (where writes are not write-through)",
    )


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("events")
    if path and not hasattr(config, "workerinput"):  # the controller sees every report
        config.pluginmanager.register(EventLog(Path(path), config), "syscalls-events")


def process_start() -> float | None:
    """When this process started, in seconds since boot (field 22 of /proc/self/stat)."""
    try:
        stat = Path("/proc/self/stat").read_text()
        return round(int(stat.rpartition(")")[2].split()[19]) / os.sysconf("SC_CLK_TCK"), 3)
    except (OSError, ValueError, IndexError):
        return None


class EventLog:
    def __init__(self, path: Path, config: pytest.Config) -> None:
        self.config = config
        self.file: TextIO = path.open("a")
        highfd.run_only(self.file.fileno())  # no test of a worker may write to it
        self.fsync = bool(config.getoption("events_fsync"))
        self.collected = False
        # The profile's own rules turn a test's reports into (outcome, reason).
        self.outcomes = Collector(Profile(platform="", kernel=""), path)

    def write(self, **event: Any) -> None:
        event["t"] = round(time.clock_gettime(time.CLOCK_BOOTTIME), 3)
        self.file.write(json.dumps(event, sort_keys=True) + "\n")
        self.file.flush()
        if self.fsync:
            os.fsync(self.file.fileno())

    def pytest_sessionstart(self) -> None:
        plugin = self.config.pluginmanager.get_plugin("syscalls-profile")
        if plugin is not None:
            p = plugin.profile
            about = {"platform": p.platform, "kernel": p.kernel, "target": p.target, "meta": p.meta}
        else:
            about = {
                "platform": "",
                "kernel": os.uname().release,
                "target": self.config.getoption("target", "host"),
                "meta": this_machine(),
            }
        self.write(event="session", python_start=process_start(), **about)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if not self.collected:  # under xdist the controller collects nothing itself
            self.collected = True
            self.write(event="collected", count=len(session.items))

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: object, ids: list[str]) -> None:
        if not self.collected:
            self.collected = True
            self.write(event="collected", count=len(ids))

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self.write(event="start", nodeid=nodeid)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.outcomes.pytest_runtest_logreport(report)
        if report.when == "teardown":
            entry = self.outcomes.profile.tests.pop(report.nodeid, None) or {}
            self.write(
                event="end",
                nodeid=report.nodeid,
                outcome=entry.get("outcome", "passed"),
                reason=entry.get("reason", ""),
                observations=entry.get("observations", []),
            )

    def pytest_sessionfinish(self, exitstatus: int) -> None:
        self.write(event="finish", exitstatus=int(exitstatus))
        highfd.forget(self.file.fileno())
        self.file.close()
