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

import shutil
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

# The readers live in syscalls.runs; compare's callers still find them here.
from syscalls.runs import InputError, Run, TestRun, junit_nodeid, label_runs, load  # noqa: F401

AGREE = "agree"
DIFFER = "differ"
PARTIAL = "partial"  # missing from at least one run, the rest agreeing
STATUSES = (AGREE, DIFFER, PARTIAL)
MISSING = "—"


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


# Comparing


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
