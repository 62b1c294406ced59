"""Regressions against a baseline (syscalls/baseline.py): what got worse, what got
better, what merely differs; `compare --baseline`, `run --baseline`, `--bisect`; and two
runs of the same kernel compare empty."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from syscalls import baseline
from syscalls.baseline import BETTER, DIFFERS, WORSE, judge
from syscalls.cli import main
from syscalls.runs import Run, TestRun, load

ROOT = Path(__file__).resolve().parent.parent
T = "suites/fs/test_openat.py::test_o_excl_on_existing_is_eexist"


def _run(tests: dict[str, tuple], label: str = "", selected: set[str] | None = None) -> Run:
    cells = {n: TestRun(*v) for n, v in tests.items()}
    return Run(
        Path(f"/x/{label}/profile.json"), "linux/x86_64", "6.1.0", "host", cells, label, selected
    )


def _profile(path: Path, tests: dict[str, tuple], selected: list[str] | None = None) -> Path:
    entries = {}
    for nodeid, (outcome, observations, *reason) in tests.items():
        entries[nodeid] = {"outcome": outcome, "observations": observations}
        if reason:
            entries[nodeid]["reason"] = reason[0]
    meta = {"selected": selected} if selected is not None else {}
    data = {"format": 1, "platform": "linux/x86_64", "kernel": "6.1.0", "target": "host"}
    path.write_text(json.dumps({**data, "meta": meta, "tests": entries}))
    return path


def _kinds(verdict: baseline.Verdict) -> dict[str, str]:
    return {c.nodeid: c.kind for c in verdict.changes}


def test_passed_to_failed_is_worse_and_names_the_answer():
    old = _run({T: ("passed", ["openat=ok", "openat=EEXIST"])}, "old")
    new = _run({T: ("failed", ["openat=ok", "openat=ok"], "assert ok == EEXIST")}, "new")
    verdict = judge([old], new)
    assert verdict.worse and _kinds(verdict) == {T: WORSE}
    line = verdict.of(WORSE)[0].line()
    assert line == "fs/test_openat.py::test_o_excl_on_existing_is_eexist: passed → failed: " + (
        "openat=EEXIST → openat=ok"
    )
    assert "1 worse" in verdict.summary()


@pytest.mark.parametrize("outcome", ["error", "xpassed", "crashed"])
def test_any_bad_outcome_after_a_good_one_is_worse(outcome):
    for before in ("passed", "skipped", "xfailed"):
        verdict = judge([_run({T: (before, [])})], _run({T: (outcome, [], "boom")}))
        assert _kinds(verdict) == {T: WORSE}, before
        assert verdict.of(WORSE)[0].line().endswith(f"{before} → {outcome}: boom")


def test_a_failure_the_baseline_had_too_is_not_worse():
    verdict = judge(
        [_run({T: ("failed", ["openat=ok"], "x")})], _run({T: ("failed", ["openat=ok"], "y")})
    )
    assert not verdict.worse and verdict.changes == []


def test_failed_to_passed_is_better():
    verdict = judge([_run({T: ("failed", [])})], _run({T: ("passed", [])}))
    assert _kinds(verdict) == {T: BETTER} and not verdict.worse


def test_a_passed_test_missing_from_the_run_is_worse_unless_not_selected():
    old = _run({T: ("passed", []), "suites/a.py::t": ("passed", [])})
    assert _kinds(judge([old], _run({"suites/a.py::t": ("passed", [])}))) == {T: WORSE}
    smoke = _run({"suites/a.py::t": ("passed", [])}, selected={"suites/a.py::t"})
    verdict = judge([old], smoke)
    assert verdict.changes == [] and verdict.unselected == 1
    crashed = _run({"suites/a.py::t": ("passed", [])}, selected={"suites/a.py::t", T})
    assert _kinds(judge([old], crashed)) == {T: WORSE}  # selected, but never finished


def test_passed_to_skipped_for_enosys_is_worse_other_skips_differ():
    old = _run({T: ("passed", ["openat=ok"])})
    gone = _run({T: ("skipped", [], "openat2: ENOSYS (CONFIG_X is off)")})
    assert _kinds(judge([old], gone)) == {T: WORSE}
    other = _run({T: ("skipped", [], "needs root")})
    assert _kinds(judge([old], other)) == {T: DIFFERS}


def test_a_changed_answer_in_a_passing_test_is_worse_a_recorded_value_differs():
    old = _run({T: ("passed", ["openat=ok", "read=EAGAIN", "mask=0x3ff"])})
    answer = _run({T: ("passed", ["openat=ok", "read=EINTR", "mask=0x3ff"])})
    verdict = judge([old], answer)
    assert _kinds(verdict) == {T: WORSE}
    assert str(verdict.of(WORSE)[0].answers[0]) == "read=EAGAIN → read=EINTR"
    value = _run({T: ("passed", ["openat=ok", "read=EAGAIN", "mask=0x1ff"])})
    assert _kinds(judge([old], value)) == {T: DIFFERS}


def test_an_extra_or_missing_call_in_a_passing_test_differs():
    old = _run({T: ("passed", ["openat=ok"])})
    assert _kinds(judge([old], _run({T: ("passed", ["openat=ok", "read=ok"])}))) == {T: DIFFERS}
    assert _kinds(judge([old], _run({T: ("passed", [])}))) == {T: DIFFERS}


def test_several_baselines_count_only_the_answers_they_agree_on():
    a = _run({T: ("passed", ["openat=ok", "read=EAGAIN"])}, "a")
    b = _run({T: ("passed", ["openat=ok", "read=ok"])}, "b")
    new = _run({T: ("passed", ["openat=ok", "read=EINTR"])}, "new")
    assert _kinds(judge([a, b], new)) == {T: DIFFERS}  # read varies between good runs
    new = _run({T: ("passed", ["openat=ENOENT", "read=ok"])}, "new")
    assert _kinds(judge([a, b], new)) == {T: WORSE}  # openat did not


def test_baselines_that_disagree_on_the_outcome_do_not_make_it_worse():
    a, b = _run({T: ("passed", [])}, "a"), _run({T: ("failed", [])}, "b")
    assert _kinds(judge([a, b], _run({T: ("failed", [])}))) == {}


def test_a_new_test_is_reported_only_when_it_fails():
    old = _run({})
    assert judge([old], _run({T: ("passed", [])})).changes == []
    assert _kinds(judge([old], _run({T: ("failed", [])}))) == {T: DIFFERS}


def test_compare_baseline_exit_codes(tmp_path, capsys):
    old = _profile(tmp_path / "old.json", {T: ("passed", ["openat=EEXIST"])})
    same = _profile(tmp_path / "same.json", {T: ("passed", ["openat=EEXIST"])})
    worse = _profile(tmp_path / "worse.json", {T: ("failed", ["openat=ok"], "assert")})
    assert main(["compare", "--baseline", str(old), str(same)]) == 0
    assert main(["compare", "--baseline", str(old), str(worse)]) == 1
    out = capsys.readouterr().out
    assert "openat=EEXIST → openat=ok" in out and "1 worse" in out
    # whatever the baseline itself failed: a failure it had too is not worse
    assert main(["compare", "--baseline", str(worse), str(worse)]) == 0


def test_compare_baseline_bad_input_is_2_or_125_with_bisect(tmp_path, capsys):
    good = _profile(tmp_path / "good.json", {T: ("passed", [])})
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["compare", "--baseline", str(bad), str(good)]) == 2
    assert main(["compare", "--baseline", str(bad), str(good), "--bisect"]) == 125
    assert main(["compare", "--baseline", str(good), str(good), str(good)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(e.startswith("syscalls compare: ") for e in err)


def test_a_baseline_without_tests_is_bad_input(tmp_path, capsys):
    """Against it nothing could get worse: every run, a bisect's too, would be good."""
    good = _profile(tmp_path / "good.json", {T: ("failed", [], "assert")})
    empty = _profile(tmp_path / "empty.json", {})
    junit = tmp_path / "junit.xml"
    junit.write_text('<testsuites><testsuite name="pytest" tests="0"/></testsuites>')
    for nothing in (empty, junit):
        assert main(["compare", "--baseline", str(nothing), str(good)]) == 2
        assert main(["compare", "--baseline", str(nothing), str(good), "--bisect"]) == 125
    err = capsys.readouterr().err
    assert err.count("a baseline without a test result judges nothing") == 4


def test_a_baseline_that_did_not_finish_says_what_it_cannot_judge(tmp_path, capsys):
    other = T.replace("eexist", "enoent")
    old = _profile(tmp_path / "old.json", {T: ("passed", [])}, selected=[T, other])
    data = json.loads(old.read_text())
    data["meta"]["incomplete"] = "interrupted (SIGTERM)"
    old.write_text(json.dumps(data))
    new = _profile(tmp_path / "new.json", {T: ("passed", []), other: ("failed", [], "x")})
    assert main(["compare", "--baseline", str(old), str(new)]) == 0  # not worse: unknown
    out = capsys.readouterr().out
    assert "did not finish (interrupted (SIGTERM)): 1 of its tests have no result there" in out
    data["meta"]["incomplete"] = 3
    old.write_text(json.dumps(data))
    assert main(["compare", "--baseline", str(old), str(new)]) == 2
    assert "meta.incomplete must be a string" in capsys.readouterr().err


def test_bisect_maps_could_not_run_and_did_not_finish_to_125():
    assert [baseline.bisect_code(c, True) for c in (0, 1, 2, 3)] == [0, 1, 125, 125]
    assert [baseline.bisect_code(c, False) for c in (0, 1, 2, 3)] == [0, 1, 2, 3]


def test_run_with_a_bad_baseline_stops_before_running(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["run", "--out", str(out), "--baseline", str(tmp_path / "nope.json")])
    assert code == 2 and not out.exists()
    assert capsys.readouterr().err.count("\n") == 1
    code = main(["run", "--out", str(out), "--baseline", str(tmp_path / "nope.json"), "--bisect"])
    assert code == 125


FILE = "suites/misc/test_uname.py"


def _syscalls_run(out: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "syscalls", "run", "-n", "0", "--out", str(out), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_run_baseline_names_the_regression_and_exits_1(tmp_path):
    """A real run of one file against a baseline in which one of its tests answered
    differently and one failed: exit 1 for the changed answer, not for the old failure."""
    good = _syscalls_run(tmp_path / "good", "--", FILE)
    assert good.returncode == 0, good.stdout + good.stderr
    profile = json.loads((tmp_path / "good/profile.json").read_text())
    tests = profile["tests"]
    name = f"{FILE}::test_uname_release_matches_os_uname"
    assert tests[name]["observations"] == ["uname=ok"]
    changed = json.loads(json.dumps(profile))
    changed["tests"][name]["observations"] = ["uname=EFAULT"]
    other = f"{FILE}::test_uname_machine_names_the_arch"
    changed["tests"][other]["outcome"] = "failed"
    (tmp_path / "base.json").write_text(json.dumps(changed))
    again = _syscalls_run(tmp_path / "again", "--baseline", str(tmp_path / "base.json"), "--", FILE)
    assert again.returncode == 1, again.stdout + again.stderr
    assert (
        "misc/test_uname.py::test_uname_release_matches_os_uname: passed → passed: " in again.stdout
    )
    assert "uname=EFAULT → uname=ok" in again.stdout
    assert "1 worse, 1 better" in again.stdout
    same = _syscalls_run(
        tmp_path / "same", "--baseline", str(tmp_path / "good/profile.json"), "--", FILE
    )
    assert same.returncode == 0 and "0 worse, 0 better, 0 differ" in same.stdout


@pytest.mark.slow
def test_two_runs_of_the_same_kernel_compare_empty(tmp_path):
    """The smoke selection and the areas whose answers once varied from run to run
    (ptrace's cleanup, futex wake-ups, polling) run twice: nothing differs, nothing is
    worse, and the second run judged against the first says so."""
    selection = ["suites/ptrace", "suites/sync", "suites/signals", "suites/time"]
    first = _syscalls_run(tmp_path / "1", "-n", "2", "--", *selection)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr
    second = _syscalls_run(
        tmp_path / "2", "-n", "2", "--baseline", str(tmp_path / "1/profile.json"), "--", *selection
    )
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr
    verdict = judge([load(tmp_path / "1/profile.json")], load(tmp_path / "2/profile.json"))
    assert [c.line() for c in verdict.changes] == []
    assert verdict.compared > 150


def test_after_run_judges_0_and_1_and_keeps_2_and_3(tmp_path, capsys):
    base = [load(_profile(tmp_path / "base.json", {T: ("passed", ["openat=EEXIST"])}))]
    out = tmp_path / "out"
    out.mkdir()
    _profile(out / "profile.json", {T: ("failed", ["openat=ok"], "assert")})
    assert baseline.after_run(out, base, 0) == 1  # the suite's own status does not decide
    _profile(out / "profile.json", {T: ("passed", ["openat=EEXIST"])})
    assert baseline.after_run(out, base, 1) == 0
    assert baseline.after_run(out, base, 2) == 2  # could not run: nothing to judge
    assert baseline.after_run(out, base, 3) == 3  # did not finish: judged, status kept
    assert "did not finish" in capsys.readouterr().out
    assert baseline.after_run(tmp_path / "nowhere", base, 0) == 3
