"""conftest.py moves what collection made out of the cyclic GC's way (gc.freeze), and a
forked worker collects seldom (syscalls.runner.worker.GC_THRESHOLDS)."""

import gc
from pathlib import Path

from syscalls.runner import worker
from tests.runner_checks import junit_cases, pytest_in


def test_the_collected_session_is_frozen_before_tests_run() -> None:
    # This test was collected and runs under the checkout's conftest.py, like the suites.
    assert gc.get_freeze_count() > 0


REPORTING = """
import gc

def test_thresholds(record_property):
    record_property("thresholds", repr(gc.get_threshold()))
    assert gc.get_freeze_count() > 0
"""


def test_a_forked_worker_collects_seldom(tmp_path: Path) -> None:
    (tmp_path / "test_reporting.py").write_text(REPORTING)
    junit = tmp_path / "junit.xml"
    p = pytest_in(tmp_path, "--workers", "1", f"--junitxml={junit}", "test_reporting.py")
    assert p.returncode == 0, p.stdout[-3000:]
    case = junit_cases(junit)["test_thresholds"]
    shown = {e.get("name"): e.get("value") for e in case.iter("property")}
    assert shown == {"thresholds": repr(worker.GC_THRESHOLDS)}
