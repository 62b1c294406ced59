"""syscalls.runner.strays: signals a test sends the run's controller, taken with their
sender and traced to its worker; a run in which a test signals its parent goes on and
names that test (each test here sleeps a second after sending, so that the controller
takes the signal while it runs, even on a busy machine). What blocks signals runs in a
forked child (syscalls.child)."""

from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from syscalls import child, processes
from syscalls.runner import strays
from tests.runner_checks import ROOT, clean, in_a_worker, junit_cases, junit_message, pytest_in

needs_linux = pytest.mark.skipif(not strays.CAN_WAIT, reason="no sigtimedwait here")


def test_strays_end_a_process_by_default_and_leave_the_runs_own_signals_alone() -> None:
    for sig in strays.STRAYS:
        assert signal.getsignal(sig) in (signal.SIG_DFL, None) or sig == signal.SIGALRM
    assert not strays.STRAYS & {signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD}
    assert signal.SIGUSR1 in strays.STRAYS


def test_the_sender_is_traced_to_the_process_that_started_it() -> None:
    me = os.getpid()
    assert strays.owner(me, [me]) == me
    assert strays.owner(me, [1234567]) is None
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - a child that waits to be traced
        os.close(w)
        os.read(r, 1)
        os._exit(0)
    try:
        assert strays.owner(pid, [me]) == me  # through its parent
        assert strays.owner(pid, [os.getppid()]) == os.getppid()
    finally:
        os.close(w)
        os.close(r)
        os.waitpid(pid, 0)


def _blocked_and_taken() -> tuple[bool, list[strays.Stray], list[strays.Stray]]:
    blocked = strays.block()
    receiver = strays.Receiver(blocked)
    os.kill(os.getpid(), signal.SIGUSR1)  # blocked: not the default's death
    os.kill(os.getpid(), signal.SIGRTMIN + 1)
    woken = receiver.fd is None or bool(select.select([receiver.fd], [], [], 5)[0])
    taken = sorted(receiver.take())
    again = receiver.take()
    receiver.close()
    return woken, taken, again


@needs_linux
def test_blocked_strays_are_taken_once_with_their_sender() -> None:
    woken, taken, again = child.run(_blocked_and_taken)
    assert woken
    assert [stray.signum for stray in taken] == [signal.SIGUSR1, signal.SIGRTMIN + 1]
    assert len({stray.sender for stray in taken}) == 1 and taken[0].sender > 1  # its own pid
    assert not any(stray.to_command for stray in taken)
    assert again == []


@needs_linux
def test_a_signal_the_command_passed_on_is_taken_as_the_tests() -> None:
    """RELAY queued by the parent (here this process, in the command's place) carries
    the signal a test sent the command and its sender; queued by anyone else it is a
    stray like the others."""
    value = ctypes.c_void_p(strays.relayed(signal.SIGTERM, 4194303))
    ready_r, ready_w = os.pipe()
    out_r, out_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the controller; what it took goes through the pipe
        receiver = strays.Receiver(strays.block())
        processes.LIBC.sigqueue(os.getpid(), strays.RELAY, value)  # not from its parent
        os.write(ready_w, b"x")
        taken: list[strays.Stray] = []
        deadline = time.monotonic() + 5
        while len(taken) < 2 and time.monotonic() < deadline:
            select.select([receiver.fd], [], [], 1)
            taken += receiver.take()
        os.write(out_w, json.dumps(taken).encode())
        os._exit(0)
    try:
        os.read(ready_r, 1)  # its RELAY is blocked
        assert processes.LIBC.sigqueue(pid, strays.RELAY, value) == 0
        taken = [strays.Stray(*t) for t in json.loads(os.read(out_r, 65536))]
    finally:
        os.waitpid(pid, 0)
        for fd in (ready_r, ready_w, out_r, out_w):
            os.close(fd)
    assert strays.Stray(signal.SIGTERM, 4194303, True) in taken, taken
    assert strays.Stray(strays.RELAY, pid, False) in taken, taken


# Tests a-c of both runs below: a stray from a test, and from its child
SIGNALS_BEFORE = """
import os, signal, time

def test_a_before():
    pass

def test_b_signals_its_parent():
    os.kill(os.getppid(), signal.SIGUSR1)
    time.sleep(1)

def test_c_child_signals_the_controller():
    controller = os.getppid()
    pid = os.fork()
    if pid == 0:
        os.kill(controller, signal.SIGRTMIN + 2)
        time.sleep(1)
        os._exit(0)
    os.waitpid(pid, 0)
"""

SIGNALLING = (
    SIGNALS_BEFORE
    + """

def test_d_terminates_its_parent():
    os.kill(os.getppid(), signal.SIGTERM)
    time.sleep(1)

def test_e_interrupts_its_parent():
    os.kill(os.getppid(), signal.SIGINT)
    time.sleep(1)

def test_f_after():
    pass
"""
)


@needs_linux
def test_a_test_that_signals_the_controller_fails_and_the_run_goes_on(tmp_path: Path) -> None:
    started = time.monotonic()
    p, cases = in_a_worker(tmp_path, "test_signalling.py", SIGNALLING)
    assert time.monotonic() - started < 60
    assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-3000:]
    sent = [
        ("b_signals_its_parent", "SIGUSR1", "its worker"),
        ("c_child", "SIGRTMIN+2", "a child"),
        ("d_terminates", "SIGTERM", "its worker"),  # from a test: no end of the run
        ("e_interrupts", "SIGINT", "its worker"),  # nor Ctrl-C's signal from a test
    ]
    for name, signame, by in sent:
        case = next(c for n, c in cases.items() if name in n)
        error = case.find("error")
        assert error is not None, p.stdout[-3000:]
        assert f"{signame} from pid " in (error.get("message") or "")
        assert f"({by}" in (error.text or "") and "reached the run's controller" in error.text
    assert cases["test_a_before"].find("error") is None
    assert (
        cases["test_f_after"].find("error") is None
        and cases["test_f_after"].find("failure") is None
    )


XDIST_SIGNALLING = (
    SIGNALS_BEFORE
    + """

def test_d_signals_and_ends_at_once():
    os.kill(os.getppid(), signal.SIGUSR2)

def test_e_terminates_its_parent():
    os.kill(os.getppid(), signal.SIGTERM)
    time.sleep(1)

def test_f_after():
    time.sleep(1)
"""
)


@needs_linux
def test_under_xdist_a_test_that_signals_the_controller_fails_and_the_run_goes_on(
    tmp_path: Path,
) -> None:
    """SIGUSR1's default killed xdist's controller, and the run with it (status 138); a
    SIGTERM from a test ended the run."""
    (tmp_path / "test_signalling.py").write_text(XDIST_SIGNALLING)
    junit = tmp_path / "junit.xml"
    p = pytest_in(tmp_path, f"--junitxml={junit}", "-n", "1", "-p", "no:randomly",
                  "test_signalling.py", timeout=60)  # fmt: skip
    assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-3000:]
    cases = junit_cases(junit)
    for name, signame, by in [
        ("test_b_signals_its_parent", "SIGUSR1", "its worker"),
        ("test_c_child_signals_the_controller", "SIGRTMIN+2", "a child"),
        ("test_d_signals_and_ends_at_once", "SIGUSR2", "its worker"),  # taken after its end
        ("test_e_terminates_its_parent", "SIGTERM", "its worker"),  # from a test: no end
    ]:
        message = junit_message(cases[name]) or junit_message(cases[name], "failure") or ""
        assert f"{signame} from pid " in message and f"({by}" in message, p.stdout[-3000:]
        assert "reached the run's controller" in message
    assert clean(cases["test_a_before"]) and clean(cases["test_f_after"])


SLOW_IMPORT = """
import pathlib, time
pathlib.Path("STARTED").touch()
time.sleep(60)
"""


@needs_linux
def test_sigterm_from_outside_while_collecting_still_ends_the_run_at_once(tmp_path: Path) -> None:
    started = tmp_path / "started"
    (tmp_path / "test_slow_import.py").write_text(SLOW_IMPORT.replace("STARTED", str(started)))
    out, took = _signalled_once_started(
        tmp_path, started, signal.SIGTERM, "--workers", "1", "-q", "test_slow_import.py"
    )
    assert took < 10, out[-2000:]
    assert "interrupted (SIGTERM)" in out, out[-2000:]


def _signalled_once_started(
    directory: Path, started: Path, sig: int, *args: str
) -> tuple[str, float]:
    """pytest with the runner's plugin and `args` in `directory`, sent `sig` once its
    test (or module) has made `started`: its output, and the seconds it took to end."""
    p = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p",
         "syscalls.runner.plugin", f"--rootdir={directory}", *args],
        cwd=directory, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    sent = time.monotonic()
    p.send_signal(sig)
    out, _ = p.communicate(timeout=60)
    return out, time.monotonic() - sent


SLOW_TEST = """
import pathlib, time

def test_slow():
    pathlib.Path("STARTED").touch()
    time.sleep(60)
"""


@needs_linux
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_signal_from_outside_still_ends_an_xdist_run(tmp_path: Path, sig: signal.Signals) -> None:
    """Taken by the strays' thread under xdist, with their sender: from outside the
    workers they end the run as their handler did."""
    started = tmp_path / "started"
    (tmp_path / "test_slow.py").write_text(SLOW_TEST.replace("STARTED", str(started)))
    out, took = _signalled_once_started(tmp_path, started, sig, "-n", "1", "test_slow.py")
    assert took < 15, out[-2000:]
    assert f"interrupted ({sig.name})" in out, out[-2000:]
