"""syscalls.targets.events and .results: the progress log a real pytest writes, and the
junit.xml and profile.json rebuilt from it when the run died with a test running.

The runs here are real pytest processes with the events plugin: one over a few tests
of our own (a pass, a skip, a failure, observations), one that is killed by SIGKILL in
the middle of a test, as a guest is by a kernel panic, and one over a suite file with
the repository's conftest, whose events must agree with the profile pytest wrote.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from syscalls import compare
from syscalls.profile import PROPERTY, Profile
from syscalls.targets import results
from tests.target_checks import ROOT, junit_outcomes

TESTS = f"""
import json, os, signal
import pytest

def test_passes(record_property):
    record_property({PROPERTY!r}, json.dumps(["openat=ok", "read=EBADF"]))

def test_skips():
    pytest.skip("kcmp: ENOSYS (the kernel does not implement it)")

def test_fails():
    assert 1 == 2

class TestGroup:
    def test_in_a_class(self):
        pass

def test_dies():
    if os.environ.get("DIE"):
        os.kill(os.getpid(), signal.SIGKILL)  # as the guest's kernel panics

def test_never_reached():
    pass
"""


def _pytest_with_events(tmp_path: Path, *args: str, die: bool = False) -> tuple[int, Path]:
    tests = tmp_path / "test_sample.py"
    tests.write_text(TESTS)
    out = tmp_path / "out"
    out.mkdir()
    env = {"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"} | ({"DIE": "1"} if die else {})
    p = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         "-p", "syscalls.targets.events", f"--events={out / results.EVENTS}",
         f"--rootdir={tmp_path}", "-c", "/dev/null", str(tests), *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    return p.returncode, out


def _lines(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / results.EVENTS).read_text().splitlines()]


def test_events_log_every_test_start_end_and_the_finish(tmp_path: Path) -> None:
    status, out = _pytest_with_events(tmp_path)
    assert status == 1
    lines = _lines(out)
    kinds = ["session", "collected", *["start", "end"] * 6, "finish"]
    assert [e["event"] for e in lines] == kinds
    assert lines[0]["kernel"] and lines[0]["meta"]["python"]
    assert lines[1]["count"] == 6
    # Stamped on the boot clock, in order, the Python process's start before them all.
    times = [e.pop("t") for e in lines]
    assert times == sorted(times) and 0 < lines[0]["python_start"] <= times[0]
    assert lines[-1] == {"event": "finish", "exitstatus": 1}
    ends = {e["nodeid"].partition("::")[2]: e for e in lines if e["event"] == "end"}
    assert ends["test_passes"]["outcome"] == "passed"
    assert ends["test_passes"]["observations"] == ["openat=ok", "read=EBADF"]
    assert ends["test_skips"]["outcome"] == "skipped"
    assert ends["test_skips"]["reason"] == "kcmp: ENOSYS (the kernel does not implement it)"
    assert ends["test_fails"]["outcome"] == "failed"
    assert "assert 1 == 2" in ends["test_fails"]["reason"]
    assert ends["TestGroup::test_in_a_class"]["outcome"] == "passed"
    events = results.read_events(out / results.EVENTS)
    assert events.finished and not events.running and len(events.ended) == 6


def test_a_run_killed_mid_test_is_salvaged_with_that_test_failed(tmp_path: Path) -> None:
    status, out = _pytest_with_events(tmp_path, die=True)
    assert status == -9
    assert not (out / results.JUNIT).exists() and not (out / results.PROFILE).exists()
    with (out / results.EVENTS).open("a") as f:
        f.write('{"event": "end", "nodeid": "cut sh')  # a line the crash cut short
    why = "kernel panic"
    events = results.salvage(out, "uml", why)
    dead = "test_sample.py::test_dies"
    assert events.running == [dead] and not events.finished
    profile = Profile.read(out / results.PROFILE)
    assert profile.target == "host"  # the session's own, as the guest recorded it
    assert profile.meta["incomplete"] == why and profile.meta["python"]
    outcomes = {k: v["outcome"] for k, v in profile.tests.items()}
    assert outcomes == {
        "test_sample.py::test_passes": "passed",
        "test_sample.py::test_skips": "skipped",
        "test_sample.py::test_fails": "failed",
        "test_sample.py::TestGroup::test_in_a_class": "passed",
        dead: "failed",
    }  # test_never_reached never started: not in the results
    assert profile.tests[dead] == {"outcome": "failed", "observations": [], "reason": why}
    assert profile.tests["test_sample.py::test_passes"]["observations"] == [
        "openat=ok",
        "read=EBADF",
    ]
    # The JUnit XML says the same, in pytest's shape, and `syscalls compare` reads it so.
    junit = junit_outcomes(out / results.JUNIT)
    assert junit == {
        "test_sample::test_passes": "passed",
        "test_sample::test_skips": "skipped",
        "test_sample::test_fails": "failed",
        "test_sample.TestGroup::test_in_a_class": "passed",
        "test_sample::test_dies": "failed",
    }
    run = compare.load(out / results.JUNIT)
    assert {k: (t.outcome, t.observations) for k, t in run.tests.items()} == {
        k: (v["outcome"], v["observations"]) for k, v in profile.tests.items()
    }
    assert run.tests[dead].reason == why
    assert results.counts(out) == {"passed": 2, "skipped": 1, "failed": 2}


def test_salvage_told_which_tests_ran_fails_those_and_leaves_out_the_unknown(
    tmp_path: Path,
) -> None:
    """`syscalls run`'s log is written by the controller, which may die before it has
    read a test's end (or start): the workers' status records say which were running."""
    status, out = _pytest_with_events(tmp_path, die=True)
    assert status == -9
    log = tmp_path / "elsewhere.jsonl"
    (out / results.EVENTS).rename(log)
    running = ["test_sample.py::test_never_reached"]  # its start not in the log
    results.salvage(out, "host", "the run's controller was killed by SIGKILL", log, running)
    profile = Profile.read(out / results.PROFILE)
    assert profile.tests["test_sample.py::test_never_reached"]["outcome"] == "failed"
    assert "test_sample.py::test_dies" not in profile.tests  # started, end unknown
    assert profile.tests["test_sample.py::test_passes"]["outcome"] == "passed"


def test_salvage_keeps_what_pytest_wrote(tmp_path: Path) -> None:
    """pytest finished its reports, then the guest died before the status: keep them."""
    status, out = _pytest_with_events(tmp_path, f"--junitxml={tmp_path / 'out' / 'junit.xml'}")
    assert status == 1
    junit = (out / results.JUNIT).read_bytes()
    results.salvage(out, "uml", "kernel panic")
    assert (out / results.JUNIT).read_bytes() == junit
    profile = Profile.read(out / results.PROFILE)  # pytest wrote none here: rebuilt
    assert len(profile.tests) == 6 and profile.meta["incomplete"] == "kernel panic"


def test_salvage_without_any_events_writes_empty_reports(tmp_path: Path) -> None:
    """The guest never started the suite: the reports exist, empty, saying why."""
    events = results.salvage(tmp_path, "vm", "the suite did not start")
    assert events.session is None and not events.ended and not events.running
    profile = Profile.read(tmp_path / results.PROFILE)
    assert profile.target == "vm" and profile.tests == {}
    assert profile.meta == {"incomplete": "the suite did not start"}
    assert junit_outcomes(tmp_path / results.JUNIT) == {}


def test_the_events_of_a_suite_run_agree_with_its_profile(tmp_path: Path) -> None:
    profile_path, events_path = tmp_path / "profile.json", tmp_path / "events.jsonl"
    p = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "2", "suites/misc/test_uname.py",
         "suites/fs/test_openat.py", "--target=uml", f"--profile={profile_path}",
         "-p", "syscalls.targets.events", f"--events={events_path}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert p.returncode == 0, p.stdout[-2000:]
    profile = Profile.read(profile_path)
    events = results.read_events(events_path)
    assert events.finished and not events.running
    assert events.session is not None
    assert (events.session["platform"], events.session["target"]) == (profile.platform, "uml")
    assert events.session["kernel"] == profile.kernel
    assert set(events.ended) == set(profile.tests)
    for nodeid, entry in profile.tests.items():
        e = events.ended[nodeid]
        assert (e["outcome"], e["observations"]) == (entry["outcome"], entry["observations"])
    assert any(entry["observations"] for entry in profile.tests.values())


def test_read_status_and_clear(tmp_path: Path) -> None:
    assert results.read_status(tmp_path) is None
    (tmp_path / results.STATUS).write_text("garbage\n")
    assert results.read_status(tmp_path) is None
    (tmp_path / results.STATUS).write_text("1\n")
    assert results.read_status(tmp_path) == 1
    mine = tmp_path / "notes.txt"
    mine.write_text("kept")
    for name in (results.JUNIT, results.PROFILE, results.EVENTS, results.CONSOLE):
        (tmp_path / name).write_text("stale")
    results.clear(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize("broken", ["", "{", '{"format": 1}'])
def test_counts_of_a_missing_or_broken_profile_is_empty(tmp_path: Path, broken: str) -> None:
    if broken:
        (tmp_path / results.PROFILE).write_text(broken)
    assert results.counts(tmp_path) == {}


def test_what_the_target_made_a_fifo_or_a_symlink_is_not_read(tmp_path: Path) -> None:
    """The kernel under test writes the results directory: a FIFO there held the host's
    read for ever, and a symlink led the read out of the directory."""
    out = tmp_path / "out"
    out.mkdir()
    outside = tmp_path / "outside"
    outside.write_text("7\n")
    for name in (results.STATUS, results.EVENTS, results.PROFILE):
        os.mkfifo(out / name)
    (out / results.CONSOLE).symlink_to(outside)
    started = time.monotonic()
    assert results.read_status(out) is None
    assert results.read_events(out / results.EVENTS).ended == {}
    assert results.counts(out) == {} and results.incomplete(out) is None
    assert results.read_guest(out / results.CONSOLE) is None
    assert time.monotonic() - started < 5
    (out / results.STATUS).unlink()
    (out / results.STATUS).symlink_to(outside)
    assert results.read_status(out) is None  # "7" outside is not this run's status


def test_a_file_the_target_made_huge_is_read_only_so_far(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    with path.open("wb") as f:
        f.truncate(1 << 30)  # sparse: a GiB of zeros on no disk
    assert len(results.read_guest(path, limit=1 << 20) or b"") == 1 << 20


def test_usage_counts_what_is_on_disk_and_stops_counting_early(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "data").write_bytes(b"x" * 65536)
    with (tmp_path / "sparse").open("wb") as f:
        f.truncate(1 << 30)  # a GiB that takes no disk
    (tmp_path / "link").symlink_to("/usr")  # not followed
    used, entries = results.usage(tmp_path)
    assert 65536 <= used < 1 << 20 and entries == 4
    for i in range(30):
        (tmp_path / f"f{i}").touch()
    assert results.usage(tmp_path, most=10)[1] == 11
    assert results.overflowing(tmp_path) is None
    before = results.usage(tmp_path)
    assert results.overflowing(tmp_path, before) is None
    assert before[1] == 34  # a directory that held other things: only growth counts
    assert results.overflowing(tmp_path, (1 << 40, results.ENTRIES_LIMIT + 1)) is None


GARBLED = [
    "[1, 2]",
    "null",
    '{"event": "start"}',
    '{"event": "start", "nodeid": ["a"]}',
    '{"event": "end", "nodeid": "a.py::t", "outcome": "passed"}',
    '{"event": "end", "nodeid": "a.py::t", "outcome": 5, "observations": []}',
    '{"event": "end", "nodeid": "a.py::t", "outcome": "passed", "observations": [1]}',
    '{"event": "end", "nodeid": {"x": 1}, "outcome": "passed", "observations": []}',
    '{"event": "session", "meta": 5}',
    '{"event": "session", "platform": ["linux"]}',
    "[" * 100_000 + "]" * 100_000,
]


def test_salvage_reads_around_progress_lines_the_guest_garbled(tmp_path: Path) -> None:
    """The kernel under test writes the log: JSON of any shape, nested deeper than Python
    parses, is counted as unreadable, and the events around it are read."""
    good = [
        '{"event": "session", "platform": "linux/x86_64", "kernel": "6.1", "target": "vm"}',
        '{"event": "start", "nodeid": "a.py::t"}',
        '{"event": "end", "nodeid": "a.py::t", "outcome": "passed", "observations": ["x=ok"]}',
        '{"event": "start", "nodeid": "a.py::u"}',
    ]
    lines = [good[0], *GARBLED, *good[1:]]
    cut = '{"event": "end", "nodeid": "a.py::u", "outc'  # the guest died writing it
    (tmp_path / results.EVENTS).write_text("".join(line + "\n" for line in lines) + cut)
    events = results.salvage(tmp_path, "vm", "kernel panic")
    assert events.unreadable == len(GARBLED)
    assert events.running == ["a.py::u"]
    profile = Profile.read(tmp_path / results.PROFILE)
    assert (profile.platform, profile.kernel) == ("linux/x86_64", "6.1")
    assert profile.meta["unreadable_progress_lines"] == len(GARBLED)
    assert profile.tests == {
        "a.py::t": {"outcome": "passed", "observations": ["x=ok"]},
        "a.py::u": {"outcome": "failed", "observations": [], "reason": "kernel panic"},
    }


@pytest.mark.parametrize(
    ("written", "problem"),
    [
        ("[" * 100_000 + "]" * 100_000, "profile.json is not valid JSON (maximum recursion"),
        ('{"format": 1, "platform": "p", "kernel": "k", "tests": {"t": 5}}',
         "not a syscalls profile (tests['t'] must be an object, not 5)"),
        ('{"format": 1, "platform": "p", "kernel": "k", "tests": {}, "meta": []}',
         "not a syscalls profile (meta must be an object, not [])"),
    ],
)  # fmt: skip
def test_a_profile_the_guest_garbled_is_set_aside_and_rebuilt(
    tmp_path: Path, written: str, problem: str
) -> None:
    (tmp_path / results.PROFILE).write_text(written)
    results.write_junit(tmp_path / results.JUNIT, {}, "")
    assert results.profile_problem(tmp_path / results.PROFILE).startswith(problem)
    assert results.read_profile(tmp_path / results.PROFILE) is None
    (tmp_path / results.EVENTS).write_text(
        '{"event": "end", "nodeid": "a.py::t", "outcome": "passed", "observations": []}\n'
    )
    results.settle(tmp_path, "vm", 0)
    assert (tmp_path / (results.PROFILE + results.UNREADABLE)).read_text() == written
    profile = Profile.read(tmp_path / results.PROFILE)
    assert profile.meta["incomplete"].startswith(f"the target's {problem}")
    assert profile.tests == {"a.py::t": {"outcome": "passed", "observations": []}}
    assert results.exit_status(tmp_path, 0) == 3  # incomplete, whatever pytest said


def test_settle_leaves_a_finished_runs_reports_alone(tmp_path: Path) -> None:
    tests = {"a.py::t": {"outcome": "passed", "observations": []}}
    Profile(platform="p", kernel="k", target="vm", tests=tests).write(tmp_path / results.PROFILE)
    results.write_junit(tmp_path / results.JUNIT, tests, "")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    results.settle(tmp_path, "vm", 0)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert results.exit_status(tmp_path, 0) == 0
