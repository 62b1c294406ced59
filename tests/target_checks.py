"""Helpers for the tests that run the suite in a real target: the run, its JUnit."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from syscalls.profile import Profile

ROOT = Path(__file__).resolve().parent.parent


def run_target(
    target: str,
    out: Path,
    *pytest_args: str,
    kernel: Path | None = None,
    options: Sequence[str] = (),
    time_limit: float = 600,
) -> subprocess.CompletedProcess[str]:
    """`syscalls run --target TARGET`, or with `kernel` `syscalls boot KERNEL` (target
    vm); `options` go before the `--` (e.g. --accel tcg, --append ...)."""
    if kernel is not None:
        assert target == "vm", "a kernel image is booted by the vm target"
        command = ["boot", str(kernel)]
    else:
        command = ["run", "--target", target]
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "syscalls",
            *command,
            "--out",
            str(out),
            "--time-limit",
            f"{time_limit:g}",
            *options,
            "--",
            *pytest_args,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=time_limit + 300,
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


# A representative slice: files, pipes, futex waits, fork/wait; a few dozen tests.
SUBSET = "openat or pipe or futex or fork"
# The files most of SUBSET's tests live in. Naming them spares a slow target (the VM
# under TCG) collecting the whole suite, which costs it tens of seconds.
SUBSET_FILES = [
    "suites/fs/test_openat.py",
    "suites/ipc/test_pipe.py",
    "suites/sync/test_futex_wait_wake.py",
    "suites/proc/test_fork.py",
]


def check_complete_run(p: subprocess.CompletedProcess[str], out: Path, target: str) -> Profile:
    """A finished run: results parse, agree with each other and with the exit status."""
    junit = junit_outcomes(out / "junit.xml")
    profile = Profile.read(out / "profile.json")
    bad = [k for k, v in junit.items() if v in ("failed", "error")]
    assert p.returncode == (1 if bad else 0), p.stdout[-3000:] + p.stderr[-3000:]
    assert (out / "status").read_text().strip() == str(p.returncode)
    assert profile.target == target
    assert len(profile.tests) == len(junit) > 0
    passed = [k for k, v in profile.tests.items() if v["outcome"] == "passed"]
    assert len(passed) == list(junit.values()).count("passed") > 0
    return profile
