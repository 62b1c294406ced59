"""KTAP version 1, the kernel's own test output format (kselftest, KUnit; KernelCI reads
it), written from a run's results on the host, whatever the target.

    KTAP version 1
    # syscalls: netbsd/amd64, kernel 7.99.34, target rump
    1..2                                one test per area, each a nested block
      KTAP version 1
      # Subtest: fs
      1..3
      ok 1 test_openat.py::test_openat_missing_file_is_enoent
      # test_read.py::test_read_x: assert 'EBADF' == 'EINVAL'
      not ok 2 test_read.py::test_read_x
      ok 3 test_statx.py::test_statx_y # SKIP statx: not in the netbsd/amd64 table
    not ok 1 fs
      ...
    ok 2 time
    # Totals: pass:1 fail:1 xfail:0 xpass:0 skip:1 error:0

Rules followed (Documentation/dev-tools/ktap.rst, Linux 6.1): a version line opens the
output and each nested block; a plan `1..N` follows it; results are numbered from 1 in
order within their block; a description cannot hold `#`, which starts the directive
(`SKIP`, `XFAIL`, `ERROR`) and its diagnostic data; a nested block is indented two
spaces and closed by its parent's result line, `not ok` when a subtest failed and
`# SKIP` when all were skipped; `# ...` lines are diagnostics, placed before the result
they explain. KUnit's `# Subtest: NAME` line names each block.

A failure's message goes in diagnostic lines before its result; an error outside the
test body (setup, teardown) is `not ok ... # ERROR message`. A run that did not finish
(a target that crashed or hung) says so in a diagnostic line; where the profile lists
the tests the run set out to run, those it never reached are `not ok ... # ERROR`.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from syscalls.compare import Run, TestRun, load
from syscalls.userfiles import OutputError, check_output, write_output

VERSION = "KTAP version 1"
INDENT = "  "
REASON_LINES = 20
NOT_RUN = "ERROR not run: the run ended first"  # diagnostic lines kept of one failure's message


KINDS = ("pass", "fail", "xfail", "xpass", "skip", "error")  # kselftest's Totals line


@dataclass
class Case:
    """One test as a KTAP result line (and the diagnostics before it)."""

    name: str
    kind: str  # one of KINDS
    directive: str = ""  # "SKIP reason", "XFAIL reason", "ERROR reason"
    diagnostics: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.kind not in ("fail", "error")

    def lines(self, number: int) -> list[str]:
        out = [f"# {line}" for line in self.diagnostics]
        head = f"{'ok' if self.ok else 'not ok'} {number} {self.name}"
        out.append(f"{head} # {self.directive}" if self.directive else head)
        return out


def description(text: str) -> str:
    """A test's name as a KTAP description: one line, no `#` (it would start a directive)."""
    text = " ".join(text.replace("#", "%23").split())
    return text or "unnamed"


def one_line(text: str) -> str:
    return " ".join(text.split())


def case(name: str, test: TestRun) -> Case:
    reason = test.reason.strip()
    if test.outcome == "passed":
        return Case(name, "pass")
    if test.outcome == "skipped":
        return Case(name, "skip", one_line(f"SKIP {reason}"))
    if test.outcome == "xfailed":
        return Case(name, "xfail", one_line(f"XFAIL {reason}"))
    if test.outcome == "xpassed":  # a non-strict xfail that passed: not a failure
        return Case(name, "xpass", diagnostics=(f"{name}: passed, though expected to fail",))
    if test.outcome == "error":
        return Case(name, "error", one_line(f"ERROR {reason or 'error outside the test'}"))
    lines = reason.splitlines() or [test.outcome]
    if test.outcome != "failed":
        lines = [f"outcome {test.outcome}", *lines]
    kept = [f"{name}: {lines[0]}", *lines[1:REASON_LINES]]
    if len(lines) > REASON_LINES:
        kept.append(f"... {len(lines) - REASON_LINES} more lines in junit.xml")
    return Case(name, "fail", diagnostics=tuple(kept))


def area_of(nodeid: str) -> tuple[str, str]:
    """(area, the test's name within it): suites/fs/test_x.py::t -> (fs, test_x.py::t)."""
    path, sep, rest = nodeid.partition("::")
    parts = path.split("/")
    if parts[0] == "suites" and len(parts) > 2:
        area, inner = parts[1], parts[2:]
    elif len(parts) > 1:
        area, inner = parts[0], parts[1:]
    else:
        area, inner = "main", parts
    return area, "/".join(inner) + sep + rest


@dataclass
class RunResults:
    """A finished run as the reports written from it see it (KTAP here, LAVA's test
    cases in syscalls/lava.py)."""

    run: Run
    incomplete: str = ""  # why the run did not finish, if it did not
    selected: list[str] = field(default_factory=list)  # what it set out to run, in order

    def by_area(self) -> dict[str, list[tuple[str, TestRun | None]]]:
        """area -> [(the test's name within it, its result, None where the run never
        reached it)], in the order the run collected them where known, then by name."""
        order = {nodeid: i for i, nodeid in enumerate(self.selected)}
        areas: dict[str, list[tuple[str, TestRun | None]]] = {}
        last = len(order)
        for nodeid in sorted({*self.run.tests, *order}, key=lambda n: (order.get(n, last), n)):
            area, name = area_of(nodeid)
            areas.setdefault(area, []).append((name, self.run.tests.get(nodeid)))
        return areas


def read_results(profile: Path, junit: Path | None = None) -> RunResults:
    """The run whose profile.json (or junit.xml) is at `profile`. Tests that the run's
    `junit` records and the profile lacks are added from it: a test whose worker died
    is reported to pytest's JUnit writer but may never reach the profile, and a
    crash is what a reader of the report most needs to see."""
    run = load(profile)
    if junit is not None and junit.is_file():
        for nodeid, test in load(junit).tests.items():
            run.tests.setdefault(nodeid, test)
    meta = _meta(profile)
    incomplete, selected = meta.get("incomplete"), meta.get("selected")
    return RunResults(
        run,
        incomplete=str(incomplete) if incomplete else "",
        selected=[str(s) for s in selected] if isinstance(selected, list) else [],
    )


def render(results: RunResults) -> str:
    """The whole KTAP document for a run."""
    run, incomplete = results.run, results.incomplete
    areas: dict[str, list[Case]] = {}
    for area, tests in results.by_area().items():
        for name, test in tests:
            if test is not None:
                result = case(description(name), test)
            else:
                why = f" ({one_line(incomplete)})" if incomplete else ""
                result = Case(description(name), "error", NOT_RUN + why)
            areas.setdefault(area, []).append(result)
    where = (run.platform, run.kernel and f"kernel {run.kernel}", f"target {run.target}")
    lines = [VERSION, f"# syscalls: {', '.join(p for p in where if p)}"]
    if incomplete:
        lines.append(f"# the run did not finish: {one_line(incomplete)}")
    lines.append(f"1..{len(areas)}")
    totals = dict.fromkeys(KINDS, 0)
    for number, (area, cases) in enumerate(areas.items(), 1):
        block = [VERSION, f"# Subtest: {description(area)}", f"1..{len(cases)}"]
        for i, c in enumerate(cases, 1):
            block += c.lines(i)
            totals[c.kind] += 1
        lines += [INDENT + line for line in block]
        failed = sum(not c.ok for c in cases)
        if failed:
            lines.append(f"# {area}: {failed} of {len(cases)} not ok")
            lines.append(f"not ok {number} {description(area)}")
        elif all(c.kind == "skip" for c in cases):
            lines.append(f"ok {number} {description(area)} # SKIP all {len(cases)} skipped")
        else:
            lines.append(f"ok {number} {description(area)}")
    lines.append("# Totals: " + " ".join(f"{k}:{v}" for k, v in totals.items()))
    return "\n".join(lines) + "\n"


def from_results(profile: Path, junit: Path | None = None) -> str:
    """KTAP for the run whose results are at `profile` (and `junit`): see read_results."""
    return render(read_results(profile, junit))


def _meta(profile: Path) -> dict:
    """The profile's meta (incomplete, selected), {} for JUnit or where it has none."""
    from syscalls.targets.results import read_guest  # a target's: no FIFO, no symlink

    try:
        data = json.loads(read_guest(profile) or b"null")
    except ValueError:
        return {}
    meta = data.get("meta") if isinstance(data, dict) else None
    return meta if isinstance(meta, dict) else {}


def write(text: str, dest: str) -> None:
    """To the file `dest` (replaced whole, never half-written) or, for `-`, stdout."""
    if dest == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    write_output(Path(dest), text.encode())  # OutputError: one line naming the path


def written_since(path: Path, started_ns: int) -> bool:
    """Whether `path` was written by a run that started at `started_ns` (time_ns()),
    not left by an earlier one; a second of slack for a coarse file system clock."""
    try:
        return path.stat().st_mtime_ns >= started_ns - 1_000_000_000
    except OSError:
        return False


def unwritable(dest: str) -> str:
    """Why `dest` cannot take the KTAP output ("" if it can), asked before the run: one
    line naming the path (a directory, a device such as /dev/full, a directory missing or
    not writable), as for every output."""
    if dest == "-":
        return ""
    try:
        check_output(Path(dest))
    except OutputError as e:
        return str(e)
    return ""


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Everything the run prints, in this process and in the ones it starts, goes to
    standard error, keeping standard output for the KTAP document."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
