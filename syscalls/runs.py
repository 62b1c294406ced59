"""Reading runs: a semantics profile (syscalls/profile.py) or pytest's JUnit XML, whose
testcases carry the same observations in the `syscalls.observations` property.

One place for `syscalls compare` and `--baseline` alike: a file that cannot be read is
an InputError whose message is one line naming it.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from syscalls.profile import PROPERTY, Profile

GOOD = ("passed", "skipped", "xfailed")  # outcomes that are not a failure


class InputError(Exception):
    """A file that cannot be compared; the message is one line naming it."""


@dataclass
class TestRun:
    """One test's result in one run."""

    __test__ = False  # not a pytest test class, whatever its name

    outcome: str
    observations: list[str] = field(default_factory=list)
    reason: str = ""


@dataclass
class Run:
    """One run of the suite: where it ran and what each test answered."""

    path: Path
    platform: str
    kernel: str
    target: str
    tests: dict[str, TestRun]
    label: str = ""
    selected: set[str] | None = None  # the tests the run set out to run, where recorded

    def __post_init__(self) -> None:
        if not self.label:
            self.label = " ".join(p for p in (self.target, self.kernel) if p) or self.path.stem


def load(path: Path) -> Run:
    """A run from a profile (.json) or JUnit XML; InputError if it is neither."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        head = path.read_bytes()[:512].lstrip()
    except OSError as e:
        raise InputError(f"{path}: {e.strerror}") from None
    if head.startswith(b"{"):
        return _load_profile(path)
    if head.startswith(b"<"):
        return _load_junit(path)
    raise InputError(f"{path}: not a syscalls profile (JSON) or JUnit XML")


def _load_profile(path: Path) -> Run:
    try:
        profile = Profile.read(path)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not valid JSON ({e})") from None
    except ValueError as e:
        raise InputError(str(e)) from None
    except (KeyError, TypeError, AttributeError) as e:
        raise InputError(f"{path}: not a syscalls profile (missing {e})") from None
    if not isinstance(profile.tests, dict):
        raise InputError(f"{path}: not a syscalls profile (tests is not a mapping)")
    tests: dict[str, TestRun] = {}
    for nodeid, entry in profile.tests.items():
        if not isinstance(entry, dict) or "outcome" not in entry:
            raise InputError(f"{path}: test {nodeid!r} has no outcome")
        observations = entry.get("observations") or []
        tests[nodeid] = TestRun(
            str(entry["outcome"]), [str(o) for o in observations], entry.get("reason", "")
        )
    selected = profile.meta.get("selected") if isinstance(profile.meta, dict) else None
    run = Run(path, profile.platform, profile.kernel, profile.target, tests)
    if isinstance(selected, list):
        run.selected = {str(nodeid) for nodeid in selected}
    return run


def _load_junit(path: Path) -> Run:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise InputError(f"{path}: not valid XML ({e})") from None
    if root.tag not in ("testsuites", "testsuite"):
        raise InputError(f"{path}: not JUnit XML (root element <{root.tag}>)")
    tests: dict[str, TestRun] = {}
    for case in root.iter("testcase"):
        nodeid = junit_nodeid(case.get("classname", ""), case.get("name", ""))
        tests[nodeid] = _junit_case(path, nodeid, case)
    # JUnit carries no kernel release; the file's directory usually names the run.
    label = f"{path.parent.name}/{path.name}" if path.parent.name else path.name
    return Run(path, "", "", "junit", tests, label=label)


def _junit_case(path: Path, nodeid: str, case: ET.Element) -> TestRun:
    observations: list[str] = []
    for prop in case.iter("property"):
        if prop.get("name") == PROPERTY:
            try:
                observations = [str(o) for o in json.loads(prop.get("value", "[]"))]
            except json.JSONDecodeError:
                raise InputError(f"{path}: {nodeid}: {PROPERTY} is not a JSON list") from None
    outcome, reason = "passed", ""
    for tag in ("failure", "error", "skipped"):  # the first found decides, worst first
        child = case.find(tag)
        if child is not None:
            reason = child.get("message", "")
            if tag == "skipped":
                outcome = "xfailed" if child.get("type") == "pytest.xfail" else "skipped"
                reason = reason.removeprefix("xfail").strip() or reason
            else:
                outcome = "failed" if tag == "failure" else "error"
            break
    return TestRun(outcome, observations, reason)


def junit_nodeid(classname: str, name: str) -> str:
    """pytest's node id from JUnit's classname/name ("suites.fs.test_x" -> "suites/fs/test_x.py").

    Test classes are told from packages by their capital letter (pytest's Test* rule).
    """
    parts = classname.split(".") if classname else []
    split = next((i for i, p in enumerate(parts) if p[:1].isupper()), len(parts))
    module = "/".join(parts[:split]) + ".py" if split else ""
    return "::".join(p for p in (module, *parts[split:], name) if p)


def label_runs(runs: Sequence[Run]) -> None:
    """Make the labels unique: add what tells the files apart, or else a number."""
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(run.label, []).append(run)
    for label, same in groups.items():
        if len(same) < 2:
            continue
        for tell in (
            lambda p: p.parent.name,
            lambda p: p.name,
            lambda p: f"{p.parent.name}/{p.name}",
        ):
            names = [tell(run.path) for run in same]
            if all(names) and len(set(names)) == len(names):
                for run, name in zip(same, names, strict=True):
                    run.label = f"{label} ({name})"
                break
        else:
            for i, run in enumerate(same, 1):
                run.label = f"{label} #{i}"
