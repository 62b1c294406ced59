"""@pytest.mark.disposable: tests that change the whole machine run only in a VM target,
and skip elsewhere saying why (conftest.py)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASE = ROOT / "tests" / "data" / "disposable_case.py"


def _run(*args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:xdist", str(CASE), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout


def test_disposable_tests_skip_outside_a_vm_saying_why() -> None:
    out = _run("--target=host", "--strict-markers")
    assert "1 skipped" in out
    assert "changes the whole machine: runs only in a disposable VM (syscalls boot)" in out


def test_disposable_tests_run_in_a_vm_target() -> None:
    assert "1 passed" in _run("--target=vm")
