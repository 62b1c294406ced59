"""pytest plugin for runs inside a target: a progress log the host can read at any time.

`-p syscalls.targets.events --events FILE` appends one JSON line per event to FILE and
flushes it to the (shared) disk at once:

    {"event": "session", "platform": ..., "kernel": ..., "target": ..., "meta": {...}}
    {"event": "start", "nodeid": ...}
    {"event": "end", "nodeid": ..., "outcome": ..., "reason": ..., "observations": [...]}
    {"event": "finish", "exitstatus": N}

pytest writes JUnit XML and the profile only when the session ends; when the guest dies
first (a panic, a hang) the host rebuilds both from this log (syscalls.targets.results)
and names the tests that had started but not ended.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, TextIO

import pytest

from syscalls.profile import Collector, Profile, this_machine


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("syscalls").addoption(
        "--events", default=None, metavar="FILE", help="append progress events (JSON lines)"
    )


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("events")
    if path and not hasattr(config, "workerinput"):  # the controller sees every report
        config.pluginmanager.register(EventLog(Path(path), config), "syscalls-events")


class EventLog:
    def __init__(self, path: Path, config: pytest.Config) -> None:
        self.config = config
        self.file: TextIO = path.open("a")
        # The profile's own rules turn a test's reports into (outcome, reason).
        self.outcomes = Collector(Profile(platform="", kernel=""), path)

    def write(self, **event: Any) -> None:
        self.file.write(json.dumps(event, sort_keys=True) + "\n")
        self.file.flush()
        os.fsync(self.file.fileno())

    def pytest_sessionstart(self) -> None:
        plugin = self.config.pluginmanager.get_plugin("syscalls-profile")
        if plugin is not None:
            p = plugin.profile
            self.write(
                event="session", platform=p.platform, kernel=p.kernel, target=p.target, meta=p.meta
            )
        else:
            self.write(
                event="session",
                platform="",
                kernel=os.uname().release,
                target=self.config.getoption("target", "host"),
                meta=this_machine(),
            )

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
        self.file.close()
