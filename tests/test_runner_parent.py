"""syscalls.runner.parent: a worker continues its parent, the run's controller, when a
test left it stopped -- under xdist nothing else did, and the run waited for ever."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from syscalls import child
from syscalls.runner.parent import Parent
from tests.runner_checks import clean, junit_cases, junit_message, pytest_in

pytestmark = pytest.mark.os("linux")


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rpartition(")")[2].split()[0]


def test_a_stopped_parent_is_continued_and_told() -> None:
    def controller() -> tuple[bool, bool, str]:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the worker: its answers go through the pipe
            parent = Parent()
            before = parent.continued()  # running: nothing to do
            os.kill(parent.pid, signal.SIGSTOP)
            while _state(parent.pid) != "T":
                time.sleep(0.01)
            after = parent.continued()
            os.write(w, bytes([before, after]))
            os._exit(0)
        os.waitpid(pid, 0)  # this process is stopped meanwhile, and continued by it
        answers = os.read(r, 2)
        return bool(answers[0]), bool(answers[1]), _state(os.getpid())

    assert child.run(controller) == (False, True, "R")


STOPS = """
import os, signal, time

def test_a_stops_its_parent():
    os.kill(os.getppid(), signal.SIGSTOP)
    time.sleep(0.3)

def test_b_after():
    pass
"""


def test_under_xdist_a_test_that_stops_the_controller_fails_and_the_run_ends(
    tmp_path: Path,
) -> None:
    (tmp_path / "test_stops.py").write_text(STOPS)
    junit = tmp_path / "junit.xml"
    p = pytest_in(tmp_path, f"--junitxml={junit}", "-n", "1", "-p", "no:randomly",
                  "test_stops.py", timeout=60)  # fmt: skip
    cases = junit_cases(junit)
    message = junit_message(cases["test_a_stops_its_parent"]) or ""
    assert "the test stopped the run's controller (pid " in message, p.stdout[-3000:]
    assert clean(cases["test_b_after"])
