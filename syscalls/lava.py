"""A run's results as LAVA test cases: `python3 -m syscalls.lava OUT [--status N]`.

LAVA (the engine behind KernelCI's labs) runs a test definition's steps in a job's
guest; ci/lava/syscalls.yaml runs ci/lava/run, which runs the suite and then this, so
that each test becomes one `lava-test-case NAME --result pass|fail|skip|unknown`, the
tests of one area grouped between `lava-test-set start AREA` and `lava-test-set stop`.
Outside LAVA (no lava-test-case on PATH) the same commands are printed instead, so the
script behaves the same on a developer's machine.

Facts from LAVA's documentation and helpers (Debian's lava-server-doc, lava-dispatcher
and lava-server 2023.01): a test case name may not hold whitespace (the dispatcher skips
such a case), a `/` in it becomes `_`, it is part of the results' URLs and is documented
as at most 100 characters; a test set's name must be what URL quoting leaves unchanged;
the results are pass, fail, skip and unknown.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from syscalls.compare import InputError, TestRun
from syscalls.ktap import RunResults, read_results

MAX_NAME = 100
RUN_CASE = "syscalls-run"  # the run itself: did it finish (status 0 or 1)?
_UNSAFE = re.compile(r"[^A-Za-z0-9_.~-]+")  # what URL quoting would change, and more
RESULTS = {
    "passed": "pass",
    "xfailed": "pass",  # failed as the test says it should
    "xpassed": "pass",
    "skipped": "skip",
    "failed": "fail",
    "error": "fail",
}

Runner = Callable[[list[str]], None]


def case_name(name: str) -> str:
    """A test's name within its area as a LAVA test case name: test_openat.py::test_x[a b]
    -> test_openat.test_x_a_b (letters, digits, _ . ~ - only)."""
    path, sep, rest = name.partition("::")
    text = path.removesuffix(".py").replace("/", ".") + (sep and ".") + rest.replace("::", ".")
    return _UNSAFE.sub("_", text).strip("_.") or "unnamed"


def unique_names(names: list[str]) -> dict[str, str]:
    """Test name -> its case name, unique within the list and at most MAX_NAME long; a
    name that was cut or would collide ends in a short hash of the test's full name."""
    plain = {name: case_name(name) for name in names}
    counts: dict[str, int] = {}
    for cased in plain.values():
        counts[cased] = counts.get(cased, 0) + 1
    out = {}
    for name, cased in plain.items():
        if len(cased) > MAX_NAME or counts[cased] > 1:
            digest = hashlib.sha1(name.encode()).hexdigest()[:10]
            cased = f"{cased[: MAX_NAME - len(digest) - 1]}-{digest}"
        out[name] = cased
    return out


def set_name(area: str) -> str:
    return _UNSAFE.sub("_", area).strip("_") or "main"


def result(test: TestRun | None) -> str:
    return "unknown" if test is None else RESULTS.get(test.outcome, "unknown")


def report(results: RunResults | None, status: int | None, run: Runner) -> int:
    """Each test as a LAVA test case, then the run's own case; the number of cases."""
    count = 0
    if results is not None:
        for area, tests in results.by_area().items():
            run(["lava-test-set", "start", set_name(area)])
            names = unique_names([name for name, _ in tests])
            for name, test in tests:
                if test is not None and test.outcome in ("skipped", "failed", "error"):
                    why = " ".join(test.reason.split())[:300]
                    print(f"syscalls: {area}/{name}: {test.outcome}: {why}", flush=True)
                run(["lava-test-case", names[name], "--result", result(test)])
                count += 1
            run(["lava-test-set", "stop"])
    if status is not None:
        print(f"syscalls: the run's exit status was {status}", flush=True)
        run(["lava-test-case", RUN_CASE, "--result", "pass" if status in (0, 1) else "fail"])
        count += 1
    return count


def runner() -> Runner:
    """LAVA's helpers where they are on PATH, else print what would have run."""
    if shutil.which("lava-test-case") is None:
        return lambda argv: print(" ".join(argv), flush=True)

    def run(argv: list[str]) -> None:
        subprocess.run(argv, check=False)

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m syscalls.lava",
        description="Report a run's results (OUT/profile.json, OUT/junit.xml) as LAVA "
        "test cases, one test set per area. Exit status: 0 reported, 2 bad input.",
    )
    parser.add_argument("out", type=Path, help="the run's --out directory")
    parser.add_argument("--status", type=int, help="the run's exit status: its own case")
    args = parser.parse_args(argv)
    profile, junit = args.out / "profile.json", args.out / "junit.xml"
    results = None
    try:
        results = read_results(profile, junit)
    except InputError as e:
        if args.status is None:
            print(f"syscalls.lava: {e}", file=sys.stderr)
            return 2
        print(f"syscalls.lava: no results to report ({e})", file=sys.stderr)
    report(results, args.status, runner())
    return 0


if __name__ == "__main__":
    sys.exit(main())
