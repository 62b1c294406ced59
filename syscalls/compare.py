"""Comparing runs: where two or more kernels answered the suite differently.

Runs are read by syscalls.runs (a semantics profile or pytest's JUnit XML). Each test is
then one row: it agrees (same outcome and observations everywhere), differs, or is
missing from some runs. Observations are aligned key by key ("openat=ok", "mode=0o640"),
the n-th occurrence of a key in one run against the n-th in another, so a single changed
errno shows as one differing line rather than a shifted list.

Skip and failure reasons are shown but not compared: they name the kernel release and
the assertion's values, which differ between any two runs.
"""

from __future__ import annotations

import re
import shutil
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

# The readers live in syscalls.runs; compare's callers still find them here.
from syscalls.runs import InputError, Run, TestRun, junit_nodeid, label_runs, load  # noqa: F401

AGREE = "agree"
DIFFER = "differ"  # ran (not skipped) in two or more runs, and answered differently there
PARTIAL = "partial"  # ran in some runs only, skipped or missing in the others; else agreeing
STATUSES = (AGREE, DIFFER, PARTIAL)
MISSING = "—"
MAX_WIDTH = 10_000  # columns: rows are padded to the width ($COLUMNS=10**9: gigabytes)
_ERRNO = re.compile(r"E[A-Z0-9]+")
# How the reports name each group, the one that matters first first.
TITLES = {
    DIFFER: "answered differently where they ran",
    PARTIAL: "ran on some runs only (skipped or missing on the others)",
    AGREE: "agree",
}


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

    def differs(self, ran_everywhere: bool = False) -> bool:
        """True when a test answered differently, or (unless ran_everywhere) ran in some
        runs only: exit status 1."""
        hidden = (AGREE, PARTIAL) if ran_everywhere else (AGREE,)
        return any(row.status not in hidden for row in self.rows)

    def shown(self, show_all: bool = False, ran_everywhere: bool = False) -> list[Row]:
        """The rows a report lists, the tests that answered differently first."""
        order = [DIFFER]
        order += [] if ran_everywhere else [PARTIAL]
        order += [AGREE] if show_all else []
        return [row for status in order for row in self.rows if row.status == status]


@dataclass
class SyscallAnswers:
    """One syscall whose answer differs between runs in tests that ran on them: its
    answer per run (None: not recorded there), and the tests where it does."""

    name: str
    values: list[str | None]
    tests: list[str]

    def sentence(self, labels: Sequence[str]) -> str:
        """ "openat: EFTYPE on rump 7.99.34 where host 6.18, vm 6.1 say ELOOP" """
        groups: dict[str, list[str]] = {}
        for label, value in zip(labels, self.values, strict=True):
            if value is not None:
                groups.setdefault(value, []).append(label)
        common = max(groups, key=lambda v: len(groups[v]))
        others = "; ".join(f"{v} on {', '.join(ls)}" for v, ls in groups.items() if v != common)
        verb = "says" if len(groups[common]) == 1 else "say"
        return f"{self.name}: {others} where {', '.join(groups[common])} {verb} {common}"


# Comparing


@cache
def syscall_names() -> frozenset[str]:
    """Every syscall name any table knows: an observation under one is a call's answer."""
    from syscalls.abi import Platform, PlatformError, available

    names: set[str] = set()
    for spec in available():
        try:
            p = Platform.load(spec)
        except PlatformError:
            continue
        names.update(p.syscalls, p.symbols, p.aliases)
    return frozenset(names)


def is_answer(key: str, values: Sequence[str | None]) -> bool:
    """A syscall's answer ("ok" or an errno name) rather than a value a test recorded."""
    if key.split("#")[0] not in syscall_names():
        return False
    return all(v is None or v == "ok" or _ERRNO.fullmatch(v) for v in values)


def keyed(observations: list[str]) -> dict[tuple[str, int], str]:
    """{(key, n): value} for the n-th "key=value" entry with that key."""
    seen: dict[str, int] = {}
    result: dict[tuple[str, int], str] = {}
    for entry in observations:
        key, _, value = entry.partition("=")
        seen[key] = seen.get(key, 0) + 1
        result[key, seen[key]] = value
    return result


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
    per_run = [keyed(c.observations) if c else None for c in cells]
    order = _merged_order([list(k) for k in per_run if k is not None])
    diffs = []
    for key in order:
        values = [k.get(key) if k is not None else None for k in per_run]
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
        ran = [c if c is not None and c.outcome != "skipped" else None for c in cells]
        present = [c for c in ran if c is not None]
        diffs = observation_diffs(cells)
        ran_diffs = observation_diffs(ran)
        if len(present) > 1 and (len({c.outcome for c in present}) > 1 or ran_diffs):
            status = DIFFER
            diffs = ran_diffs  # where the kernels that ran it part, not where one skipped
        elif diffs or len({c.outcome if c else MISSING for c in cells}) > 1:
            status = PARTIAL
        else:
            status = AGREE
        rows.append(Row(nodeid, status, cells, diffs))
    return Comparison(list(runs), rows)


def by_syscall(comparison: Comparison) -> list[SyscallAnswers]:
    """Per syscall, each distinct pattern of answers across the runs, from the tests
    that ran on several runs and answered differently: where the kernels' semantics of
    one call part, at a glance. Runs that skipped the test count as not recorded."""
    found: dict[tuple[str, tuple[str | None, ...]], list[str]] = {}
    for row in comparison.rows:
        if row.status != DIFFER:
            continue
        ran = [c is not None and c.outcome != "skipped" for c in row.cells]
        for diff in row.diffs:
            values = tuple(v if r else None for v, r in zip(diff.values, ran, strict=True))
            if len({v for v in values if v is not None}) > 1 and is_answer(diff.key, values):
                found.setdefault((diff.key, values), []).append(row.nodeid)
    answers = [SyscallAnswers(k, list(v), tests) for (k, v), tests in found.items()]
    return sorted(answers, key=lambda a: (a.name, -len(a.tests)))


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
        f"{len(comparison.rows)} tests: {c[DIFFER]} answered differently where they ran, "
        f"{c[PARTIAL]} ran on some runs only, {c[AGREE]} agree"
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


def render_text(
    comparison: Comparison,
    show_all: bool = False,
    width: int | None = None,
    ran_everywhere: bool = False,
) -> str:
    """The matrix as plain text: the tests that answered differently first, then those
    that ran on some runs only (unless ran_everywhere), grouped by file, one line per
    differing key; then the answers per syscall, and the summary.

    Columns are the runs in the order given; the legend above names each one fully.
    """
    runs = comparison.runs
    width = min(max(width or shutil.get_terminal_size((120, 24)).columns, 80), MAX_WIDTH)
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
    rule = "-" * min(first + (col + 1) * len(runs), width)
    lines.append(rule)
    rows = comparison.shown(show_all, ran_everywhere)
    status = current_file = None
    for row in rows:
        if row.status != status:
            status, current_file = row.status, None
            count = comparison.counts[status]
            lines.append(_fit(f"== {count} {TITLES[status]}", width).rstrip())
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
    if not rows:
        lines.append("(no differences)")
    answers = by_syscall(comparison)
    if answers:
        lines += ["", rule, "== per syscall: where the answers part, in tests that ran"]
        labels = [f"[{i + 1}]" for i in range(len(runs))]
        for a in answers:
            tests = f"{len(a.tests)} test{'s' if len(a.tests) > 1 else ''}"
            text = f"{a.sentence(labels)} ({tests}: {display_id(a.tests[0])}"
            text += ", ..." if len(a.tests) > 1 else ""
            lines.append(_fit(text + ")", width).rstrip())
    lines += ["", summary(comparison)]
    return "\n".join(lines) + "\n"
