"""A kernel whose getpid() answers wrongly (a regression the suite must report) does not
stop the run: who forked whom, whose children to list and which run owns a directory
are read from /proc (processes.own_pid, parent_pid), and its getpid tests fail."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from syscalls import processes
from tests.runner_checks import ROOT, junit_cases

# Python's os.getpid answering wrongly for every process of the run, from its start
WRONG = """
import os
_real = os.getpid
os.getpid = lambda: _real() + 100000
"""

IDS = "suites/proc/test_ids.py"  # getpid's tests, and 15 that fork (in_child)
OPENAT = "suites/fs/test_openat.py"  # quick tests in directories of the run's own


def test_a_run_under_a_wrong_getpid_finishes_and_fails_only_what_checks_it(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text(WRONG)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    p = subprocess.run(
        [sys.executable, "-m", "syscalls", "run", "--out", str(out), "-n", "2", "--", IDS, OPENAT],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    output = p.stdout[-3000:] + p.stderr[-3000:]
    assert p.returncode == 1, output  # tests failed; not 3 (the run did not finish)
    cases = junit_cases(out / "junit.xml")
    failed = sorted(n for n, c in cases.items() if c.find("failure") is not None)
    assert "test_getpid_matches_the_c_library" in failed, output
    assert not [n for n, c in cases.items() if c.find("error") is not None], output
    assert len(cases) > 40 and len(failed) < 10, (failed, output)


def test_own_and_parent_pid_are_the_kernels() -> None:
    assert processes.own_pid() == os.getpid()
    assert processes.parent_pid() == os.getppid()
