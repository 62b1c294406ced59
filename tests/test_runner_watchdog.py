"""syscalls.runner.watchdog: limits enforced from outside, deaths told apart, the
overall time limit -- on real processes standing in for xdist workers."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from syscalls import processes
from syscalls.runner import stacks
from syscalls.runner.status import StatusWriter
from syscalls.runner.watchdog import (
    OUTPUT_LIMIT,
    STOPPED,
    UNREPORTED,
    Watchdog,
    describe_exit,
    grace,
    peek_exit,
    state,
)
from tests.runner_checks import clean, in_a_worker, junit_cases, junit_message, pytest_in

pytestmark = pytest.mark.os("linux")


@pytest.fixture
def worker() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "60"])
    yield proc
    proc.kill()
    proc.wait()


def _watchdog(tmp_path: Path) -> Watchdog:
    return Watchdog(tmp_path, None, lambda reason: None)


def test_grace_leaves_pytest_timeout_the_first_word_and_stays_within_a_minute() -> None:
    assert grace(2) == 5
    assert grace(120) == 12
    assert grace(10_000) == 30


def test_a_worker_past_its_limit_is_killed_with_the_reason(
    tmp_path: Path, worker: subprocess.Popen[bytes]
) -> None:
    dog = _watchdog(tmp_path)
    dog.add_worker("gw0", worker.pid)
    StatusWriter(tmp_path / "gw0").start("t.py::test_hangs", 2.0, time.monotonic() - 60)
    dog._check("gw0", dog.workers["gw0"], time.monotonic())
    assert worker.wait(10) == -signal.SIGABRT  # asked where it was first: no fault handler
    assert dog.death_of("gw0") == (
        "exceeded 2 s (the per-test limit, --timeout): the watchdog killed its worker after 60 s"
    )


HANGS = """
import faulthandler, signal, sys, time
faulthandler.enable(open(sys.argv[1], "w"))
if sys.argv[2] == "deaf":
    signal.signal(signal.SIGABRT, signal.SIG_IGN)
def hang_here():
    print("ready", flush=True)
    time.sleep(60)
hang_here()
"""


@pytest.mark.parametrize("deaf", [False, True], ids=["answers", "ignores-sigabrt"])
def test_a_worker_past_its_limit_says_where_it_was_if_it_can(tmp_path: Path, deaf: bool) -> None:
    dump = tmp_path / "gw0.stack"  # beside its status record (runner.stacks)
    argv = [sys.executable, "-c", HANGS, str(dump), "deaf" if deaf else "-"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        dog = _watchdog(tmp_path)
        dog.add_worker("gw0", proc.pid)
        StatusWriter(tmp_path / "gw0").start("t.py::test_hangs", 2.0, time.monotonic() - 60)
        started = time.monotonic()
        dog._check("gw0", dog.workers["gw0"], time.monotonic())
        assert proc.wait(10) == (-signal.SIGKILL if deaf else -signal.SIGABRT)
        assert time.monotonic() - started < stacks.ABORT_GRACE + 2
        why = dog.death_of("gw0")
    finally:
        proc.kill()
        proc.wait()
    assert why is not None and why.startswith("exceeded 2 s (the per-test limit, --timeout)")
    if deaf:
        assert "where it was" not in why
    else:
        assert "\nwhere it was (most recent call first):\n" in why and "in hang_here" in why


def test_a_worker_stopped_in_a_test_is_killed_once_it_stays_stopped(
    tmp_path: Path, worker: subprocess.Popen[bytes]
) -> None:
    dog = _watchdog(tmp_path)
    dog.add_worker("gw0", worker.pid)
    StatusWriter(tmp_path / "gw0").start("t.py::test_stops_itself", 120.0, time.monotonic())
    os.kill(worker.pid, signal.SIGSTOP)
    deadline = time.monotonic() + 10
    while state(worker.pid) != b"T":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    now = time.monotonic()
    dog._check("gw0", dog.workers["gw0"], now)  # seen stopped: not yet
    dog._check("gw0", dog.workers["gw0"], now + STOPPED / 2)
    assert worker.poll() is None
    os.kill(worker.pid, signal.SIGCONT)  # continued (by a child of the test, say)
    dog._check("gw0", dog.workers["gw0"], now + STOPPED + 1)
    assert worker.poll() is None and dog.workers["gw0"].stopped is None
    os.kill(worker.pid, signal.SIGSTOP)
    while state(worker.pid) != b"T":
        time.sleep(0.01)
    dog._check("gw0", dog.workers["gw0"], now + 20)
    dog._check("gw0", dog.workers["gw0"], now + 20 + STOPPED)
    assert worker.wait(10) == -signal.SIGABRT  # continued to say where it was
    assert dog.death_of("gw0") == (
        "stopped by a signal (SIGSTOP, SIGTSTP, SIGTTIN or SIGTTOU) and not continued for "
        "10 s: the watchdog killed its worker"
    )


@pytest.mark.parametrize(
    ("nodeid", "limit", "started_ago"),
    [("t.py::test_ok", 2.0, 3.0), ("", 0.0, 60.0), ("t.py::test_unlimited", 0.0, 600.0)],
    ids=["within-grace", "idle", "no-limit"],
)
def test_a_worker_within_its_limit_is_left_alone(
    tmp_path: Path, worker: subprocess.Popen[bytes], nodeid: str, limit: float, started_ago: float
) -> None:
    dog = _watchdog(tmp_path)
    dog.add_worker("gw0", worker.pid)
    StatusWriter(tmp_path / "gw0").start(nodeid, limit, time.monotonic() - started_ago)
    dog._check("gw0", dog.workers["gw0"], time.monotonic())
    assert worker.poll() is None
    assert dog.workers["gw0"].killed is None


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["sh", "-c", "exit 3"], "worker exited with status 3"),
        (["sh", "-c", "kill -SEGV $$"], "worker died: SIGSEGV"),
    ],
)
def test_how_a_worker_ended_is_read_without_reaping_it(argv: list[str], expected: str) -> None:
    proc = subprocess.Popen(argv)
    deadline = time.monotonic() + 10
    while (seen := peek_exit(proc.pid)) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert seen == expected
    assert proc.wait(5) is not None, "still there for its owner (execnet) to reap"


def test_a_signal_unknown_to_pythons_enum_is_named_from_sigrtmin() -> None:
    proc = subprocess.Popen(["sleep", "60"])
    os.kill(proc.pid, signal.SIGRTMIN + 3)
    result = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
    assert describe_exit(result) == "worker died: SIGRTMIN+3"
    proc.wait()


def test_orphans_adopted_after_a_worker_died_are_killed_but_workers_are_not(
    tmp_path: Path, worker: subprocess.Popen[bytes]
) -> None:
    dog = _watchdog(tmp_path)
    dog.add_worker("gw0", worker.pid)
    orphan = subprocess.Popen(["sleep", "60"])  # stands in for an adopted orphan
    deadline = time.monotonic() + 10
    while orphan.pid in processes.children() and time.monotonic() < deadline:
        dog.reap_adopted()  # killed, then reaped on a later round
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{orphan.pid}"), "killed and reaped"
    assert worker.poll() is None


def test_nothing_is_reaped_while_a_replacement_worker_starts(
    tmp_path: Path, worker: subprocess.Popen[bytes]
) -> None:
    dog = _watchdog(tmp_path)
    dog.add_worker("gw0", worker.pid)
    dog.worker_down()
    newcomer = subprocess.Popen(["sleep", "60"])  # started, not yet announced
    try:
        dog.reap_adopted()
        assert newcomer.poll() is None
        dog.add_worker("gw1", newcomer.pid)
        dog.reap_adopted()
        assert newcomer.poll() is None
    finally:
        newcomer.kill()
        newcomer.wait()


def test_the_time_limit_calls_back_with_the_reason_and_again_each_second(
    tmp_path: Path,
) -> None:
    calls: list[tuple[float, str]] = []
    dog = Watchdog(None, 0.3, lambda reason: calls.append((time.monotonic(), reason)))
    dog.start()
    try:
        time.sleep(2.0)
    finally:
        dog.stop()
    assert 1 <= len(calls) <= 3  # at 0.3 s, 1.3 s, (2.3 s)
    assert {reason for _, reason in calls} == {
        "the run exceeded its overall limit of 0.3 s (--time-limit)"
    }
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(calls)]
    assert all(gap >= 0.99 for gap in gaps)


def test_a_worker_whose_pid_execnet_did_not_show_is_watched_by_its_status_record(
    tmp_path: Path,
) -> None:
    dog = _watchdog(tmp_path)
    dog.untracked_worker()
    StatusWriter(tmp_path / "gw0").start("t.py::test_x", 1.0, time.monotonic())
    dog._adopt_status_files()
    assert dog.workers["gw0"].pid == os.getpid()  # the writer's: here, this process
    child = subprocess.Popen(["sleep", "60"])
    try:
        dog.deaths = 1
        dog.reap_adopted()  # with an untracked worker, no child is taken for an orphan
        assert child.poll() is None
    finally:
        child.kill()
        child.wait()


def test_a_worker_whose_test_floods_its_output_is_killed_with_the_reason(
    tmp_path: Path,
) -> None:
    """Its standard output a file (pytest's capture file, here one of the test's): the
    growth since its test began counts, not what the file held before."""
    out = tmp_path / "captured"
    out.write_bytes(b"x" * (OUTPUT_LIMIT + 1))  # written before this test: not its own
    with out.open("ab") as f:
        proc = subprocess.Popen(["sleep", "60"], stdout=f)
    try:
        dog = _watchdog(tmp_path)
        dog.add_worker("gw0", proc.pid)
        StatusWriter(tmp_path / "gw0").start("t.py::test_floods", 120.0, time.monotonic())
        dog._check("gw0", dog.workers["gw0"], time.monotonic())
        assert proc.poll() is None
        with out.open("ab") as f:
            f.write(b"y" * (OUTPUT_LIMIT // 2))
        dog._check("gw0", dog.workers["gw0"], time.monotonic())
        assert proc.poll() is None  # half the limit: left alone
        with out.open("ab") as f:
            f.write(b"y" * OUTPUT_LIMIT)
        dog._check("gw0", dog.workers["gw0"], time.monotonic())
        assert proc.wait(10) == -signal.SIGKILL
        assert dog.death_of("gw0") == (
            "wrote 96 MiB to its standard output and error (the limit is 64 MiB; pytest's "
            "capture keeps it on disk): the watchdog killed its worker"
        )
    finally:
        proc.kill()
        proc.wait()


FLOODING = """
import os, time

def test_a_floods_its_output():
    end = time.monotonic() + 30
    while time.monotonic() < end:
        os.write(1, b"x" * 65536)

def test_b_after():
    print("fine")
"""


def test_a_test_that_floods_its_output_fails_soon_and_the_run_goes_on(tmp_path: Path) -> None:
    started = time.monotonic()
    p, cases = in_a_worker(tmp_path, "test_flooding.py", FLOODING)
    assert time.monotonic() - started < 20, p.stdout[-3000:]
    failure = junit_message(cases["test_a_floods_its_output"], "failure")
    assert failure is not None, p.stdout[-3000:]
    assert "to its standard output and error (the limit is 64 MiB" in failure
    assert clean(cases["test_b_after"]), p.stdout[-3000:]


def _ended(writer: StatusWriter, tests: int) -> None:
    for n in range(tests):
        writer.start(f"t.py::test_{n}", 120.0, time.monotonic())
        writer.ended(f"t.py::test_{n}")


def test_an_idle_xdist_worker_whose_reports_stay_missing_is_killed(
    tmp_path: Path, worker: subprocess.Popen[bytes]
) -> None:
    """Its channel to the controller broken: the tests it ended never report, and xdist
    would wait for them for ever."""
    dog = _watchdog(tmp_path)
    dog.add_worker("gw0", worker.pid)
    _ended(StatusWriter(tmp_path / "gw0"), 3)
    dog.reported("gw0")  # one of the three reached the controller
    now = time.monotonic()
    dog._check("gw0", dog.workers["gw0"], now)
    dog._check("gw0", dog.workers["gw0"], now + UNREPORTED - 1)
    assert worker.poll() is None  # not yet: reports may lag a little
    dog._check("gw0", dog.workers["gw0"], now + UNREPORTED)
    assert worker.wait(10) == -signal.SIGKILL
    assert (dog.death_of("gw0") or "").startswith(
        "its worker ended 2 tests whose reports never reached the controller in 15 s"
    )


def test_an_xdist_worker_whose_import_hangs_is_killed_and_the_run_ends(
    tmp_path: Path, worker: subprocess.Popen[bytes]
) -> None:
    """xdist's workers collect for themselves: a module whose code at import hangs held
    every worker, and the run, for ever."""
    reasons: list[str] = []
    dog = Watchdog(tmp_path, None, reasons.append)
    dog.add_worker("gw0", worker.pid)
    StatusWriter(tmp_path / "gw0").collecting("suites/x.py", 2.0, time.monotonic() - 60)
    dog._check("gw0", dog.workers["gw0"], time.monotonic())
    assert worker.wait(10) == -signal.SIGKILL
    why = "collecting suites/x.py took longer than 2 s (the per-test limit, --timeout)"
    assert reasons and reasons[0].startswith(why)
    assert (dog.death_of("gw0") or "").startswith(why)


def test_a_controller_behind_with_its_events_is_waited_for(
    tmp_path: Path, worker: subprocess.Popen[bytes]
) -> None:
    """Its main thread held (a terminal paused, say): the reports are in its queue."""
    dog = _watchdog(tmp_path)
    dog.add_worker("gw0", worker.pid)
    dog.backlog = lambda: 3
    _ended(StatusWriter(tmp_path / "gw0"), 2)
    now = time.monotonic()
    for later in (0, UNREPORTED, 10 * UNREPORTED):
        dog._check("gw0", dog.workers["gw0"], now + later)
    assert worker.poll() is None


def test_a_worker_that_ran_on_between_two_looks_is_not_taken_for_idle(
    tmp_path: Path, worker: subprocess.Popen[bytes]
) -> None:
    """Behind once, busy after: the wait starts again at its next record."""
    dog = _watchdog(tmp_path)
    dog.add_worker("gw0", worker.pid)
    writer = StatusWriter(tmp_path / "gw0")
    _ended(writer, 1)
    now = time.monotonic()
    dog._check("gw0", dog.workers["gw0"], now)  # one report on its way
    _ended(writer, 1)  # it ran another meanwhile
    dog._check("gw0", dog.workers["gw0"], now + UNREPORTED)
    assert worker.poll() is None


def test_an_xdist_worker_whose_reports_arrive_is_left_alone(
    tmp_path: Path, worker: subprocess.Popen[bytes]
) -> None:
    dog = _watchdog(tmp_path)
    dog.add_worker("gw0", worker.pid)
    writer = StatusWriter(tmp_path / "gw0")
    _ended(writer, 2)
    now = time.monotonic()
    dog._check("gw0", dog.workers["gw0"], now)  # behind: its reports are on their way
    for _ in range(2):
        dog.reported("gw0")
    dog._check("gw0", dog.workers["gw0"], now + 10 * UNREPORTED)
    assert worker.poll() is None and dog.workers["gw0"].unreported is None


BREAKS_ITS_CHANNEL = """
import os

def test_a_writes_into_execnets_pipe():
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if not os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:"):
            continue
        with open(f"/proc/self/fdinfo/{fd}") as f:
            flags = int(f.read().split("flags:")[1].split()[0], 8)
        if flags & 3:
            try:
                os.write(fd, b"\\\\x00\\\\x00\\\\x00\\\\x10garbage" * 4)
            except OSError:
                pass

def test_b_after():
    pass
"""


@pytest.mark.slow
def test_under_xdist_a_broken_channel_fails_its_test_and_the_run_ends(tmp_path: Path) -> None:
    (tmp_path / "test_breaks.py").write_text(BREAKS_ITS_CHANNEL)
    junit = tmp_path / "junit.xml"
    started = time.monotonic()
    p = pytest_in(tmp_path, f"--junitxml={junit}", "-n", "1", "-p", "no:randomly",
                  "test_breaks.py", timeout=120)  # fmt: skip
    assert time.monotonic() - started < UNREPORTED + 60, p.stdout[-3000:]
    cases = junit_cases(junit)
    message = junit_message(cases["test_a_writes_into_execnets_pipe"], "failure") or ""
    assert "whose reports never reached the controller" in message, p.stdout[-3000:]
    assert clean(cases["test_b_after"])


HANGS_AT_IMPORT = """
import time
time.sleep(3600)

def test_never():
    pass
"""


def test_under_xdist_a_module_that_hangs_at_import_ends_the_run_at_the_limit(
    tmp_path: Path,
) -> None:
    (tmp_path / "test_hangs.py").write_text(HANGS_AT_IMPORT)
    started = time.monotonic()
    p = pytest_in(tmp_path, "-n", "1", "--timeout", "2", "test_hangs.py", timeout=120)
    assert time.monotonic() - started < 60, p.stdout[-3000:]
    assert "collecting test_hangs.py took longer than 2 s" in p.stdout + p.stderr, p.stdout
