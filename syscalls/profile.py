"""The semantics profile: what the kernel answered, per test, for comparing kernels.

Each test's observations are a list of short strings in call order: "openat=ok",
"read=EBADF" for every syscall made (values that differ from run to run, such as fds
and pids, are left out), and "key=value" for what a test records explicitly
(st_mode=0o100644). An observation equal to the one before it in the same thread is
not recorded again: a polling loop (getitimer until the timer moves, ptrace until the
tracee stops) is one observation, not as many as the machine's speed made it, so runs
on fast and slow kernels compare. They travel from the workers to the controller inside
pytest's report.user_properties, so JUnit XML carries them too.
"""

from __future__ import annotations

import json
import os
import platform as _pyplatform
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from syscalls.kernel import Result
from syscalls.outdir import write_atomic
from syscalls.runner import stacks

PROPERTY = "syscalls.observations"
FORMAT = 1


# Observations kept per test: the suite's own tests record 28 at most. A test that calls
# in a loop (read, write, read, ...) would otherwise put each call into the profile,
# the JUnit XML and the worker's memory: 200,000 calls, about 4 MB.
MAX_OBSERVATIONS = 1000
# Held while the test runs, so that a forked child (which inherits the list) still adds
# its own; past this only counted, in that process.
HELD = 10 * MAX_OBSERVATIONS
LEFT_OUT = "(left out)"  # the entry after the last kept: LEFT_OUT=how many more
MAX_ENTRY = 4096  # characters of one recorded value's entry kept


@dataclass
class Recorder:
    """The observations of one test.

    An entry equal to the last one of the same thread is dropped: per thread, so that
    how a waker's and a woken thread's calls interleave does not change what is kept.
    Past HELD they are counted, not kept; kept() reports MAX_OBSERVATIONS."""

    entries: list[str] = field(default_factory=list)
    _last: dict[int, str] = field(default_factory=dict)
    dropped: int = 0

    def call(self, result: Result) -> None:
        self._add(f"{result.name}={result.outcome}")

    def value(self, key: str, value: Any) -> None:
        entry = f"{key}={value}"
        if len(entry) > MAX_ENTRY:  # a value of megabytes: the same cut in every run
            entry = f"{entry[:MAX_ENTRY]}...({len(entry)} characters)"
        self._add(entry)

    def _add(self, entry: str) -> None:
        thread = threading.get_ident()
        if self._last.get(thread) != entry:
            self._last[thread] = entry
            if len(self.entries) < HELD:
                self.entries.append(entry)
            else:
                self.dropped += 1

    def kept(self) -> list[str]:
        """What the test reports: its first MAX_OBSERVATIONS observations (its forked
        children's included) and, if there were more, LEFT_OUT=how many ("N+": at
        least N, where a child recorded past HELD)."""
        more = self.dropped + max(0, len(self.entries) - MAX_OBSERVATIONS)
        if not more:
            return self.entries
        at_least = "+" if len(self.entries) >= HELD else ""
        return [*self.entries[:MAX_OBSERVATIONS], f"{LEFT_OUT}={more}{at_least}"]


@dataclass
class Profile:
    """One run: where it ran, and per test the outcome and the observations."""

    platform: str
    kernel: str
    target: str = "host"
    tests: dict[str, dict[str, Any]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def add(self, nodeid: str, outcome: str, observations: list[str], reason: str = "") -> None:
        entry: dict[str, Any] = {"outcome": outcome, "observations": observations}
        if reason:
            entry["reason"] = reason
        self.tests[nodeid] = entry

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "platform": self.platform,
            "kernel": self.kernel,
            "target": self.target,
            "meta": self.meta,
            "tests": self.tests,
        }

    def write(self, path: Path) -> None:
        """Atomically: readers see the previous file or this whole one, never a part."""
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, (json.dumps(self.to_json(), indent=1, sort_keys=True) + "\n").encode())

    @classmethod
    def read(cls, path: Path) -> Profile:
        return cls.parse(Path(path).read_bytes(), path)

    @classmethod
    def parse(cls, text: bytes, path: Path) -> Profile:
        return cls.from_json(json.loads(text), path)

    @classmethod
    def from_json(cls, data: dict[str, Any], path: Path) -> Profile:
        if data.get("format") != FORMAT:
            raise ValueError(f"{path}: not a syscalls profile (format {data.get('format')!r})")
        return cls(
            platform=data["platform"],
            kernel=data["kernel"],
            target=data.get("target", "host"),
            tests=data["tests"],
            meta=data.get("meta", {}),
        )


def this_machine() -> dict[str, Any]:
    """Facts about where the run happened, for the profile's header."""
    u = os.uname()
    return {
        "hostname": u.nodename,
        "release": u.release,
        "version": u.version,
        "machine": u.machine,
        "python": _pyplatform.python_version(),
        "uid": os.getuid(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


NOT_OBSERVATIONS = "(not observations)"  # a test's own property under PROPERTY's name


def _read(value: Any) -> tuple[list[str], bool]:
    """A report's PROPERTY, and whether it is what syscalls.profile records there (a
    JSON list of strings). A test that recorded something else under that name
    (record_property), read as it was, ended the run (INTERNALERROR), and a JUnit XML
    file holding it is refused as a baseline: it becomes one entry, what it was, cut."""
    try:
        observations = json.loads(value) if isinstance(value, str) else None
    except (ValueError, RecursionError):
        observations = None
    if isinstance(observations, list) and all(isinstance(o, str) for o in observations):
        return observations, True
    text = repr(value)
    cut = text[:MAX_ENTRY] + ("..." if len(text) > MAX_ENTRY else "")
    return [f"{NOT_OBSERVATIONS}={cut}"], False


class Collector:
    """pytest plugin on the controller: each test's outcome and observations -> profile."""

    def __init__(self, profile: Profile, path: Path) -> None:
        self.profile = profile
        self.path = path
        self._outcome: dict[str, tuple[str, str]] = {}

    @pytest.hookimpl(tryfirst=True)  # before JUnit XML writes the property
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        outcome = _outcome(report)
        if outcome is not None:
            first = self._outcome.setdefault(report.nodeid, outcome)
            if first[0] == "passed" and outcome[0] != "passed":  # a teardown error wins
                self._outcome[report.nodeid] = outcome
        if report.when == "teardown":
            observations: list[str] = []
            for i, (name, value) in enumerate(report.user_properties):
                if name == PROPERTY:
                    observations, readable = _read(value)
                    if not readable:
                        report.user_properties[i] = (name, json.dumps(observations))
            outcome, reason = self._outcome.pop(report.nodeid, ("passed", ""))
            self.profile.add(report.nodeid, outcome, observations, reason)

    # The tests the run set out to run (meta "selected"): a baseline's test that was not
    # selected (a --smoke run, a file given) is not missing from this run.
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if session.items:
            self.profile.meta["selected"] = [item.nodeid for item in session.items]

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self.profile.meta.setdefault("selected", list(ids))

    def pytest_sessionfinish(self) -> None:
        self.profile.write(self.path)


def _outcome(report: pytest.TestReport) -> tuple[str, str] | None:
    """(outcome, reason) that this phase's report decides, if any."""
    if report.skipped:
        if hasattr(report, "wasxfail"):
            return "xfailed", report.wasxfail
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
        return "skipped", reason.removeprefix("Skipped: ")
    if report.failed:
        crash = getattr(report.longrepr, "reprcrash", None)
        # a worker's death, with the stack it left (runner.stacks) below: the death
        text = report.longreprtext.strip().split(f"\n{stacks.HEADING}")[0]
        lines = text.splitlines()
        reason = (crash.message if crash else lines[-1] if lines else "failed")[:500]
        return ("failed" if report.when == "call" else "error"), reason
    if report.when == "call":
        return ("xpassed" if hasattr(report, "wasxfail") else "passed"), ""
    return None
