"""--target uml: the suite under User-Mode Linux, with results back on the host.

These boot the real linux.uml (Debian's user-mode-linux). One boot runs a
representative subset with one test made to fail inside the guest and checks a
finished run; one has no test to run (pytest's status 5 must come back, although
UML exits 0); one is cut by its overall limit while a test hangs. `syscalls run
--target uml` itself runs the whole suite by default (~3 minutes, see the README).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.target_checks import (
    FAIL,
    FAULTS,
    HANG,
    SUBSET,
    SUBSET_FILES,
    Finished,
    check_complete_run,
    check_guest_kernel,
    check_nothing_left,
    check_time_limited_run,
    collected,
    host_leftovers,
    need_uml,
    run_subset_with_a_failure,
    run_target,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def _uml() -> None:
    need_uml()


def uml_release() -> str:
    p = subprocess.run(["linux.uml", "--version"], capture_output=True, text=True, check=True)
    return p.stdout.strip()


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Finished:
    """One boot running SUBSET, with FAIL made to fail inside the guest."""
    return run_subset_with_a_failure("uml", tmp_path_factory.mktemp("uml") / "out")


def test_uml_results_come_back_complete(finished: Finished) -> None:
    p, out = finished.p, finished.out
    profile = check_complete_run(p, out, "uml")
    assert set(profile.tests) == collected(*SUBSET_FILES, "-k", SUBSET)
    assert check_guest_kernel(out, profile, "uml") == uml_release()
    assert profile.meta["hostname"] == "syscalls-uml"  # written inside the guest
    assert "syscalls: uml: suite finished" in p.stdout


def test_uml_exit_status_is_the_suites_not_umls(finished: Finished, tmp_path: Path) -> None:
    # UML exits 0 after any power-off; the status is the one the guest wrote.
    p, out = finished.p, finished.out
    assert p.returncode == 1, p.stdout[-2000:] + p.stderr[-2000:]
    assert (out / "status").read_text().strip() == "1"
    profile = check_complete_run(p, out, "uml")
    assert "deliberate failure" in profile.tests[FAIL]["reason"]
    failed = [t for t, e in profile.tests.items() if e["outcome"] == "failed"]
    assert FAIL in failed
    # No test selected: pytest's 5 in the results, our 2 (bad input), saying why.
    out = tmp_path / "out"
    p = run_target("uml", out, "suites/misc/test_uname.py", "-k", "no_test_has_this_name")
    assert p.returncode == 2, p.stdout[-2000:] + p.stderr[-2000:]
    assert (out / "status").read_text().strip() == "5"
    assert "no test matched the selection" in p.stderr


def test_uml_leaves_nothing_behind(finished: Finished) -> None:
    assert finished.p.returncode in (0, 1)
    check_nothing_left("uml", finished.before)


def test_uml_run_over_its_time_limit_keeps_what_finished(tmp_path: Path) -> None:
    out = tmp_path / "out"
    before = host_leftovers("uml")
    limit = 15
    p = run_target(
        "uml", out, "suites/fs/test_openat.py", *FAULTS, f"--hang-at={HANG}", time_limit=limit
    )
    profile = check_time_limited_run(p, out, "uml", limit, HANG)
    assert set(profile.tests) < collected("suites/fs/test_openat.py")  # the rest never ran
    assert "syscalls-guest: running the suite" in (out / "console.log").read_text()
    check_nothing_left("uml", before)
