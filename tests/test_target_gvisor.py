"""--target gvisor: the suite under gVisor (runsc), with results back on the host.

These start the real runsc (Debian's package; root only, as runsc needs it here). One
run of a representative subset, with one test made to fail inside the sandbox, checks
a finished run; a second is cut by its overall limit while a test hangs. The whole
suite under gVisor takes ~2-3 minutes (see the README); these take seconds each.
"""

from __future__ import annotations

import os
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
    junit_outcomes,
    need,
    run_subset_with_a_failure,
    run_target,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def _runsc() -> None:
    need("runsc", "runsc")
    if os.geteuid() != 0:
        pytest.skip("runsc needs root to create its sandbox here")


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Finished:
    """One run of SUBSET with FAIL made to fail (xdist workers inside, as by default)."""
    return run_subset_with_a_failure("gvisor", tmp_path_factory.mktemp("gvisor") / "out")


def test_gvisor_results_come_back_complete(finished: Finished) -> None:
    p, out = finished.p, finished.out
    profile = check_complete_run(p, out, "gvisor")
    assert set(profile.tests) == collected(*SUBSET_FILES, "-k", SUBSET)
    check_guest_kernel(out, profile, "gvisor")
    assert profile.meta["hostname"] == "syscalls-gvisor"  # written inside the sandbox
    assert "syscalls: gvisor: suite finished" in p.stdout


def test_gvisor_exit_status_is_the_suites(finished: Finished) -> None:
    """runsc returns the container's status, but ours comes from the results: a test
    made to fail inside gives the suite's 1, and only that test failed for that reason."""
    p, out = finished.p, finished.out
    assert p.returncode == 1, p.stdout[-2000:] + p.stderr[-2000:]
    assert (out / "status").read_text().strip() == "1"
    junit = junit_outcomes(out / "junit.xml")
    assert junit[FAIL.replace(".py::", "::").replace("/", ".")] == "failed"
    profile = check_complete_run(p, out, "gvisor")
    assert "deliberate failure" in profile.tests[FAIL]["reason"]


def test_gvisor_leaves_nothing_behind(finished: Finished) -> None:
    assert finished.p.returncode in (0, 1)
    check_nothing_left("gvisor", finished.before)


def test_gvisor_run_over_its_time_limit_keeps_what_finished(tmp_path: Path) -> None:
    out = tmp_path / "out"
    before = host_leftovers("gvisor")
    limit = 15
    p = run_target(
        "gvisor", out, "suites/fs/test_openat.py", "-n", "0", *FAULTS, f"--hang-at={HANG}",
        time_limit=limit,
    )  # fmt: skip
    profile = check_time_limited_run(p, out, "gvisor", limit, HANG)
    assert set(profile.tests) < collected("suites/fs/test_openat.py")  # the rest never ran
    check_nothing_left("gvisor", before)
