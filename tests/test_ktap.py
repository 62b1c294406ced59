"""`syscalls run --ktap`: KTAP version 1 from a run's results, checked with a reader
written from the format's rules (tests/ktap_format.py), on made-up runs and on real
ones: the host, the rump kernel, and a run with a failure, an error and a crash.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from syscalls import ktap
from syscalls.cli import main
from syscalls.compare import Run
from syscalls.compare import TestRun as Outcome  # not collected as a test class
from syscalls.targets.rump import default_directory
from tests.ktap_format import Block, KtapError, leaves, parse

ROOT = Path(__file__).resolve().parent.parent


# --- the reader itself, on documents written here -----------------------------------

GOOD = """KTAP version 1
# a diagnostic before the plan
1..2
  KTAP version 1
  # Subtest: first
  1..3
  ok 1 alpha
  # beta: went wrong
  not ok 2 beta
  ok 3 gamma # SKIP no such device
# first: 1 of 3 not ok
not ok 1 first
  KTAP version 1
  1..1
  ok 1 delta # XFAIL known
ok 2 second
# Totals: whatever
"""


def test_reader_reads_a_nested_document():
    doc = parse(GOOD)
    assert doc.plan == 2 and [r.description for r in doc.results] == ["first", "second"]
    first = doc.results[0]
    assert not first.ok and first.diagnostics == ["first: 1 of 3 not ok"]
    assert first.block is not None and first.block.name == "first"
    beta, gamma = first.block.results[1:]
    assert (beta.ok, beta.diagnostics) == (False, ["beta: went wrong"])
    assert (gamma.ok, gamma.directive, gamma.data) == (True, "SKIP", "no such device")
    assert set(leaves(doc)) == {
        ("first", "alpha"),
        ("first", "beta"),
        ("first", "gamma"),
        ("second", "delta"),
    }
    assert doc.diagnostics[-1] == "Totals: whatever"


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda t: t.replace("KTAP version 1\n#", "TAP version 1\n#", 1), "expected 'KTAP"),
        (lambda t: t.replace("1..2\n", "", 1), "expected the plan"),
        (lambda t: t.replace("not ok 2 beta", "not ok 3 beta"), "test number 3, expected 2"),
        (lambda t: t.replace("  1..3", "  1..4"), "3 results of the 4 planned"),
        (lambda t: t.replace("ok 1 alpha", "ok 1 al#pha"), "neither a result"),
        (lambda t: t.replace("  ok 1 alpha", "   ok 1 alpha"), "not indented by 2"),
        (lambda t: t.replace("not ok 1 first", "ok 1 first"), "ok, though one of its"),
        (lambda t: t.replace("ok 2 second", "ok 2 second # ERROR x"), "ERROR on an ok"),
        (lambda t: t + "garbage\n", "neither a diagnostic nor empty"),
        (lambda t: t.rstrip("\n"), "does not end with a newline"),
    ],
    ids=[
        "version",
        "plan",
        "numbering",
        "count",
        "hash in name",
        "indentation",
        "parent ok",
        "error ok",
        "trailing line",
        "newline",
    ],
)
def test_reader_refuses_what_breaks_a_rule(change, why):
    with pytest.raises(KtapError, match=why):
        parse(change(GOOD))


def test_reader_lets_unknown_lines_pass_when_not_strict():
    text = GOOD.replace("  ok 1 alpha\n", "  ok 1 alpha\n[  12.3] kernel log line\n")
    with pytest.raises(KtapError):
        parse(text)
    assert len(leaves(parse(text, strict=False))) == 4


# --- render, on a made-up run ----------------------------------------------------------

OUTCOMES = {
    "suites/fs/test_a.py::test_passes": Outcome("passed"),
    "suites/fs/test_a.py::test_fails": Outcome("failed", reason="assert 1 == 2\nwhere # x"),
    "suites/fs/test_a.py::test_skips": Outcome("skipped", reason="needs root"),
    "suites/fs/test_b.py::test_errs": Outcome("error", reason="fixture broke\non two lines"),
    "suites/mm/test_c.py::test_xfails": Outcome("xfailed", reason="known"),
    "suites/mm/test_c.py::test_xpasses": Outcome("xpassed"),
    "suites/ns/test_d.py::test_skip_one": Outcome("skipped", reason="only on linux"),
    "suites/ns/test_d.py::test_skip_two[a#b\nc]": Outcome("skipped", reason=""),
    "tests/test_e.py::test_outside_suites": Outcome("passed"),
}


def made_up(tests: dict[str, Outcome] = OUTCOMES) -> Run:
    return Run(Path("profile.json"), "linux/x86_64", "6.1.0", "vm", dict(tests))


def test_every_outcome_as_the_format_says():
    doc = parse(ktap.render(ktap.RunResults(made_up())))
    got = {k: (r.ok, r.directive, r.data) for k, r in leaves(doc).items()}
    assert got == {
        ("fs", "test_a.py::test_fails"): (False, None, ""),
        ("fs", "test_a.py::test_passes"): (True, None, ""),
        ("fs", "test_a.py::test_skips"): (True, "SKIP", "needs root"),
        ("fs", "test_b.py::test_errs"): (False, "ERROR", "fixture broke on two lines"),
        ("mm", "test_c.py::test_xfails"): (True, "XFAIL", "known"),
        ("mm", "test_c.py::test_xpasses"): (True, None, ""),
        ("ns", "test_d.py::test_skip_one"): (True, "SKIP", "only on linux"),
        ("ns", "test_d.py::test_skip_two[a%23b c]"): (True, "SKIP", ""),
        ("tests", "test_e.py::test_outside_suites"): (True, None, ""),
    }
    failed = leaves(doc)["fs", "test_a.py::test_fails"]
    assert failed.diagnostics == ["test_a.py::test_fails: assert 1 == 2", "where # x"]
    by_area = {r.description: r for r in doc.results}
    assert not by_area["fs"].ok and by_area["mm"].ok and by_area["tests"].ok
    assert (by_area["ns"].ok, by_area["ns"].directive) == (True, "SKIP")
    assert [r.block.name for r in doc.results if r.block] == ["fs", "mm", "ns", "tests"]
    assert doc.diagnostics[0] == "syscalls: linux/x86_64, kernel 6.1.0, target vm"
    assert doc.diagnostics[-1] == "Totals: pass:2 fail:1 xfail:1 xpass:1 skip:3 error:1"


def test_a_long_failure_message_is_cut_with_a_pointer_to_junit():
    reason = "\n".join(f"line {i}" for i in range(100))
    run = made_up({"suites/fs/t.py::x": Outcome("failed", reason=reason)})
    doc = parse(ktap.render(ktap.RunResults(run)))
    result = leaves(doc)["fs", "t.py::x"]
    assert len(result.diagnostics) == ktap.REASON_LINES + 1
    assert result.diagnostics[-1] == "... 80 more lines in junit.xml"


def test_an_unfinished_run_says_so_and_lists_what_it_never_reached():
    run = made_up({"suites/fs/t.py::done": Outcome("passed")})
    selected = ["suites/fs/t.py::done", "suites/fs/t.py::running", "suites/time/t.py::later"]
    run.tests["suites/fs/t.py::running"] = Outcome("failed", reason="the kernel panicked")
    doc = parse(ktap.render(ktap.RunResults(run, "the kernel panicked", selected)))
    assert "the run did not finish: the kernel panicked" in doc.diagnostics
    got = leaves(doc)
    assert list(got) == [("fs", "t.py::done"), ("fs", "t.py::running"), ("time", "t.py::later")]
    later = got["time", "t.py::later"]
    assert (later.ok, later.directive) == (False, "ERROR")
    assert later.data == "not run: the run ended first (the kernel panicked)"


def test_a_run_without_tests_is_an_empty_plan():
    text = ktap.render(ktap.RunResults(made_up({})))
    assert text.splitlines()[2] == "1..0" and parse(text).results == []


def test_a_test_only_junit_records_is_added_and_the_profile_wins_where_both_have_one(
    tmp_path,
):
    from syscalls.profile import Profile
    from syscalls.targets.results import write_junit

    profile = Profile("linux/x86_64", "6.1", tests={})
    profile.add("suites/fs/t.py::both", "passed", [])
    profile.write(tmp_path / "profile.json")
    write_junit(
        tmp_path / "junit.xml",
        {
            "suites/fs/t.py::both": {"outcome": "failed", "observations": [], "reason": "x"},
            "suites/fs/t.py::crashed": {"outcome": "error", "observations": [], "reason": "died"},
        },
        "why",
    )
    doc = parse(ktap.from_results(tmp_path / "profile.json", tmp_path / "junit.xml"))
    got = {name: (r.ok, r.directive, r.data) for (_, name), r in leaves(doc).items()}
    assert got == {"t.py::both": (True, None, ""), "t.py::crashed": (False, "ERROR", "died")}
    only_profile = parse(ktap.from_results(tmp_path / "profile.json"))
    assert list(leaves(only_profile)) == [("fs", "t.py::both")]


# --- the command line --------------------------------------------------------------


@pytest.mark.parametrize(
    ("dest", "says"),
    [
        ("absent/x.ktap", "absent: no such directory"),
        (".", "is a directory"),
        ("fifo", "fifo: not a regular file"),  # like /dev/full: never replaced by a file
    ],
)
def test_an_unusable_ktap_destination_stops_the_run_before_it_starts(
    tmp_path, capsys, monkeypatch, dest, says
):
    monkeypatch.chdir(tmp_path)
    os.mkfifo(tmp_path / "fifo")
    out = tmp_path / "out"
    assert main(["run", "--out", str(out), "--ktap", dest, "--", "suites/ipc"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--ktap: " in err and says in err
    assert not (out / "profile.json").exists()


def test_no_ktap_from_an_earlier_runs_results(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    stale = {"format": 1, "platform": "linux/x86_64", "kernel": "1", "tests": {}, "meta": {}}
    (out / "profile.json").write_text(json.dumps(stale))
    os.utime(out / "profile.json", (1, 1))
    dest = tmp_path / "run.ktap"
    code = main(["run", "--out", str(out), "--ktap", str(dest), "--target", "nonesuch"])
    assert code not in (0, 1) and not dest.exists()
    assert "--ktap: the run left no results" in capsys.readouterr().err


# --- real runs -------------------------------------------------------------------------


def expected_key(nodeid: str) -> tuple[str, str]:
    """(area, name) a test should have in the KTAP: the folder under suites/ (or the top
    folder), and the rest of its node id."""
    path, _, rest = nodeid.partition("::")
    top, *inner = path.removeprefix("suites/").split("/")
    return top, "/".join(inner) + "::" + rest.replace("#", "%23")  # no # in a name


def syscalls_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "syscalls", "run", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def check_against_the_results(doc: Block, out: Path) -> dict[tuple[str, str], str]:
    """Every test of the profile is in the KTAP once, with its outcome, and so is every
    test junit.xml holds that the profile lacks; returns the outcomes by KTAP name."""
    tests = json.loads((out / "profile.json").read_text())["tests"]
    expected = {expected_key(n): e["outcome"] for n, e in tests.items()}
    for case in ET.parse(out / "junit.xml").getroot().iter("testcase"):
        module = case.get("classname", "").replace(".", "/") + ".py"
        kinds = [k for k in ("failure", "error") if case.find(k) is not None]
        outcome = {"failure": "failed", "error": "error"}[kinds[0]] if kinds else "?"
        expected.setdefault(expected_key(f"{module}::{case.get('name')}"), outcome)
    got = leaves(doc)
    assert set(got) == set(expected)
    for key, outcome in expected.items():
        r = got[key]
        assert r.ok == (outcome not in ("failed", "error")), (key, outcome)
        entry = tests.get(f"suites/{key[0]}/{key[1]}") or {}
        if outcome == "skipped" and entry:
            assert (r.directive, r.data) == ("SKIP", " ".join(entry["reason"].split())), key
        if outcome == "failed":
            assert r.diagnostics and r.diagnostics[0].startswith(f"{key[1]}: "), key
    return expected


def test_a_host_run_to_standard_output_is_ktap_alone(tmp_path):
    out = tmp_path / "out"
    p = syscalls_run(
        *("--out", str(out), "-n", "0", "--ktap", "-"),
        *("--", "suites/ipc/test_pipe.py", "suites/fs/test_openat.py"),
    )
    assert p.returncode == 0, p.stderr[-3000:]
    doc = parse(p.stdout)  # strict: every line of standard output is KTAP
    outcomes = check_against_the_results(doc, out)
    assert {a for a, _ in outcomes} == {"ipc", "fs"} and "passed" in outcomes.values()
    assert "passed" in p.stderr and "results:" in p.stderr  # pytest's output went there
    assert doc.diagnostics[0].startswith("syscalls: linux/")
    # --baseline's verdict, printed after the run, goes to standard error too.
    again = syscalls_run(
        *("--out", str(tmp_path / "again"), "-n", "0", "--ktap", "-"),
        *("--baseline", str(out / "profile.json"), "--", "suites/ipc/test_pipe.py"),
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert {a for a, _ in leaves(parse(again.stdout))} == {"ipc"}
    assert "baseline" in again.stderr


@pytest.mark.skipif(
    default_directory() is None, reason="no rump kernel here (see tests/test_target_rump.py)"
)
def test_a_rump_run_written_to_a_file(tmp_path):
    out, dest = tmp_path / "out", tmp_path / "rump.ktap"
    p = syscalls_run(
        *("--target", "rump", "--out", str(out), "-n", "0", "--ktap", str(dest)),
        *("--", "suites/fs/test_openat.py", "suites/events/test_kqueue.py"),
    )
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    assert f"ktap: {dest}" in p.stdout
    doc = parse(dest.read_text())
    outcomes = check_against_the_results(doc, out)
    assert doc.diagnostics[0] == "syscalls: netbsd/amd64, kernel 7.99.34, target rump"
    assert "skipped" in outcomes.values() and "passed" in outcomes.values()
    assert all(r.data for r in leaves(doc).values() if r.directive == "SKIP")


def test_a_run_with_a_failure_an_error_and_a_crash(tmp_path):
    out, dest = tmp_path / "out", tmp_path / "run.ktap"
    # -n 2: the crash takes down one xdist worker, which xdist replaces.
    p = syscalls_run("--out", str(out), "-n", "2", "--ktap", str(dest), "--", CASES)
    assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-2000:]
    doc = parse(dest.read_text())
    check_against_the_results(doc, out)
    got = {name.split("::")[1]: r for (_, name), r in leaves(doc).items()}
    failure = got["test_getpid_answers_minus_one"]
    assert not failure.ok and "the kernel gave a pid # not -1" in failure.diagnostics[0]
    assert failure.diagnostics[1] == "  second line"
    assert (got["test_error_in_setup"].ok, got["test_error_in_setup"].directive) == (
        False,
        "ERROR",
    )
    assert got["test_expected_failure"].directive == "XFAIL"
    assert got["test_skipped_with_its_reason"].data.startswith("only on nonexistent-os")
    assert {"test_awkward_names[a%23b]", "test_awkward_names[two words]"} <= set(got)
    # The crash: the test whose worker died is there, not ok, saying so.
    crash = got["test_crash_of_the_test_process"]
    said = " ".join([crash.data, *crash.diagnostics])
    assert not crash.ok and ("crashed" in said or "died" in said), said


CASES = "tests/data/ktap_case.py"
