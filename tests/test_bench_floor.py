"""bench/floor.py: with it, a test's fixtures run and the test counts as passed, but its
body never runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CASE = """
import pytest

@pytest.fixture
def mark(tmp_path_factory):
    with open({log!r}, "a") as f:
        f.write("setup\\n")
    yield
    with open({log!r}, "a") as f:
        f.write("teardown\\n")

def test_body_would_fail(mark):
    with open({log!r}, "a") as f:
        f.write("body\\n")
    raise AssertionError("the body ran")
"""


def _pytest(case: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", "/dev/null"]
    cmd += ["--rootdir", str(case.parent), *args, str(case)]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


def test_the_fixtures_run_and_the_body_does_not(tmp_path: Path) -> None:
    log = tmp_path / "log"
    case = tmp_path / "test_case.py"
    case.write_text(CASE.format(log=str(log)))
    p = _pytest(case, "-p", "bench.floor")
    assert p.returncode == 0 and "1 passed" in p.stdout, p.stdout + p.stderr
    assert log.read_text() == "setup\nteardown\n"


def test_without_it_the_same_body_runs_and_fails(tmp_path: Path) -> None:
    log = tmp_path / "log"
    case = tmp_path / "test_case.py"
    case.write_text(CASE.format(log=str(log)))
    p = _pytest(case)
    assert p.returncode == 1 and "the body ran" in p.stdout
    assert log.read_text() == "setup\nbody\nteardown\n"
