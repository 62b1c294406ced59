"""syscalls.runner.forkbomb: a test that starts processes without end costs its worker
and them, not the machine's pids."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import pytest

from syscalls.runner import forkbomb
from tests.runner_checks import clean, junit_cases, junit_message, pytest_in


def test_the_machines_tasks_are_read_from_loadavg(tmp_path: Path) -> None:
    loadavg = tmp_path / "loadavg"
    loadavg.write_text("0.52 0.58 0.59 3/1234 56789\n")
    assert forkbomb.tasks(str(loadavg)) == 1234
    loadavg.write_text("garbage\n")
    assert forkbomb.tasks(str(loadavg)) is None
    assert forkbomb.tasks(str(tmp_path / "none")) is None
    assert (forkbomb.tasks() or 0) > 0  # this machine's


def test_below_the_gate_nothing_is_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    bombs = forkbomb.Bombs()
    monkeypatch.setattr(forkbomb, "tasks", lambda: (bombs.start or 0) + forkbomb.GATE)
    monkeypatch.setattr(forkbomb.processes, "process_table", lambda: pytest.fail("walked"))
    assert bombs.bomb({"w0": 1}, time.monotonic()) is None


def test_past_the_gate_a_worker_with_few_processes_is_left_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another program's threads may have raised the machine's count."""
    bombs = forkbomb.Bombs()
    monkeypatch.setattr(forkbomb, "tasks", lambda: (bombs.start or 0) + forkbomb.GATE + 1)
    child = subprocess.Popen(["sleep", "30"])
    try:
        assert bombs.bomb({"w0": child.pid}, time.monotonic()) is None
    finally:
        child.kill()
        child.wait()


BOMB = """
import subprocess, time

def test_a_starts_processes_without_end():
    subprocess.Popen(["sh", "-c", "for i in $(seq 2500); do sleep SECONDS & done; wait"])
    time.sleep(30)

def test_b_after():
    pass
"""


@pytest.mark.parametrize("args", [("--workers", "1"), ("-n", "1")], ids=["forked", "xdist"])
def test_a_test_that_starts_processes_without_end_fails_and_they_are_killed(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    seconds = f"30.{uuid.uuid4().int % 10**9}"  # its own: the other case may run alongside
    (tmp_path / "test_bomb.py").write_text(BOMB.replace("SECONDS", seconds))
    junit = tmp_path / "junit.xml"
    start = time.monotonic()
    # A session of its own: the watchdog of the run that runs this test leaves it to the
    # run's own (it counted it as its worker's, and killed that).
    p = pytest_in(
        tmp_path, f"--junitxml={junit}", *args, "test_bomb.py", timeout=90, start_new_session=True
    )
    took = time.monotonic() - start
    cases = junit_cases(junit)
    message = junit_message(cases["test_a_starts_processes_without_end"], "failure") or ""
    assert "started processes without end" in message, p.stdout[-3000:]
    assert "the watchdog killed its worker and all of them" in message
    assert clean(cases["test_b_after"]), p.stdout[-3000:]
    assert took < 20, f"{took:.1f} s: the 2500 processes took that long to reap"
    left = subprocess.run(["pgrep", "-f", f"^sleep {seconds}$"], capture_output=True, text=True)
    assert left.stdout == "", f"left running: {len(left.stdout.split())}"
