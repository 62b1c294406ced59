"""Helpers for the tests that run the suite in a real target: the run, its JUnit."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_target(target: str, out: Path, *pytest_args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "syscalls",
            "run",
            "--target",
            target,
            "--out",
            str(out),
            "--time-limit",
            "600",
            "--",
            *pytest_args,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def junit_outcomes(path: Path) -> dict[str, str]:
    """testcase (classname::name) -> passed, failed, error or skipped."""
    outcomes = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        kind = {"failure": "failed", "error": "error", "skipped": "skipped"}
        outcomes[f"{case.get('classname')}::{case.get('name')}"] = (
            kind[kinds[0]] if kinds else "passed"
        )
    return outcomes
