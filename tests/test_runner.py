"""The runner's guarantees end to end: `syscalls run` and plain `pytest -n` on a real
suite file, with tests/runner_faults.py making chosen tests crash, hang, leave
processes behind or run long, and the run interrupted from outside.

Each run is in a session of its own and is killed whole after 90 s: a run that hangs
fails its test instead of hanging this one. Processes that outlive a run are found by
an environment marker (runner_checks.marked) and count as a failure.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from syscalls.profile import Profile
from tests.runner_checks import (
    FILE,
    ROOT,
    A,
    B,
    C,
    Started,
    in_a_worker,
    junit_cases,
    junit_id,
    pytest_in,
    pytest_run,
    syscalls_run,
)
from tests.target_checks import collected

N_TESTS = len(collected(FILE))


def _failure_text(out: Path, nodeid: str) -> str:
    """The whole text of a test's <failure> in the run's junit.xml."""
    failure = junit_cases(out / "junit.xml")[nodeid.partition("::")[2]].find("failure")
    return "" if failure is None else failure.text or ""


def outcomes(profile: Profile) -> list[str]:
    return [entry["outcome"] for entry in profile.tests.values()]


def not_passed(profile: Profile) -> list[str]:
    """The tests that neither passed nor skipped (some skip as root, some as a user)."""
    return [t for t, e in profile.tests.items() if e["outcome"] not in ("passed", "skipped")]


def test_a_test_that_blocks_sigalrm_and_pauses_is_killed_and_the_run_goes_on(
    tmp_path: Path,
) -> None:
    run = syscalls_run(tmp_path / "out", "--timeout=2", faults={B: "hang-blocked"}).finish()
    assert run.p.returncode == 1, run.log
    profile = run.profile()
    assert len(profile.tests) == N_TESTS, run.log  # the others ran, in a new worker
    assert profile.tests[B]["outcome"] == "failed"
    assert "exceeded 2 s" in profile.tests[B]["reason"]
    assert not_passed(profile) == [B]
    assert run.junit()[junit_id(B)] == "failed"
    assert run.survivors == []
    # where it hung: the watchdog's SIGABRT made its fault handler write its stack
    message = _failure_text(run.out, B)
    assert "where it was (most recent call first):" in message and "in _fault" in message


@pytest.mark.parametrize("workers", [["-n", "2"], ["--workers", "2"]], ids=["xdist", "forked"])
def test_a_c_call_hung_with_the_gil_held_is_killed_under_plain_pytest(
    tmp_path: Path, workers: list[str]
) -> None:
    run = pytest_run(tmp_path / "out", *workers, "--timeout=2", faults={A: "hang-gil"}).finish()
    assert run.p.returncode == 1, run.log
    assert "exceeded 2 s" in run.profile().tests[A]["reason"]
    assert run.junit()[junit_id(A)] == "failed"
    assert len(run.junit()) == N_TESTS
    assert run.survivors == []
    assert "in _hang_with_the_gil" in _failure_text(run.out, A)


def test_a_crash_costs_one_test_and_both_results_say_how_the_worker_ended(
    tmp_path: Path,
) -> None:
    faults = {A: "segv", B: "abort", C: "exit3"}
    run = syscalls_run(tmp_path / "out", faults=faults).finish()
    assert run.p.returncode == 1, run.log
    profile, junit = run.profile(), run.junit()
    assert len(profile.tests) == len(junit) == N_TESTS, run.log
    expected = {
        A: "worker died: SIGSEGV",
        B: "worker died: SIGABRT",
        C: "worker exited with status 3",
    }
    for nodeid, reason in expected.items():
        assert profile.tests[nodeid]["outcome"] == "failed"
        assert profile.tests[nodeid]["reason"] == reason
        assert junit[junit_id(nodeid)] == "failed"
    text = (run.out / "junit.xml").read_text()
    assert all(reason in text for reason in expected.values())
    for nodeid in (A, B):  # a fault in the worker itself: where, below the first line
        assert "in _fault" in _failure_text(run.out, nodeid)


def test_a_controller_a_test_kills_leaves_the_results_of_the_tests_before(
    tmp_path: Path,
) -> None:
    """kill(getppid(), SIGKILL) from a test: the controller goes, with the reports it
    held. The command rebuilds the results from the run's progress log: what ended is
    kept, the test that was running failed with the reason; the run did not finish."""
    run = syscalls_run(tmp_path / "out", options=["-n", "1"], faults={B: "kill-parent"}).finish()
    assert run.p.returncode == 3, run.log
    profile, junit = run.profile(), run.junit()
    why = "the run's controller was killed by SIGKILL"
    assert profile.meta["incomplete"] == why
    assert profile.tests[B] == {"outcome": "failed", "observations": [], "reason": why}
    before = [n for n in profile.tests if n != B]  # those that ended before it
    assert before and all(profile.tests[n]["outcome"] in ("passed", "skipped") for n in before)
    assert all(junit[junit_id(n)] == profile.tests[n]["outcome"] for n in before)
    assert len(profile.tests) < N_TESTS  # not those after it
    assert "finished tests kept in the results" in run.log


def test_a_serial_run_survives_a_crash(tmp_path: Path) -> None:
    run = syscalls_run(tmp_path / "out", options=["-n", "0"], faults={B: "segv"}).finish()
    assert run.p.returncode == 1, run.log  # not 139 with nothing written
    profile = run.profile()
    assert len(profile.tests) == N_TESTS
    assert profile.tests[B]["reason"] == "worker died: SIGSEGV"


def test_a_test_that_writes_to_every_low_descriptor_leaves_the_run_intact(tmp_path: Path) -> None:
    # The supervisor's report pipe, the progress log, the collecting note and the results'
    # lock are inherited from the controller: written to, the command died of a
    # UnicodeDecodeError after the run. A worker closes them before its first test.
    run = syscalls_run(tmp_path / "out", faults={A: "spray"}).finish()
    assert run.p.returncode == 0, run.log
    assert "Traceback" not in run.log and "did not finish" not in run.log
    profile = run.profile()
    assert len(profile.tests) == N_TESTS
    assert not_passed(profile) == []
    assert (run.out / ".lock").read_bytes().strip().isdigit()  # the lock names its holder


def test_a_test_that_leaves_processes_fails_naming_them_and_none_survives(
    tmp_path: Path,
) -> None:
    faults = {A: "leave", B: "leave-setsid"}
    run = syscalls_run(tmp_path / "out", faults=faults).finish()
    assert run.p.returncode == 1, run.log
    assert run.seconds < 60, "a leftover holding the worker's pipes held up the run"
    assert run.survivors == []
    profile = run.profile()
    for nodeid in (A, B):
        assert profile.tests[nodeid]["outcome"] in ("failed", "error")
        assert "left 1 process running" in profile.tests[nodeid]["reason"]
    assert sorted(not_passed(profile)) == sorted([A, B]), "the next tests are not blamed"


def test_a_crash_with_a_child_holding_the_workers_pipes_does_not_hang_the_run(
    tmp_path: Path,
) -> None:
    run = syscalls_run(tmp_path / "out", faults={C: "leave-then-segv"}).finish()
    assert run.p.returncode == 1, run.log
    assert run.seconds < 60
    assert run.survivors == []
    assert run.profile().tests[C]["reason"] == "worker died: SIGSEGV"


def test_the_time_limit_ends_the_run_keeping_what_finished(tmp_path: Path) -> None:
    run = syscalls_run(
        tmp_path / "out", "--timeout=300", options=["--time-limit", "20"], faults={B: "sleep:120"}
    ).finish()
    assert run.p.returncode == 3, run.log
    assert run.seconds < 60
    profile = run.profile()
    why = "the run exceeded its overall limit of 20 s (--time-limit)"
    assert profile.meta["incomplete"] == why
    assert profile.tests[B] == {"outcome": "failed", "observations": [], "reason": why}
    assert not_passed(profile) == [B]
    assert "passed" in outcomes(profile)  # tests queued behind B on its worker never ran
    assert run.junit()[junit_id(B)] == "failed"
    assert why in run.p.stderr
    assert run.survivors == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_keeps_the_finished_tests_and_marks_the_run_incomplete(
    tmp_path: Path, sig: signal.Signals
) -> None:
    started = syscalls_run(tmp_path / "out", "--timeout=300", faults={B: "sleep:120"})
    started.wait_for_fault("sleep:120")
    time.sleep(2)  # the other worker finishes the rest
    started.proc.send_signal(sig)
    run = started.finish()
    assert run.p.returncode == 3, run.log
    profile = run.profile()
    why = f"interrupted ({sig.name})"
    assert profile.meta["incomplete"] == why
    assert profile.tests[B]["outcome"] == "failed"
    assert profile.tests[B]["reason"] == why
    assert "passed" in outcomes(profile)
    assert run.junit()[junit_id(B)] == "failed"
    assert why in (run.out / "junit.xml").read_text()  # a testsuite property
    assert run.survivors == []


def test_a_killed_run_leaves_no_results_that_look_current(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert syscalls_run(out).finish().p.returncode == 0
    assert (out / "junit.xml").exists() and (out / "profile.json").exists()
    started = syscalls_run(out, "--timeout=300", faults={B: "sleep:120"})
    started.wait_for_fault("sleep:120")
    os.killpg(started.proc.pid, signal.SIGKILL)  # as a CI runner ends a cancelled job
    run = started.finish()
    assert run.p.returncode == -signal.SIGKILL
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == []


def test_the_next_run_removes_what_a_killed_run_left_in_tmp(tmp_path: Path) -> None:
    out = tmp_path / "out"
    started = syscalls_run(out, "--timeout=300", faults={B: "sleep:120"})
    started.wait_for_fault("sleep:120")
    os.killpg(started.proc.pid, signal.SIGKILL)  # nothing of the run can clean up
    started.finish()
    tmp = out.parent / f"{out.name}.tmp"  # the run's TMPDIR (runner_checks)

    def ours() -> list[str]:
        return sorted(p.name for p in tmp.iterdir() if p.name.startswith("syscalls-run"))

    assert ours(), "nothing left behind to test with"
    assert syscalls_run(out).finish().p.returncode == 0
    assert ours() == []


def test_a_test_that_kills_its_own_process_group_costs_only_itself(tmp_path: Path) -> None:
    run = syscalls_run(tmp_path / "out", faults={B: "killpg"}).finish()
    assert run.p.returncode == 1, run.log  # not the whole run killed
    profile = run.profile()
    assert profile.tests[B]["reason"] == "worker died: SIGKILL"
    assert not_passed(profile) == [B]
    assert run.survivors == []


def test_the_workers_die_with_the_controller(tmp_path: Path) -> None:
    """In groups of their own, they no longer die with the controller's group."""
    started = syscalls_run(tmp_path / "out", "--timeout=300", faults={B: "sleep:120"})
    started.wait_for_fault("sleep:120")
    os.kill(started.proc.pid, signal.SIGKILL)  # the controller alone
    run = started.finish()
    assert run.p.returncode == -signal.SIGKILL
    assert run.seconds < 60, "a worker outlived the controller (holding its output open)"
    assert run.survivors == []


def test_a_second_run_on_the_same_out_is_refused_while_the_first_runs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = syscalls_run(out, "--timeout=300", faults={B: "sleep:5"})
    first.wait_for_fault("sleep:5")
    second = syscalls_run(out).finish()
    assert second.p.returncode == 2, second.log
    lines = second.p.stderr.strip().splitlines()
    assert len(lines) == 1 and "in use by another run" in lines[0], second.log
    assert str(out) in lines[0]
    assert "passed" not in second.p.stdout  # refused before running anything
    run = first.finish()
    assert run.p.returncode == 0, run.log  # the first run was not disturbed
    assert len(run.profile().tests) == N_TESTS


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (to run as nobody under root's dir)")
def test_an_out_that_cannot_be_written_is_refused_before_the_suite_runs(tmp_path: Path) -> None:
    """As a user in a root-owned checkout: refused in one line, nothing run, no results."""
    out = tmp_path / "out"  # tmp_path: root's, 0700
    tmp_path.chmod(0o755)
    argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "env", "HOME=/tmp"]
    argv += [sys.executable, "-m", "syscalls", "run", "--out", str(out), "--", FILE]
    p = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert p.returncode == 2, p.stdout[-2000:] + p.stderr
    assert p.stderr.strip() == f"syscalls: --out {out}: cannot write there (Permission denied)"
    assert "passed" not in p.stdout
    assert "results:" not in p.stdout
    assert not out.exists()


@pytest.mark.parametrize(
    ("pytest_args", "why"),
    [
        (["-k", "no_test_has_this_name"], "no test matched"),  # pytest: 5
        (["--no-such-pytest-option"], "pytest refused the arguments"),  # pytest: 4
    ],
)
def test_pytests_own_exit_codes_do_not_leak_through(
    tmp_path: Path, pytest_args: list[str], why: str
) -> None:
    run = syscalls_run(tmp_path / "out", *pytest_args).finish()
    assert run.p.returncode == 2, run.log
    assert why in run.p.stderr
    assert "results:" not in run.p.stdout or (run.out / "junit.xml").exists()


def test_stopping_at_the_first_failure_is_a_failed_run_not_an_interrupted_one(
    tmp_path: Path,
) -> None:
    run = syscalls_run(tmp_path / "out", "-x", faults={A: "fail"}).finish()
    assert run.p.returncode == 1, run.log  # pytest under xdist says 2, "interrupted"


def test_without_n_leftovers_are_still_killed_per_test(tmp_path: Path) -> None:
    """Plain pytest without -n runs tests in its own process: no crash isolation there,
    but what a test leaves running still dies with it."""
    run = pytest_run(tmp_path / "out", faults={A: "leave", B: "leave-setsid"}).finish()
    assert run.p.returncode == 1, run.log
    assert sorted(not_passed(run.profile())) == sorted([A, B])
    assert run.seconds < 60 and run.survivors == []


@pytest.mark.parametrize("sigint", ["SIG_IGN", "blocked"])
@pytest.mark.parametrize("workers", [True, False], ids=["workers", "serial"])
def test_a_run_that_ignores_or_blocks_sigint_still_ends_at_its_time_limit(
    tmp_path: Path, workers: bool, sigint: str
) -> None:
    """Started with SIGINT ignored (nohup, a shell's background job) or blocked (a mask
    survives exec): --time-limit, which interrupts with SIGINT, still ends the run; one
    from outside is still ignored where it was."""
    if workers:
        options = ["--time-limit", "10"]
        started = syscalls_run(tmp_path / "out", "--timeout=300", options=options,
                               faults={B: "sleep:120"}, sigint=sigint)  # fmt: skip
    else:
        started = pytest_run(tmp_path / "out", "--time-limit=10", faults={B: "sleep:120"},
                             sigint=sigint)  # fmt: skip
    started.wait_for_fault("sleep:120")
    if sigint == "SIG_IGN":
        started.proc.send_signal(signal.SIGINT)
    run = started.finish()
    assert run.p.returncode == (3 if workers else 2), run.log
    assert run.seconds > 9, "ended before its limit: the SIGINT from outside was taken"
    profile = run.profile()
    assert profile.meta["incomplete"].startswith("the run exceeded its overall limit of 10 s")
    assert profile.tests[B]["outcome"] == "failed"
    assert run.survivors == []


def test_without_n_the_time_limit_still_ends_the_run(tmp_path: Path) -> None:
    started = pytest_run(tmp_path / "out", "--time-limit=8", faults={B: "sleep:120"})
    run = started.finish()
    assert run.p.returncode == 2, run.log  # plain pytest: its own "interrupted"
    profile = run.profile()
    assert profile.meta["incomplete"].startswith("the run exceeded its overall limit of 8 s")
    assert profile.tests[B]["outcome"] == "failed"


CRASHING = """
import json, os, resource, signal
import pytest
from syscalls import child

def record(status=None):
    with open(os.environ["REPORT"], "a") as f:
        f.write(json.dumps([resource.getrlimit(resource.RLIMIT_CORE)[0], status]) + "\\n")

def test_a_child_of_child_run_crashes_on_purpose():
    def body():
        record()
        os.kill(os.getpid(), signal.SIGSEGV)
    with pytest.raises(child.ChildFailed, match="SIGSEGV"):
        child.run(body, timeout=30)

def test_a_forked_child_aborts():
    pid = os.fork()
    if pid == 0:
        record()
        os.abort()
    record(os.waitpid(pid, 0)[1])
"""


@pytest.mark.parametrize(
    "workers", [[], ["-n", "1"], ["--workers", "1"]], ids=["in-process", "xdist", "forked"]
)
def test_children_crashed_on_purpose_leave_no_core_dump(tmp_path: Path, workers: list[str]) -> None:
    """As under `ulimit -c unlimited`: the children's RLIMIT_CORE is 0 all the same, and
    no core file appears in the directory they crashed in. core_pattern is the host's
    and is not changed; where it writes plain files, the kernel's own word (the core
    flag of the wait status) is checked too."""
    hard = resource.getrlimit(resource.RLIMIT_CORE)[1]
    if hard == 0:
        pytest.skip("the hard RLIMIT_CORE is 0 here: no core could be dumped anyway")
    (tmp_path / "test_crashing.py").write_text(CRASHING)
    report = tmp_path / "report.jsonl"

    def unlimited() -> None:
        resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))

    p = pytest_in(
        tmp_path, "-q", "test_crashing.py", *workers, env={"REPORT": str(report)},
        preexec_fn=unlimited,
    )  # fmt: skip
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    records = [json.loads(line) for line in report.read_text().splitlines()]
    assert len(records) == 3
    assert [soft for soft, _ in records] == [0, 0, 0], "RLIMIT_CORE in the crashing children"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("core")] == []
    pattern = Path("/proc/sys/kernel/core_pattern").read_text().strip()
    if not pattern.startswith("|"):  # a pipe's handler is given the core whatever the limit
        statuses = [status for _, status in records if status is not None]
        assert statuses and not any(os.WCOREDUMP(s) for s in statuses)


FIXTURES = """
import subprocess
import pytest

@pytest.fixture(scope="module")
def server():
    proc = subprocess.Popen(["sleep", "60"])  # a module's server, shared by its tests
    yield proc
    proc.kill()
    proc.wait()

@pytest.fixture
def leaky():
    subprocess.Popen(["sleep", "60"])  # a function fixture that forgets its process

def test_one_uses_the_server(server):
    assert server.poll() is None

def test_two_uses_it_too(server):
    assert server.poll() is None

def test_with_a_leaky_fixture(leaky):
    pass
"""


@pytest.mark.parametrize(
    "workers", [[], ["-n", "1"], ["--workers", "2"]], ids=["in-process", "xdist", "forked"]
)
def test_a_wider_fixtures_process_may_outlive_a_test_but_a_function_fixtures_may_not(
    tmp_path: Path, workers: list[str]
) -> None:
    (tmp_path / "test_fixtures.py").write_text(FIXTURES)
    p = pytest_in(tmp_path, "-q", "-rA", "test_fixtures.py", *workers)
    assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-2000:]
    assert "PASSED test_fixtures.py::test_one_uses_the_server" in p.stdout
    assert "PASSED test_fixtures.py::test_two_uses_it_too" in p.stdout
    assert "ERROR test_fixtures.py::test_with_a_leaky_fixture" in p.stdout
    assert "left 1 process running (killed: " in p.stdout


MARKED = """
import signal
import pytest

@pytest.mark.timeout(1)
def test_with_a_limit_of_its_own():
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    signal.pause()

def test_after_it():
    pass
"""


@pytest.mark.parametrize("workers", [["-n", "1"], ["--workers", "1"]], ids=["xdist", "forked"])
def test_a_tests_own_timeout_marker_is_the_watchdogs_limit_for_it(
    tmp_path: Path, workers: list[str]
) -> None:
    (tmp_path / "test_marked.py").write_text(MARKED)
    junit = tmp_path / "junit.xml"
    p = pytest_in(
        tmp_path, "-q", "--timeout=300", *workers, f"--junitxml={junit}", "test_marked.py"
    )
    assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-2000:]
    cases = junit_cases(junit)
    failure = cases["test_with_a_limit_of_its_own"].find("failure")
    assert failure is not None
    assert failure.get("message", "").startswith("exceeded 1 s (the per-test limit, --timeout)")
    assert list(cases["test_after_it"]) == []  # passed


UNLIMITED = MARKED.replace("@pytest.mark.timeout(1)", "@pytest.mark.timeout(MARK)")


@pytest.mark.parametrize("mark", ["0", "-5"])
def test_a_test_cannot_ask_for_no_limit_at_all(tmp_path: Path, mark: str) -> None:
    """timeout(0) is pytest-timeout's "no limit": for the watchdog it is the run's, or
    a hang would hold the run for ever."""
    (tmp_path / "test_marked.py").write_text(UNLIMITED.replace("MARK", mark))
    junit = tmp_path / "junit.xml"
    p = pytest_in(
        tmp_path, "-q", "--timeout=1", "--workers", "1", f"--junitxml={junit}", "test_marked.py",
        timeout=60,
    )  # fmt: skip
    cases = junit_cases(junit)
    failure = cases["test_with_a_limit_of_its_own"].find("failure")
    assert failure is not None, p.stdout[-3000:]
    assert failure.get("message", "").startswith("exceeded 1 s (the per-test limit, --timeout)")
    assert list(cases["test_after_it"]) == []  # passed


def test_when_workers_die_past_max_worker_restart_the_run_is_incomplete(tmp_path: Path) -> None:
    """--max-worker-restart, when given, still holds; the tests never run are missing,
    and the run says it did not finish instead of passing for complete."""
    faults = {A: "segv", B: "segv", C: "segv"}
    run = syscalls_run(
        tmp_path / "out", "--max-worker-restart=1", options=["-n", "0"], faults=faults
    ).finish()
    assert run.p.returncode == 3, run.log
    profile = run.profile()
    reason = "workers: maximum crashed workers reached: 1 (--max-worker-restart)"
    assert profile.meta["incomplete"] == reason
    assert len(profile.tests) < N_TESTS


def test_when_xdist_gives_up_replacing_workers_the_run_is_incomplete(tmp_path: Path) -> None:
    faults = {A: "segv", B: "segv", C: "segv"}
    run = pytest_run(tmp_path / "out", "-n", "1", "--max-worker-restart=1", faults=faults)
    run = run.finish()
    profile = run.profile()
    assert profile.meta["incomplete"] == "xdist: maximum crashed workers reached: 1"
    assert len(profile.tests) < N_TESTS


def test_a_module_that_hangs_at_import_ends_the_run_naming_it(tmp_path: Path) -> None:
    (tmp_path / "test_hangs_at_import.py").write_text(
        "import time\ntime.sleep(600)\n\ndef test_never():\n    pass\n"
    )
    start = time.monotonic()
    p = pytest_in(tmp_path, "--workers", "1", "--timeout=2", timeout=90)
    assert time.monotonic() - start < 45
    assert p.returncode == 2, p.stdout[-3000:] + p.stderr[-2000:]  # pytest's "interrupted"
    assert "collecting test_hangs_at_import.py took longer than 2 s" in p.stdout


def test_a_module_that_exits_at_import_under_xdist_ends_the_run_naming_it(tmp_path: Path) -> None:
    """Every xdist worker collects every module: os._exit() at import killed each, until
    xdist gave up, and the run ended with pytest's status 5 ("no tests ran"), the other
    module's test never run and the culprit unnamed."""
    (tmp_path / "test_exits_at_import.py").write_text(
        "import os\nos._exit(0)\n\ndef test_never():\n    pass\n"
    )
    (tmp_path / "test_fine.py").write_text("def test_fine():\n    pass\n")
    p = pytest_in(tmp_path, "-n", "2", "--max-worker-restart=2", timeout=90)
    assert p.returncode == 3, p.stdout[-3000:] + p.stderr[-2000:]  # did not finish
    assert "its workers died importing test_exits_at_import.py" in p.stdout


def test_a_run_whose_interrupt_is_slow_to_report_is_not_cut_by_the_next_one(
    tmp_path: Path,
) -> None:
    """The watchdog says its limit again every second until the run ends (a test may
    swallow one): under load pytest took longer than that to report the first (its
    traceback), and the next was taken for a second Ctrl-C: the run died of SIGINT
    (status -2), its results unwritten. A slow pytest_keyboard_interrupt stands in."""
    (tmp_path / "conftest.py").write_text(
        "import time\n\ndef pytest_keyboard_interrupt():\n    time.sleep(3)\n"
    )
    (tmp_path / "test_hangs_at_import.py").write_text(
        "import time\ntime.sleep(600)\n\ndef test_never():\n    pass\n"
    )
    p = pytest_in(tmp_path, "--workers", "1", "--timeout=1", timeout=90)
    assert p.returncode == 2, p.stdout[-3000:] + p.stderr[-2000:]  # pytest's "interrupted"
    assert "collecting test_hangs_at_import.py took longer than 1 s" in p.stdout


def test_a_module_that_hangs_at_import_ends_a_run_that_ignores_sigint(tmp_path: Path) -> None:
    """Started from a shell's background job (nohup, `cmd &`: SIGINT ignored), the
    watchdog's SIGINT is the run's own still: the run hung for ever on such a module."""
    module = tmp_path / "test_hangs_at_import.py"
    module.write_text("import time\ntime.sleep(600)\n\ndef test_never():\n    pass\n")
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p",
            "syscalls.runner.plugin", f"--rootdir={tmp_path}", "--workers", "1",
            "--timeout=2", str(module)]  # fmt: skip
    run = Started(argv, tmp_path / "out", {}, sigint="SIG_IGN").finish(timeout=60)
    assert run.seconds < 45, run.log
    assert run.p.returncode == 2, run.log  # pytest's "interrupted"
    assert "collecting test_hangs_at_import.py took longer than 2 s" in run.p.stdout


DOOMED = """
import pytest

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item):
    if "doomed" in item.name:  # as pytest-timeout does for timeout('never')
        raise RuntimeError("this plugin cannot begin " + item.name)
    yield
"""


def test_a_test_whose_beginning_kills_its_worker_fails_and_is_not_handed_out_for_ever(
    tmp_path: Path,
) -> None:
    """A hook that raises before a test's first report kills its worker (an internal
    error there); handed out again and again, the test killed every fresh worker and
    the run never ended."""
    (tmp_path / "conftest.py").write_text(DOOMED)
    doomed = "def test_doomed():\n    pass\n\ndef test_after():\n    pass\n"
    p, cases = in_a_worker(tmp_path, "test_doomed.py", doomed, timeout=60)
    failure = cases["test_doomed"].find("failure")
    assert failure is not None, p.stdout[-3000:]
    message = failure.get("message", "")
    assert "as it began this test, before its first report, 2 times" in message
    assert "RuntimeError: this plugin cannot begin test_doomed" in message  # its last words
    assert "Traceback" in (failure.text or "")
    assert list(cases["test_after"]) == []  # passed
