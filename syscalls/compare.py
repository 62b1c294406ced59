"""Comparing runs: where two or more kernels answered the suite differently.

A run is read from a semantics profile (syscalls/profile.py) or from pytest's JUnit XML,
whose testcases carry the same observations in the `syscalls.observations` property.
Each test is then one row: it agrees (same outcome and observations everywhere), differs,
or is missing from some runs. Observations are aligned key by key ("openat=ok",
"mode=0o640"), the n-th occurrence of a key in one run against the n-th in another, so a
single changed errno shows as one differing line rather than a shifted list.

Skip and failure reasons are shown but not compared: they name the kernel release and
the assertion's values, which differ between any two runs.
"""

from __future__ import annotations

import json
import shutil
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from syscalls.profile import PROPERTY, Profile

AGREE = "agree"
DIFFER = "differ"
PARTIAL = "partial"  # missing from at least one run, the rest agreeing
STATUSES = (AGREE, DIFFER, PARTIAL)
MISSING = "—"


class InputError(Exception):
    """A file that cannot be compared; the message is one line naming it."""


@dataclass
class TestRun:
    """One test's result in one run."""

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

    def __post_init__(self) -> None:
        if not self.label:
            self.label = " ".join(p for p in (self.target, self.kernel) if p) or self.path.stem


@dataclass
class ObsDiff:
    """One observation key (its n-th occurrence) whose value differs between runs."""

    key: str
    occurrence: int  # 1 for the first "openat=...", 2 for the second, ...
    values: list[str | None]  # per run; None: the run did not record it

    @property
    def name(self) -> str:
        return self.key if self.occurrence == 1 else f"{self.key}#{self.occurrence}"


@dataclass
class Row:
    """One test across all runs."""

    nodeid: str
    status: str
    cells: list[TestRun | None]  # per run; None: not in that run
    diffs: list[ObsDiff]

    @property
    def outcomes(self) -> list[str]:
        return [c.outcome if c else MISSING for c in self.cells]


@dataclass
class Comparison:
    runs: list[Run]
    rows: list[Row]

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for row in self.rows:
            counts[row.status] += 1
        return counts

    @property
    def differs(self) -> bool:
        """True when any test differs or is missing from some run (exit status 1)."""
        return any(row.status != AGREE for row in self.rows)


# Reading runs


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
    return Run(path, profile.platform, profile.kernel, profile.target, tests)


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


# Comparing


def _keyed(observations: list[str]) -> dict[tuple[str, int], str]:
    """{(key, n): value} for the n-th "key=value" entry with that key."""
    seen: dict[str, int] = {}
    keyed: dict[tuple[str, int], str] = {}
    for entry in observations:
        key, _, value = entry.partition("=")
        seen[key] = seen.get(key, 0) + 1
        keyed[key, seen[key]] = value
    return keyed


def _merged_order(sequences: list[list[tuple[str, int]]]) -> list[tuple[str, int]]:
    """All keys, each run's new keys inserted after the last key it shares: call order."""
    order: list[tuple[str, int]] = []
    for seq in sequences:
        pos = 0
        for key in seq:
            if key in order:
                pos = order.index(key) + 1
            else:
                order.insert(pos, key)
                pos += 1
    return order


def observation_diffs(cells: Sequence[TestRun | None]) -> list[ObsDiff]:
    """The observations whose value is not the same in every run that has the test."""
    present = [c for c in cells if c is not None]
    keyed = [_keyed(c.observations) if c else None for c in cells]
    order = _merged_order([list(k) for k in keyed if k is not None])
    diffs = []
    for key in order:
        values = [k.get(key) if k is not None else None for k in keyed]
        mine = [v for v, c in zip(values, cells, strict=True) if c is not None]
        if len(present) > 1 and len(set(mine)) > 1:
            diffs.append(ObsDiff(key[0], key[1], values))
    return diffs


def compare(runs: Sequence[Run]) -> Comparison:
    """Every test of every run, with whether (and how) the runs disagree on it."""
    nodeids = sorted({nodeid for run in runs for nodeid in run.tests})
    rows = []
    for nodeid in nodeids:
        cells = [run.tests.get(nodeid) for run in runs]
        present = [c for c in cells if c is not None]
        diffs = observation_diffs(cells)
        if len({c.outcome for c in present}) > 1 or diffs:
            status = DIFFER
        elif len(present) < len(cells):
            status = PARTIAL
        else:
            status = AGREE
        rows.append(Row(nodeid, status, cells, diffs))
    return Comparison(list(runs), rows)


# The terminal table


def _fit(text: str, width: int, keep_end: bool = False) -> str:
    """Text cut to width with an ellipsis (at the front when the end says more)."""
    if len(text) <= width:
        return text.ljust(width)
    if width <= 1:
        return text[:width]
    return "…" + text[-(width - 1) :] if keep_end else text[: width - 1] + "…"


def display_id(nodeid: str) -> str:
    """A node id without the "suites/" prefix every suite test shares."""
    return nodeid.removeprefix("suites/")


def summary(comparison: Comparison) -> str:
    c = comparison.counts
    return (
        f"{len(comparison.rows)} tests: {c[AGREE]} agree, {c[DIFFER]} differ, "
        f"{c[PARTIAL]} only in some runs"
    )


def _middle(text: str, width: int) -> str:
    """Text cut in the middle to width: both ends of a test name say what it checks."""
    if len(text) <= width:
        return text.ljust(width)
    head = (width - 1) // 2
    return text[:head] + "…" + text[-(width - 1 - head) :]


def _header(labels: list[str], col: int, lines: int = 3) -> list[list[str]]:
    """Each label wrapped into up to `lines` lines of the column's width."""
    wrapped = []
    for label in labels:
        parts = textwrap.wrap(label, col) or [""]
        if len(parts) > lines:
            parts = [*parts[: lines - 1], _fit(" ".join(parts[lines - 1 :]), col).rstrip()]
        wrapped.append(parts)
    return wrapped


def render_text(comparison: Comparison, show_all: bool = False, width: int | None = None) -> str:
    """The matrix as plain text: tests grouped by file, one line per differing key.

    Columns are the runs in the order given; the legend above names each one fully.
    """
    runs = comparison.runs
    width = max(width or shutil.get_terminal_size((120, 24)).columns, 80)
    col = max(8, min(18, (width - 34) // max(len(runs), 1) - 1))
    first = max(24, width - (col + 1) * len(runs) - 1)
    lines = []
    for i, run in enumerate(runs):
        detail = f"{run.platform}, " if run.platform else ""
        legend = _fit(f"[{i + 1}] {run.label}: {detail}{len(run.tests)} tests, ", width - 16)
        legend = legend.rstrip() + " "
        lines.append(legend + _fit(str(run.path), width - len(legend), keep_end=True).rstrip())
    lines.append("")
    heads = _header([f"[{i + 1}] {run.label}" for i, run in enumerate(runs)], col)
    for n in range(max(len(h) for h in heads)):
        left = _fit("test" if n == 0 else "", first)
        cells = "".join(" " + _fit(h[n] if n < len(h) else "", col) for h in heads)
        lines.append((left + cells).rstrip())
    lines.append("-" * min(first + (col + 1) * len(runs), width))
    shown = 0
    current_file = None
    for row in comparison.rows:
        if row.status == AGREE and not show_all:
            continue
        shown += 1
        file, sep, name = display_id(row.nodeid).partition("::")
        if not sep:
            file, name = "", file
        if file != current_file:
            current_file = file
            lines.append(_fit(file, width, keep_end=True).rstrip())
        cells = "".join(" " + _fit(o, col) for o in row.outcomes)
        lines.append((_middle("  " + name, first) + cells).rstrip())
        for diff in row.diffs:
            values = "".join(
                " " + _fit(MISSING if v is None else v or '""', col) for v in diff.values
            )
            lines.append((_fit("      " + diff.name, first) + values).rstrip())
    if not shown:
        lines.append("(no differences)")
    lines += ["", summary(comparison)]
    return "\n".join(lines) + "\n"
