"""Processes a test starts beside its worker (syscalls.runner.siblings): a child of the
controller that is not a worker is found as a test ends, killed, reaped and named."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from syscalls import child
from syscalls.runner import siblings
from tests.runner_checks import clean, in_a_worker, junit_message


def _sleeper() -> int:
    pid = os.fork()
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    return pid


def test_the_children_read_through_the_kept_descriptor_are_this_processs() -> None:
    def run() -> tuple[bool, bool, bool]:
        children = siblings.Children()
        pid = _sleeper()
        listed = pid in children.now()
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        gone = pid not in children.now()
        children.close()
        return children.fd is None, listed, gone

    assert child.run(run) == (True, True, True)


def test_a_stranger_is_named_killed_and_reaped_and_a_worker_is_left_alone() -> None:
    def run() -> tuple[list[str], list[int], bool, bool]:
        worker, stranger = _sleeper(), _sleeper()
        found = siblings.strangers(siblings.Children().now(), {worker})
        siblings.end(found)
        try:
            os.waitpid(stranger, os.WNOHANG)
            reaped = False
        except ChildProcessError:
            reaped = True
        alive = os.waitpid(worker, os.WNOHANG) == (0, 0)
        os.kill(worker, signal.SIGKILL)
        os.waitpid(worker, 0)
        return [str(s) for s in found], [s.pid for s in found], reaped, alive

    shown, pids, reaped, alive = child.run(run)
    assert len(pids) == 1 and shown == [f"{shown[0].split(' (')[0]} (pid {pids[0]})"]
    assert reaped and alive


def test_a_child_that_exited_is_reaped_not_named() -> None:
    def run() -> tuple[list[int], bool]:
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        while siblings.processes.stat_fields(pid)[0] != b"Z":  # type: ignore[index]
            time.sleep(0.001)
        found = siblings.strangers([pid], set())
        try:
            os.waitpid(pid, os.WNOHANG)
            return [s.pid for s in found], False
        except ChildProcessError:
            return [s.pid for s in found], True

    assert child.run(run) == ([], True)


SIBLING = """
import ctypes, os, signal, time

def test_a_starts_a_sibling():
    libc = ctypes.CDLL(None, use_errno=True)
    pid = libc.syscall(56, 0x00008000 | signal.SIGCHLD, 0, 0, 0, 0)  # clone(CLONE_PARENT)
    if pid == 0:
        libc.prctl(15, b"zzsibling", 0, 0, 0)  # PR_SET_NAME
        time.sleep(60)
        os._exit(0)
    assert pid > 0
    deadline = time.monotonic() + 10
    while open(f"/proc/{pid}/comm").read().strip() != "zzsibling":  # named before the end
        assert time.monotonic() < deadline
        time.sleep(0.01)

def test_b_after():
    time.sleep(0.05)
    names = []
    for p in os.listdir("/proc"):
        try:
            names.append(open(f"/proc/{p}/comm").read().strip())
        except OSError:
            pass
    assert "zzsibling" not in names
"""


def test_a_process_started_beside_the_worker_fails_its_test_and_is_gone_after(
    tmp_path: Path,
) -> None:
    p, cases = in_a_worker(tmp_path, "test_sibling.py", SIBLING)
    error = junit_message(cases["test_a_starts_a_sibling"])
    assert error is not None, p.stdout[-3000:]
    assert "started zzsibling (pid " in error
    assert "beside its worker" in error
    assert clean(cases["test_b_after"]), p.stdout[-3000:]
