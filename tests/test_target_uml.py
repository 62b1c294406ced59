"""--target uml: the suite under User-Mode Linux, with results back on the host.

These boot the real linux.uml (Debian's user-mode-linux). They run a representative
subset of the suite (a few files from several areas); `syscalls run --target uml`
itself runs the whole suite by default (measured: ~3 minutes, see the README).
"""

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SUBSET = [
    "suites/fs/test_openat.py",
    "suites/proc/test_fork.py",
    "suites/signals/test_kill.py",
    "suites/net/test_tcp.py",
    "suites/mm/test_mmap.py",
    "suites/misc/test_uname.py",
]


def _need(binary: str, package: str) -> None:
    if shutil.which(binary) is None:
        if os.geteuid() == 0:  # ci/setup runs as root and installs it: missing is a bug
            pytest.fail(f"{binary} missing: ci/setup should have installed {package}")
        pytest.skip(f"{binary} missing (run ci/setup as root to install {package})")


@pytest.fixture(autouse=True)
def _uml() -> None:
    _need("linux.uml", "user-mode-linux")
    _need("busybox", "busybox-static")


pytestmark = pytest.mark.slow


def syscalls(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "syscalls", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )


def subset() -> list[str]:
    files = [f for f in SUBSET if (ROOT / f).exists()]
    assert files, "none of the subset's suite files exist any more"
    return files


def collected(files: list[str]) -> set[str]:
    """The test ids pytest collects on the host for these files."""
    p = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", *files],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return {line for line in p.stdout.splitlines() if "::" in line}


def uml_release() -> str:
    p = subprocess.run(["linux.uml", "--version"], capture_output=True, text=True, check=True)
    return p.stdout.strip()


def leftovers() -> list[str]:
    """linux.uml processes whose private directory is gone: left behind by a run."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        for arg in argv:
            private = Path(os.fsdecode(arg[5:])).parent
            if arg.startswith(b"init=") and b"syscalls-uml-" in arg and not private.exists():
                found.append(pid)
    return found


def test_uml_runs_the_suite_and_the_results_come_back(tmp_path: Path) -> None:
    out = tmp_path / "uml"
    files = subset()
    p = syscalls("run", "--target", "uml", "--out", str(out), "--", *files)
    log = p.stdout[-3000:] + p.stderr[-2000:]
    # The exit status is the suite's, as the guest wrote it (UML itself exits 0).
    assert (out / "status").read_text().strip() == str(p.returncode), log
    profile = json.loads((out / "profile.json").read_text())
    assert profile["target"] == "uml"
    assert profile["kernel"] == uml_release() != os.uname().release
    # Every test of the subset ran in the guest and is in both reports.
    assert set(profile["tests"]) == collected(files)
    cases = ET.parse(out / "junit.xml").getroot().iter("testcase")
    assert len(list(cases)) == len(profile["tests"])
    outcomes = [t["outcome"] for t in profile["tests"].values()]
    assert outcomes.count("passed") > len(outcomes) // 2, log
    failed = [k for k, t in profile["tests"].items() if t["outcome"] in ("failed", "error")]
    assert (p.returncode == 0) == (not failed), log
    console = (out / "console.log").read_text(errors="replace")
    assert "syscalls-guest: running the suite (uml, kernel 6." in console
    assert "syscalls: uml: suite finished" in p.stdout
    assert not leftovers()


def test_uml_exit_status_is_the_suites_not_umls(tmp_path: Path) -> None:
    out = tmp_path / "uml"
    p = syscalls("run", "--target", "uml", "--out", str(out), "--", "-k", "no_test_has_this_name")
    assert p.returncode == 5, p.stdout[-2000:]  # pytest: no tests ran
    assert (out / "status").read_text().strip() == "5"


def test_uml_run_over_its_time_limit_keeps_what_finished(tmp_path: Path) -> None:
    out = tmp_path / "uml"
    p = syscalls(
        "run", "--target", "uml", "--out", str(out), "--time-limit", "12", "--", "suites/fs"
    )
    assert p.returncode == 3, p.stdout[-2000:] + p.stderr[-2000:]
    assert "exceeded its overall limit of 12 s" in p.stderr
    profile = json.loads((out / "profile.json").read_text())
    assert "overall limit" in profile["meta"]["incomplete"]
    done = [t for t in profile["tests"].values() if t["outcome"] == "passed"]
    assert done, "tests that finished before the limit are kept"
    root = ET.parse(out / "junit.xml").getroot()
    assert root.get("name", "").startswith("incomplete run")
    assert "syscalls-guest: running the suite" in (out / "console.log").read_text()
    assert not leftovers()
