"""bench/run.py's reading of ljsyscall's output and its pairing of alternating runs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
assert _spec is not None and _spec.loader is not None
run = importlib.util.module_from_spec(_spec)
sys.modules["bench_run"] = run  # dataclasses look their module up by name
_spec.loader.exec_module(run)


def test_upstream_luaunit_summary_is_read_with_its_skips() -> None:
    out = "...\nSuccess : 98% - 321 / 326 (total of 337 tests, 11 skipped)\n"
    row = run._luaunit_row(out, "root", 2.0)
    assert (row.tests, row.passed, row.failed, row.skipped) == (337, 321, 5, 11)
    assert row.per_second == pytest.approx(168.5)


def test_output_without_a_summary_is_no_row() -> None:
    assert run._luaunit_row("luajit: cannot open test/test.lua", "root", 1.0) is None


def test_paired_runs_give_the_median_wall_and_every_pairs_ratio(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ours = iter([10.0, 30.0, 20.0])  # a burst of load in the second pair hits both sides
    theirs = iter([2.0, 6.0, 4.0])

    def fake_ours(user: str, mode: str, repeat: int, out: Path) -> object:
        return run.Row(run.MODES[mode], user, next(ours), 1000, 1000, 0, 0)

    def fake_theirs(user: str, repeat: int, upstream: Path | None, out: Path) -> object:
        return run.Row("ljsyscall", user, next(theirs), 100, 100, 0, 0)

    monkeypatch.setattr(run, "ours", fake_ours)
    monkeypatch.setattr(run, "ljsyscall", fake_theirs)
    mine, lj = run.paired("root", ["run"], 3, None, Path("/nonexistent"))
    assert mine.seconds == 20.0 and mine.runs == [10.0, 30.0, 20.0]
    assert lj.seconds == 4.0
    # (1000 / 10) / (100 / 2) = 2 in every pair: the load burst cancels out
    assert mine.ratios == pytest.approx([2.0, 2.0, 2.0])


def test_a_run_that_failed_names_its_tests_in_every_pair(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text(
        '<testsuites><testsuite tests="3" failures="1" errors="1" skipped="0">'
        '<testcase classname="suites.fs.test_a" name="test_ok"/>'
        '<testcase classname="suites.fs.test_a" name="test_bad">'
        '<failure message="assert EAGAIN == ok&#10;more">trace</failure></testcase>'
        '<testcase classname="suites.fs.test_b" name="test_err"><error message="">x</error>'
        "</testcase></testsuite></testsuites>"
    )
    failures = run._failures(junit)
    assert failures == [
        "suites.fs.test_a::test_bad: assert EAGAIN == ok",
        "suites.fs.test_b::test_err: error",
    ]
    rows = iter([[], failures[:1]])

    def fake_ours(user: str, mode: str, repeat: int, out: Path) -> object:
        return run.Row(run.MODES[mode], user, 1.0, 3, 2, 1, 0, failures=next(rows))

    monkeypatch.setattr(run, "ours", fake_ours)
    monkeypatch.setattr(run, "ljsyscall", lambda *a: None)
    (mine,) = run.paired("root", ["run"], 2, None, tmp_path)
    assert mine.failures == ["run 2: suites.fs.test_a::test_bad: assert EAGAIN == ok"]
