"""syscalls.runner.supervisor: the session in a child, so that a test module that kills
the interpreter at import costs that module (a collection error saying how), not the
command; a death elsewhere ends the run incomplete; signals to the command reach the
session. Each run is a fresh interpreter (a driver), as `syscalls run` is."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from syscalls.runner import supervisor
from tests.runner_checks import ROOT, junit_cases

DRIVER = """
import json, sys
from pathlib import Path
from syscalls.runner import supervisor
d = Path(sys.argv[1])
(d / "own").mkdir()
args = ["-q", "-p", "no:cacheprovider", "-p", "syscalls.runner.plugin", f"--rootdir={d}",
        "--workers=1", f"--junitxml={d / 'junit.xml'}", *sys.argv[2:]]
code, end = supervisor.run(args, d / "own")
print("END", json.dumps({"code": code, "incomplete": end.incomplete, "failed": end.failed}))
"""

CRASHES = {
    "os._exit(0)": "exited with status 0 before the run ended",
    "ctypes.string_at(0)": "was killed by SIGSEGV",
    "os.abort()": "was killed by SIGABRT",
}


def _drive(directory: Path, *args: str, **popen: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(directory), *args],
        cwd=directory,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,  # type: ignore[arg-type]
    )


def _end(p: subprocess.Popen[str], timeout: float = 60) -> tuple[dict, str]:
    out, err = p.communicate(timeout=timeout)
    lines = [line for line in out.splitlines() if line.startswith("END ")]
    assert lines, out[-2000:] + err[-2000:]
    return json.loads(lines[-1][4:]), out + err


def _write(directory: Path, name: str, text: str) -> None:
    (directory / name).write_text(text)


def test_a_report_that_is_not_the_sessions_ends_the_run_incomplete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def garbled(argv: list[str], note: Path, crashed: dict[str, str], report: int) -> None:
        os.write(report, b"{garbage")  # pragma: no cover - in the forked child
        os._exit(0)

    monkeypatch.setattr(supervisor, "_child", garbled)
    code, end = supervisor.run([], tmp_path)
    assert code == pytest.ExitCode.INTERNAL_ERROR
    assert end.failed
    assert end.incomplete == "the run's controller sent an unreadable report ('{garbage')"


@pytest.mark.parametrize("crash", sorted(CRASHES))
def test_a_module_that_kills_the_interpreter_at_import_is_a_collection_error(
    tmp_path: Path, crash: str
) -> None:
    _write(tmp_path, "test_a_fine.py", "def test_fine():\n    pass\n")
    _write(
        tmp_path, "test_b_crash.py", f"import ctypes, os\n{crash}\ndef test_never():\n    pass\n"
    )
    _write(tmp_path, "test_c_fine.py", "def test_fine_too():\n    pass\n")
    end, output = _end(_drive(tmp_path, "--continue-on-collection-errors"))
    assert end == {"code": 1, "incomplete": None, "failed": True}, output
    cases = junit_cases(tmp_path / "junit.xml")
    error = cases["test_b_crash"].find("error")
    assert error is not None, output
    assert CRASHES[crash] in (error.text or "")  # the message: "collection failure"
    assert cases["test_fine"].find("error") is None and "test_fine_too" in cases
    assert f"{CRASHES[crash]} while importing test_b_crash.py" in output


def test_as_with_any_collection_error_the_run_stops_unless_told_to_go_on(tmp_path: Path) -> None:
    _write(tmp_path, "test_a.py", "import os\nos._exit(0)\n")
    _write(tmp_path, "test_b.py", "import os\nos._exit(0)\n")
    _write(tmp_path, "test_c.py", "def test_c():\n    pass\n")
    end, output = _end(_drive(tmp_path))
    assert end["code"] == pytest.ExitCode.INTERRUPTED and end["failed"], output
    assert output.count("collecting again with it as an error") == 2  # one after the other
    assert "Interrupted: 2 errors during collection" in output


def test_a_death_outside_an_import_ends_the_run_incomplete(tmp_path: Path) -> None:
    _write(tmp_path, "conftest.py", "import os\ndef pytest_collection_finish():\n    os._exit(0)\n")
    _write(tmp_path, "test_a.py", "def test_a():\n    pass\n")
    end, output = _end(_drive(tmp_path))
    assert end == {
        "code": pytest.ExitCode.INTERNAL_ERROR,
        "incomplete": "the run's controller exited with status 0 before the run ended",
        "failed": True,
    }, output


def test_a_clean_run_is_the_sessions_own(tmp_path: Path) -> None:
    _write(tmp_path, "test_a.py", "def test_a():\n    pass\ndef test_b():\n    assert 0\n")
    end, output = _end(_drive(tmp_path))
    assert end == {"code": 1, "incomplete": None, "failed": True}, output
    assert "collecting again" not in output


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_a_signal_to_the_command_ends_the_session_as_it_would_the_controller(
    tmp_path: Path, sig: signal.Signals
) -> None:
    started = tmp_path / "started"
    _write(tmp_path, "test_slow.py", SLOW.replace("STARTED", str(started)))
    p = _drive(tmp_path, start_new_session=True)  # no terminal: as under CI
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline:  # collected, and running
        time.sleep(0.05)
    sent = time.monotonic()
    p.send_signal(sig)  # to the command alone (no terminal: SIGINT too goes on)
    end, output = _end(p)
    assert time.monotonic() - sent < 30
    assert end["incomplete"] == f"interrupted ({sig.name})", output


def test_a_controller_stopped_by_sigstop_is_continued(tmp_path: Path) -> None:
    _write(tmp_path, "test_stop.py", STOPPING)
    end, output = _end(_drive(tmp_path, start_new_session=True))
    assert end == {"code": 0, "incomplete": None, "failed": False}, output
    assert "the run's controller was stopped by SIGSTOP (a test's?); continued" in output


SLOW = """
import pathlib, time

def test_slow():
    pathlib.Path("STARTED").touch()
    time.sleep(60)
"""

STOPPING = """
import os, signal, time

def test_stops_its_parent():
    os.kill(os.getppid(), signal.SIGSTOP)  # the controller: --workers 1
    time.sleep(0.5)

def test_after():
    pass
"""


SIGNALS_THE_COMMAND = """
import os, signal, time

def _parent(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rpartition(")")[2].split()[1])

def test_signals_its_grandparent():
    os.kill(_parent(os.getppid()), signal.SIGNAL)  # the command: --workers 1
    time.sleep(0.5)

def test_after():
    pass
"""


@pytest.mark.os("linux")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_signal_from_a_process_of_the_run_to_the_command_is_not_passed_on(
    tmp_path: Path, sig: signal.Signals
) -> None:
    """A test that signals the command (its worker's grandparent): not passed on (it
    ended the run, "interrupted"), and that test fails, named as a test that signals its
    controller is; one from outside still ends the run (above)."""
    _write(tmp_path, "test_signals.py", SIGNALS_THE_COMMAND.replace("SIGNAL", sig.name))
    end, output = _end(_drive(tmp_path, start_new_session=True))
    assert end == {"code": 1, "incomplete": None, "failed": True}, output
    cases = junit_cases(tmp_path / "junit.xml")
    error = cases["test_signals_its_grandparent"].find("error")
    message = error.get("message") if error is not None else ""
    assert f"{sig.name} from pid " in (message or ""), output
    assert "reached the `syscalls run` command" in (message or "")
    assert list(cases["test_after"]) == []  # passed
