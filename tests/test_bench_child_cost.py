"""bench/child_cost.py, the plugin behind `bench/run.py --child-cost`, on a real run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_child_cost_counts_every_forked_child_and_a_bare_fork(tmp_path: Path) -> None:
    report = tmp_path / "cost.json"
    junit = tmp_path / "junit.xml"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "suites/proc/test_vfork.py", "-q", "-p",
         "no:cacheprovider", "-p", "bench.child_cost", f"--junitxml={junit}",
         f"--basetemp={tmp_path / 'base'}"],
        cwd=ROOT,
        env={**os.environ, "SYSCALLS_BENCH_CHILD_COST": str(report)},
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    cost = json.loads(report.read_text())
    ran = junit.read_text().count("<testcase") - junit.read_text().count("<skipped")
    # Every test of that file runs its subject in a child.
    assert cost["count"] == ran > 0
    kids, bare = cost["children"], cost["bare_fork"]
    assert kids["wall"]["total"] >= kids["wall"]["median"] > 0
    # A forked child writes to its stack at least, and each write is a copy-on-write fault.
    assert kids["child_faults"]["total"] > 0 and bare["child_faults"]["median"] > 0
    assert bare["wall"]["median"] > 0
