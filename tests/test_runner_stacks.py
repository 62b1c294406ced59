"""syscalls.runner.stacks: a worker's fault handler writes to a file of its own, and what
it wrote becomes lines of the failure, from the innermost frame to the test's own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from syscalls.runner import stacks

DUMP = """Thread 0x00007f0000000002 (most recent call first):
  File "/usr/lib/python3.11/threading.py", line 320 in wait

Current thread 0x00007f0000000001 (most recent call first):
  File "/usr/lib/python3.11/ctypes/__init__.py", line 519 in string_at
  File "/src/suites/fs/test_x.py", line 8 in test_y
  File "/venv/lib/python3.11/site-packages/_pytest/python.py", line 187 in pytest_pyfunc_call
  File "/venv/lib/python3.11/site-packages/pluggy/_callers.py", line 103 in _multicall
  File "/src/syscalls/runner/worker.py", line 244 in _run

Extension modules: _cffi_backend (total: 1)
"""


def test_the_current_thread_down_to_the_tests_own_frame(tmp_path: Path) -> None:
    stacks.path_for(tmp_path / "w1").write_text(DUMP)
    assert stacks.read(tmp_path / "w1") == (
        f"\n{stacks.HEADING}\n"
        '  File "/usr/lib/python3.11/ctypes/__init__.py", line 519 in string_at\n'
        '  File "/src/suites/fs/test_x.py", line 8 in test_y'
    )


def test_of_two_dumps_the_last_is_the_workers_own(tmp_path: Path) -> None:
    # a child the test forked itself inherits the handler, and may have dumped first
    child = 'Current thread 0x3 (most recent call first):\n  File "/src/child.py", line 1 in c\n'
    stacks.path_for(tmp_path / "w1").write_text(child + "\n" + DUMP)
    assert "in test_y" in stacks.read(tmp_path / "w1")
    assert "in c" not in stacks.read(tmp_path / "w1")


def test_nothing_written_or_no_file_adds_nothing(tmp_path: Path) -> None:
    assert stacks.read(tmp_path / "w1") == ""
    stacks.path_for(tmp_path / "w1").write_bytes(b"")
    assert stacks.read(tmp_path / "w1") == ""


def test_a_worker_that_records_writes_its_stack_when_it_faults(tmp_path: Path) -> None:
    status = tmp_path / "w1"
    code = (
        "import ctypes, sys\n"
        "from pathlib import Path\n"
        "from syscalls.runner import stacks\n"
        "stacks.record(Path(sys.argv[1]))\n"
        "def fault_here():\n"
        "    ctypes.string_at(0)\n"
        "fault_here()\n"
    )
    root = Path(__file__).resolve().parent.parent
    p = subprocess.run([sys.executable, "-c", code, str(status)], cwd=root, capture_output=True)
    assert p.returncode == -signal.SIGSEGV
    assert p.stderr == b""  # into its file, not onto the run's stderr
    assert "in fault_here" in stacks.read(status)


def test_ask_returns_once_the_process_has_died_of_it() -> None:
    proc = subprocess.Popen(["sleep", "60"])
    try:
        started = time.monotonic()
        stacks.ask(proc.pid)
        assert time.monotonic() - started < stacks.ABORT_GRACE
        assert proc.wait(5) == -signal.SIGABRT
    finally:
        proc.kill()
        proc.wait()


def test_ask_gives_up_after_its_grace_on_a_process_that_ignores_it() -> None:
    code = (
        "import signal, time\n"
        "signal.signal(signal.SIGABRT, signal.SIG_IGN)\n"
        "print(1, flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"1\n"
        started = time.monotonic()
        stacks.ask(proc.pid)
        assert stacks.ABORT_GRACE <= time.monotonic() - started < stacks.ABORT_GRACE + 1
        assert proc.poll() is None
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
