"""The run's result files (syscalls.runner.controller.ResultFiles): pytest's JUnit XML
written under a temporary name and renamed into place; one that cannot be written (a
full disk) ends the run in one line, with the summary, and leaves no part behind."""

from __future__ import annotations

import resource
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.runner_checks import pytest_in

TESTS = """
import pytest

@pytest.mark.parametrize("n", range(60))
def test_one_of_many_with_a_long_name_that_makes_the_junit_file_grow(n):
    pass
"""


def _file_size_limit(limit: int) -> Callable[[], None]:
    def set_limit() -> None:  # Python ignores SIGXFSZ: a write past it is EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return set_limit


def test_junit_appears_whole_under_its_own_name(tmp_path: Path) -> None:
    (tmp_path / "test_many.py").write_text(TESTS)
    out = tmp_path / "out"
    p = pytest_in(tmp_path, f"--junitxml={out / 'junit.xml'}", "test_many.py")
    assert p.returncode == 0, p.stdout[-2000:]
    assert [f.name for f in out.iterdir()] == ["junit.xml"]
    assert (out / "junit.xml").read_text().count("<testcase") == 60


def test_a_junit_file_that_cannot_be_written_ends_the_run_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "test_many.py").write_text(TESTS)
    out = tmp_path / "out"
    out.mkdir()
    p = pytest_in(
        tmp_path,
        f"--junitxml={out / 'junit.xml'}",
        "test_many.py",
        preexec_fn=_file_size_limit(4096),  # the JUnit XML of 60 tests is larger
    )
    assert p.returncode == pytest.ExitCode.INTERNAL_ERROR, p.stdout[-2000:]
    assert "syscalls: its results could not be written: File too large" in p.stdout
    assert "60 passed" in p.stdout  # pytest's summary, still printed
    assert "Traceback" not in p.stdout + p.stderr
    assert list(out.iterdir()) == []  # no half-written temporary file
