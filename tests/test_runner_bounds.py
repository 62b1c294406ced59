"""syscalls.runner.bounds: a huge failure text reaches the terminal and JUnit XML cut,
in a serial run and under xdist (a forked worker's: tests/test_runner_pool.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from syscalls.runner import bounds
from tests.runner_checks import clean, junit_cases, pytest_in

HUGE = """
def test_a_long_message():
    assert False, "<first>" + "x" * (4 << 20) + "<last>"

def test_b_after():
    pass
"""


def test_a_failure_text_within_bounds_is_left_as_it_is() -> None:
    class Repr:
        def __str__(self) -> str:
            return "short"

    kept = Repr()
    assert bounds.text(kept) is kept
    assert bounds.text(("path", 3, "Skipped: " + "x" * (4 << 20)))[2].startswith("Skipped")
    assert bounds.text(None) is None


def test_a_long_one_is_its_rendering_cut_in_the_middle() -> None:
    cut = bounds.text("<first>" + "x" * (3 * bounds.MAX_OUTPUT) + "<last>")
    assert cut.startswith("<first>") and cut.endswith("<last>")
    assert "characters cut by the runner" in cut and len(cut) < bounds.MAX_OUTPUT + 100


@pytest.mark.parametrize("args", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_plain_pytest_reports_a_huge_failure_cut(tmp_path: Path, args: tuple[str, ...]) -> None:
    (tmp_path / "test_huge.py").write_text(HUGE)
    junit = tmp_path / "junit.xml"
    p = pytest_in(tmp_path, f"--junitxml={junit}", *args, "test_huge.py")
    cases = junit_cases(junit)
    failure = cases["test_a_long_message"].find("failure")
    assert failure is not None, p.stdout[-3000:]
    body = failure.text or ""
    assert "<first>" in body and "<last>" in body and "characters cut by the runner" in body
    assert len(body) < 2 * bounds.MAX_OUTPUT
    assert len(p.stdout) < 4 * bounds.MAX_OUTPUT  # the terminal's copy
    assert clean(cases["test_b_after"])


PROPERTIES = """
def test_a_records_a_huge_property(record_property):
    record_property("text", "<first>" + "x" * (8 << 20) + "<last>")
    record_property("list", ["y" * 100] * 10_000)
    record_property("small", 5)
"""


def test_each_property_is_cut_in_the_middle_and_the_observations_kept_whole() -> None:
    from syscalls.profile import PROPERTY

    observations = '["' + "o" * (2 * bounds.PIECE) + '"]'
    props = [("text", "a" * (3 * bounds.PIECE)), ("n", 7), (PROPERTY, observations)]
    kept = dict(bounds.properties(props))
    assert len(kept["text"]) < bounds.PIECE + 100 and "characters cut" in kept["text"]
    assert kept["n"] == 7 and kept[PROPERTY] == observations


@pytest.mark.parametrize("args", [(), ("-n", "2"), ("--workers", "2")])
def test_a_huge_recorded_property_reaches_junit_cut(tmp_path: Path, args: tuple[str, ...]) -> None:
    (tmp_path / "test_props.py").write_text(PROPERTIES)
    junit = tmp_path / "junit.xml"
    p = pytest_in(tmp_path, f"--junitxml={junit}", *args, "test_props.py")
    case = junit_cases(junit)["test_a_records_a_huge_property"]
    values = {prop.get("name"): prop.get("value") or "" for prop in case.iter("property")}
    assert values["text"].startswith("<first>") and values["text"].endswith("<last>")
    assert "characters cut by the runner" in values["list"]
    assert values["small"] == "5"
    assert junit.stat().st_size < 4 * bounds.PIECE, p.stdout[-3000:]  # was 9 MB


WARNS = """
import warnings

class Odd(UserWarning):
    def __init__(self, code, text):
        super().__init__(text)

def test_a_warns_hugely():
    warnings.warn("<first>" + "w" * (8 << 20) + "<last>", stacklevel=1)
    warnings.warn(Odd(3, "o" * (8 << 20)), stacklevel=1)
"""


@pytest.mark.parametrize("args", [(), ("-n", "2"), ("--workers", "2")])
def test_a_huge_warning_reaches_the_summary_cut(tmp_path: Path, args: tuple[str, ...]) -> None:
    (tmp_path / "test_warns.py").write_text(WARNS)
    p = pytest_in(tmp_path, *args, "test_warns.py")
    assert p.returncode == 0, p.stdout[-3000:]
    assert "<first>" in p.stdout and "<last>" in p.stdout  # its ends, in the summary
    assert "characters cut by the runner" in p.stdout
    assert len(p.stdout) < 4 * bounds.PIECE  # was 16 MB
