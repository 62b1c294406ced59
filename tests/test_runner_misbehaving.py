"""Tests that misbehave towards the runner in ways that once ended or hung the whole run
(tests/data/runner_misbehaving_case.py), run by `--workers` as `syscalls run` runs them."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import termios
from pathlib import Path
from typing import Any

from syscalls.profile import PROPERTY
from tests.runner_checks import ROOT, junit_cases, junit_message

CASE = ROOT / "tests" / "data" / "runner_misbehaving_case.py"


def _run(
    tmp_path: Path, select: str, *args: str, **popen: Any
) -> tuple[subprocess.CompletedProcess[str], dict]:
    junit, profile = tmp_path / "junit.xml", tmp_path / "profile.json"
    p = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--workers", "1",
         f"--junitxml={junit}", f"--profile={profile}", "-k", f"{select} or test_after",
         *args, str(CASE)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False, **popen,
    )  # fmt: skip
    assert junit.exists(), p.stdout[-3000:] + p.stderr[-2000:]
    return p, json.loads(profile.read_text())["tests"]


def _observed(tests: dict, name: str) -> list[str]:
    (entry,) = [t for nodeid, t in tests.items() if nodeid.endswith(f"::{name}")]
    return entry["observations"]


def test_a_property_that_does_not_pickle_leaves_the_observations_whole(tmp_path: Path) -> None:
    # Its repr went in place of every property, the observations' JSON quoted: the
    # controller died reading it (INTERNALERROR), and the run with it.
    p, tests = _run(tmp_path, "does_not_pickle")
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    assert _observed(tests, "test_records_a_property_that_does_not_pickle") == ["seen=1"]
    assert "test_after" in "".join(tests)


def test_a_property_that_takes_the_observations_name_is_kept_as_what_it_was(
    tmp_path: Path,
) -> None:
    p, tests = _run(tmp_path, "not_observations")
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]  # it was INTERNALERROR
    name = "test_records_what_is_not_observations_as_its_observations"
    case = junit_cases(tmp_path / "junit.xml")[name]
    props = [
        json.loads(p.get("value") or "") for p in case.iter("property") if p.get("name") == PROPERTY
    ]
    # the test's own first, then the fixture's: each a list of strings, as a baseline reads it
    assert props == [["(not observations)='not JSON {'"], []]
    assert _observed(tests, name) == []  # the last, as from JUnit XML


def test_a_thread_that_holds_the_interpreters_lock_after_its_test_costs_that_test(
    tmp_path: Path,
) -> None:
    # It took the lock while the worker checked what the test left, after the test's
    # limit had stopped counting: the run hung for ever (killed after 300 s).
    p, tests = _run(tmp_path, "interpreters_lock")
    assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-2000:]
    name = "test_leaves_a_thread_that_takes_the_interpreters_lock"
    failure = junit_message(junit_cases(tmp_path / "junit.xml")[name], "failure") or ""
    assert "its worker sat between tests after" in failure and "watchdog killed it" in failure
    assert [t["outcome"] for n, t in tests.items() if n.endswith("::test_after")] == ["passed"]


def test_a_test_that_changes_the_controlling_terminal_fails_and_it_is_put_back(
    tmp_path: Path,
) -> None:
    # Echo stayed off after the run, and the terminal's foreground was a group gone:
    # Ctrl-C no longer reached the run. The run here has a pty of its own as its terminal.
    master, slave = os.openpty()

    def own_terminal() -> None:
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    try:
        p, tests = _run(tmp_path, "terminal", stdin=slave, preexec_fn=own_terminal)
        echo = termios.tcgetattr(slave)[3] & termios.ECHO
    finally:
        os.close(master)
        os.close(slave)
    assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-2000:]
    case = junit_cases(tmp_path / "junit.xml")["test_gives_the_terminal_away_with_echo_off"]
    error = junit_message(case) or ""
    assert "controlling terminal: foreground group" in error and "ECHO off" in error, error
    assert echo, "the run left the terminal's echo off"
    assert [t["outcome"] for n, t in tests.items() if n.endswith("::test_after")] == ["passed"]


def test_a_test_that_makes_the_controller_its_tracer_is_named_and_stops_nothing(
    tmp_path: Path,
) -> None:
    # The next signal stopped the worker for a tracer that never waits, and the
    # watchdog, whose wait saw that stop as the worker's end, never looked at it again:
    # the run hung for ever.
    p, tests = _run(tmp_path, "tracer or after_the_tracer_test")
    assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-2000:]
    cases = junit_cases(tmp_path / "junit.xml")
    left = junit_message(cases["test_makes_its_controller_its_tracer"]) or ""
    assert "tracer: 0 -> " in left and "a fresh worker runs the tests after it" in left, left
    stopped = cases["test_makes_its_controller_its_tracer_and_stops_for_it"]
    why = junit_message(stopped, "failure") or ""
    assert "stopped for its tracer" in why and "PTRACE_TRACEME" in why, why
    for name in ("test_signals_itself_after_the_tracer_test", "test_after"):
        (outcome,) = [t["outcome"] for n, t in tests.items() if n.endswith(f"::{name}")]
        assert outcome == "passed", name


def test_a_test_that_makes_its_workers_descriptors_non_blocking_fails_and_they_are_put_back(
    tmp_path: Path,
) -> None:
    # The worker died asking for its next tests (BlockingIOError on its pipe), the test
    # passed and so did the run; the run's output, the user's terminal, stayed O_NONBLOCK.
    p, tests = _run(tmp_path, "non_blocking")
    assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-2000:]
    case = junit_cases(tmp_path / "junit.xml")["test_makes_every_descriptor_it_finds_non_blocking"]
    error = junit_message(case) or ""
    assert "non-blocking descriptors: none -> " in error and "(put back)" in error, error
    assert "set O_NONBLOCK on the run's standard streams" in p.stderr, p.stderr[-2000:]
    assert "BlockingIOError" not in p.stdout + p.stderr
    assert [t["outcome"] for n, t in tests.items() if n.endswith("::test_after")] == ["passed"]


def test_a_test_that_ends_its_main_thread_fails_at_once(tmp_path: Path) -> None:
    # Nothing ended the test but its limit (120 s, "exceeded"): the process lived on in
    # the thread it had started.
    p, tests = _run(tmp_path, "main_thread")
    assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-2000:]
    why = junit_message(junit_cases(tmp_path / "junit.xml")["test_ends_its_main_thread"], "failure")
    assert "its main thread ended (pthread_exit?)" in (why or ""), why
    assert [t["outcome"] for n, t in tests.items() if n.endswith("::test_after")] == ["passed"]
