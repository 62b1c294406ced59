"""Regressions against a baseline: what got worse in a run than in known-good runs.

`syscalls compare --baseline OLD NEW` and `syscalls run|boot ... --baseline OLD` judge
each test of the new run against the baseline run(s), profiles or JUnit XML:

worse    a test that did not fail now fails, errors or crashes (whatever the baseline's
         other tests did); one that passed is missing from a run that selected it; one
         that passed now skips because the kernel answered ENOSYS; or, in a test that
         passed both times, a syscall answered differently (`openat=EEXIST -> ok`),
         where every baseline run gave the same answer.
better   a test that failed in every baseline run now passes.
differs  the rest that changed: values a test records (`observe`: masks, sizes, the
         release) in a test that still passes, answers the baseline runs disagree on,
         other skips, tests new to the suite.

Values a test records depend on the kernel and the machine (io_uring's feature bits,
membarrier's command mask, whether an RTC is there), so a change in one is a difference,
not a regression; so are answers that vary between good runs, which several --baseline
runs reveal. Tests keep what varies from run to run on one kernel out of their answers
(tests/test_baseline.py checks that two runs of a selection compare empty).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from syscalls.compare import is_answer, keyed
from syscalls.runs import GOOD, InputError, Run, TestRun, label_runs, load

WORSE, BETTER, DIFFERS = "worse", "better", "differs"
KINDS = (WORSE, BETTER, DIFFERS)
MISSING = "missing"
ARROW = "→"


@dataclass
class Answer:
    """One observation (its n-th occurrence) whose value changed: old and new."""

    key: str  # "openat", "openat#2"
    old: str | None  # None: not recorded in that run
    new: str | None

    def __str__(self) -> str:
        name = self.key.split("#")[0]
        old = "—" if self.old is None else f"{name}={self.old}"
        new = "—" if self.new is None else f"{name}={self.new}"
        return f"{old} {ARROW} {new}"


@dataclass
class Change:
    """One test whose result changed against the baseline."""

    nodeid: str
    kind: str  # WORSE, BETTER or DIFFERS
    old: str  # the baseline's outcome ("passed", "failed/passed" where runs disagree)
    new: str  # this run's outcome, or MISSING
    answers: list[Answer] = field(default_factory=list)
    reason: str = ""  # this run's skip or failure message

    def line(self) -> str:
        """`test: passed → failed: openat=EEXIST → openat=ok` (or the reason)."""
        head = f"{self.nodeid.removeprefix('suites/')}: {self.old} {ARROW} {self.new}"
        # the answers that changed first; calls the run never got to say less than why
        changed = [a for a in self.answers if a.old is not None and a.new is not None]
        reason = self.reason.strip().splitlines()[0][:160] if self.reason.strip() else ""
        shown = changed or ([] if reason else self.answers)
        if shown:
            text = "; ".join(str(a) for a in shown[:3])
            more = f" (+{len(shown) - 3} more)" if len(shown) > 3 else ""
            return f"{head}: {text}{more}"
        return f"{head}: {reason}" if reason else head


@dataclass
class Verdict:
    baselines: list[Run]
    run: Run
    changes: list[Change]
    compared: int  # tests judged
    unselected: int  # baseline tests this run did not select (not missing)

    def of(self, kind: str) -> list[Change]:
        return [c for c in self.changes if c.kind == kind]

    @property
    def worse(self) -> bool:
        return any(c.kind == WORSE for c in self.changes)

    def summary(self) -> str:
        worse, better, differs = (len(self.of(k)) for k in KINDS)
        text = f"against the baseline: {worse} worse, {better} better, {differs} differ"
        text += f" ({self.compared} tests compared"
        if self.unselected:
            text += f"; {self.unselected} of the baseline's not selected in this run"
        return text + ")"


def _keyed(observations: list[str]) -> dict[str, str]:
    """{"openat": "ok", "openat#2": "EEXIST"}: compare's alignment, the n-th occurrence
    of a key against the n-th."""
    return {k if n == 1 else f"{k}#{n}": v for (k, n), v in keyed(observations).items()}


def _answers(olds: list[TestRun], new: TestRun) -> tuple[list[Answer], list[Answer]]:
    """(stable answers that changed, other observations that changed): an observation is
    stable when every baseline run recorded the same value for it."""
    old_keyed = [_keyed(o.observations) for o in olds]
    new_keyed = _keyed(new.observations)
    answers: list[Answer] = []
    others: list[Answer] = []
    for key in dict.fromkeys([*(k for ks in old_keyed for k in ks), *new_keyed]):
        values = {ks.get(key) for ks in old_keyed}
        old = next(iter(values)) if len(values) == 1 else None
        now = new_keyed.get(key)
        if len(values) == 1 and old == now:
            continue
        change = Answer(key, old, now)
        stable = len(values) == 1 and old is not None and now is not None
        (answers if stable and is_answer(key, [old, now]) else others).append(change)
    return answers, others


def judge(baselines: Sequence[Run], run: Run) -> Verdict:
    """Every test of the baseline runs and of this run, judged (see the module doc)."""
    changes: list[Change] = []
    compared = unselected = 0
    nodeids = sorted({n for b in baselines for n in b.tests} | set(run.tests))
    for nodeid in nodeids:
        olds = [b.tests[nodeid] for b in baselines if nodeid in b.tests]
        new = run.tests.get(nodeid)
        if new is None and run.selected is not None and nodeid not in run.selected:
            unselected += 1
            continue
        compared += 1
        change = _judge_one(nodeid, olds, new)
        if change is not None:
            changes.append(change)
    return Verdict(list(baselines), run, changes, compared, unselected)


def _judge_one(nodeid: str, olds: list[TestRun], new: TestRun | None) -> Change | None:
    outcomes = list(dict.fromkeys(o.outcome for o in olds))
    old = "/".join(outcomes) or "new"
    if new is None:
        kind = WORSE if outcomes == ["passed"] else DIFFERS
        return Change(nodeid, kind, old, MISSING)
    if not olds:  # a test the baseline's suite did not have
        return None if new.outcome in GOOD else Change(nodeid, DIFFERS, old, new.outcome)
    answers, others = _answers(olds, new)
    all_good = all(o in GOOD for o in outcomes)
    if new.outcome not in GOOD:
        if all_good:
            return Change(nodeid, WORSE, old, new.outcome, answers + others, new.reason)
        return None if new.outcome in outcomes and not answers else _differs(nodeid, old, new)
    if new.outcome == "skipped" and outcomes == ["passed"] and "ENOSYS" in new.reason:
        return Change(nodeid, WORSE, old, new.outcome, [], new.reason)
    if new.outcome == "passed" and outcomes and not any(o in GOOD for o in outcomes):
        return Change(nodeid, BETTER, old, new.outcome, answers + others, new.reason)
    if outcomes == [new.outcome] == ["passed"] and answers:
        return Change(nodeid, WORSE, old, new.outcome, answers, new.reason)
    if outcomes != [new.outcome] or answers or others:
        return Change(nodeid, DIFFERS, old, new.outcome, answers + others, new.reason)
    return None


def _differs(nodeid: str, old: str, new: TestRun) -> Change:
    return Change(nodeid, DIFFERS, old, new.outcome, [], new.reason)


def render(verdict: Verdict, limit: int = 30) -> str:
    """The verdict for a terminal: what got worse first, each named with its answers."""
    lines = [f"baseline: {b.label} ({b.path})" for b in verdict.baselines]
    lines.append(f"this run: {verdict.run.label} ({verdict.run.path})")
    lines += unfinished(verdict.baselines)
    titles = {WORSE: "WORSE", BETTER: "better", DIFFERS: "differs (not a regression)"}
    for kind in KINDS:
        changes = verdict.of(kind)
        if not changes:
            continue
        lines += ["", f"{titles[kind]} ({len(changes)}):"]
        shown = changes if kind == WORSE else changes[:limit]
        lines += [f"  {c.line()}" for c in shown]
        if len(shown) < len(changes):
            lines.append(f"  ... and {len(changes) - len(shown)} more")
    lines += ["", verdict.summary()]
    return "\n".join(lines) + "\n"


# The exit-code contract (README): 0 nothing got worse, 1 something did, 2 bad input or
# target unavailable, 3 the run did not finish; --bisect turns 2 and 3 into 125, which
# `git bisect run` reads as "could not test this commit".
BISECT_SKIP = 125


def bisect_code(code: int, bisect: bool) -> int:
    return BISECT_SKIP if bisect and code in (2, 3) else code


def load_baselines(paths: Sequence[str | os.PathLike[str]]) -> list[Run]:
    """The baseline runs, read before anything runs; InputError names a bad one. One
    without a single test is one: against it nothing can get worse, and every run
    (a bisect's too) would be judged good."""
    runs = [load(Path(p)) for p in paths]
    for run in runs:
        if not run.tests:
            raise InputError(f"{run.path}: a baseline without a test result judges nothing")
    label_runs(runs)
    return runs


def unfinished(baselines: Sequence[Run]) -> list[str]:
    """A line for each baseline that did not finish: the tests it set out to run and
    has no result for are judged as new tests (only a failure is told, as differing)."""
    lines = []
    for b in baselines:
        if b.incomplete:
            left = len(b.selected - b.tests.keys()) if b.selected is not None else None
            count = f"{left} of its tests have no result there" if left is not None else ""
            lines.append(
                f"note: baseline {b.label} did not finish ({b.incomplete})"
                + (f": {count}, judged as new tests" if count else "")
            )
    return lines


def after_run(out: Path, baselines: list[Run], code: int) -> int:
    """A `run`/`boot` judged against the baseline: its verdict printed, and the status 0
    or 1 by what got worse. A run that could not run (2) is not judged; one that did not
    finish (3) keeps its status, its finished tests judged for the reader."""
    if code not in (0, 1, 3):
        return code
    try:
        run = load(out / "profile.json")
    except InputError as e:
        print(f"syscalls: --baseline: this run's results: {e}", file=sys.stderr)
        return 3
    verdict = judge(baselines, run)
    sys.stdout.write(render(verdict))
    if code == 3:
        print("(the run did not finish: its status stays 3, whatever got worse)")
        return code
    return 1 if verdict.worse else 0
