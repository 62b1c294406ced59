"""syscalls.runner.exiting: a process that ran tests ends, whatever threads or exit
handlers they left behind."""

from __future__ import annotations

import atexit
import re
import threading
import time
from pathlib import Path

import pytest

from syscalls.runner import exiting
from tests.runner_checks import pytest_in


def test_left_names_the_threads_and_exit_handlers_added_since() -> None:
    before = exiting.Before()
    assert exiting.left(before) is None
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, name="stuck")
    thread.start()
    atexit.register(print)
    try:
        what = exiting.left(before)
        assert what is not None and "1 thread still running (stuck)" in what, what
        if exiting.handlers():  # CPython counts them
            assert "1 exit handler (atexit) registered since it began" in what, what
    finally:
        atexit.unregister(print)
        stop.set()
        thread.join()
    assert "thread" not in (exiting.left(before) or "")  # CPython's count only grows


LEAVES = """
import atexit, threading, time

def test_leaves_a_thread_that_never_ends():
    threading.Thread(target=threading.Event().wait, name="forever").start()

def test_registers_an_exit_handler_that_never_returns():
    atexit.register(time.sleep, 3600)

def test_passes():
    pass
"""


@pytest.mark.parametrize("args", [(), ("-n", "1")], ids=["serial", "xdist"])
def test_a_run_whose_tests_left_a_thread_and_an_exit_handler_ends(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    (tmp_path / "test_leaves.py").write_text(LEAVES)
    start = time.monotonic()
    p = pytest_in(tmp_path, *args, "test_leaves.py", timeout=60)  # hung: TimeoutExpired
    took = time.monotonic() - start
    assert p.returncode == 1, p.stdout[-3000:]  # the thread's test fails at teardown
    assert "3 passed, 1 error" in p.stdout, p.stdout[-3000:]
    assert "the tests left 1 thread still running (forever)" in p.stderr, p.stderr[-3000:]
    # Past the session (its own time in the summary, which load stretches): the grace
    # and the interpreter's start-up, not xdist's own wait of 10 s for its workers
    session = float(re.findall(r" in (\d+\.\d+)s", p.stdout)[-1])
    assert took - session < exiting.GRACE + 4.5, f"{took:.1f} s, {session:.1f} s of it the session"
