"""@pytest.mark.as_user: a test of what a user is refused runs in a root run too, in a
child that has become nobody (syscalls.as_user, conftest.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.runner_checks import clean, junit_cases, junit_message

ROOT = Path(__file__).resolve().parent.parent
CASE = ROOT / "tests" / "data" / "as_user_case.py"


def _run(tmp_path: Path, user: bool = False) -> tuple[str, dict]:
    if user:  # a directory nobody reaches, for its JUnit XML and its home
        tmp_path = Path(tempfile.mkdtemp(dir="/tmp"))
        os.chown(tmp_path, 65534, 65534)
    try:
        return _pytest(tmp_path, user)
    finally:
        if user:
            shutil.rmtree(tmp_path)


def _pytest(tmp_path: Path, user: bool) -> tuple[str, dict]:
    junit = tmp_path / "junit.xml"
    argv = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
            "-p", "no:xdist", f"--junitxml={junit}", str(CASE)]  # fmt: skip
    env = {**os.environ, "RUN_AS": "65534" if user else str(os.geteuid())}
    preexec = None
    if user:
        env["HOME"] = str(tmp_path)

        def preexec() -> None:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)

    proc = subprocess.run(
        argv, cwd=ROOT, capture_output=True, text=True, env=env, preexec_fn=preexec,
        check=False, timeout=120,
    )  # fmt: skip
    return proc.stdout + proc.stderr, junit_cases(junit)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: a root run's as_user tests")
def test_a_root_run_runs_them_as_nobody(tmp_path: Path) -> None:
    out, cases = _run(tmp_path)
    passed = [n for n, c in cases.items() if clean(c) and c.find("skipped") is None]
    assert sorted(passed) == [
        "test_an_unmarked_test_runs_as_the_run_does",
        "test_observations_come_back",
        "test_sees_itself_as_nobody_without_groups_or_capabilities",
        "test_what_a_fixture_made_is_handed_over",
    ], out
    failure = junit_message(cases["test_a_failure_keeps_its_assertion"], "failure") or ""
    assert "assert 65534 == 4321" in failure, out
    skipped = cases["test_a_skip_stays_a_skip"].find("skipped")
    assert skipped is not None and "skipped as nobody" in (skipped.get("message") or "")
    props = cases["test_observations_come_back"].find("properties")
    assert props is not None
    observed = [
        json.loads(p.get("value", "")) for p in props if p.get("name") == "syscalls.observations"
    ]
    assert observed == [["getuid=ok"]], out  # recorded in the child, kept by the parent


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: to start a user's run")
def test_a_users_run_runs_them_in_its_own_process(tmp_path: Path) -> None:
    out, cases = _run(tmp_path, user=True)
    failure = junit_message(cases["test_a_failure_keeps_its_assertion"], "failure") or ""
    assert "assert 65534 == 4321" in failure, out
    assert "child" not in failure  # no child: the test's own process raised it
    assert clean(cases["test_an_unmarked_test_runs_as_the_run_does"]), out
