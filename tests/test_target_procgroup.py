"""syscalls.targets.procgroup: what a target starts is killed and reaped as one, with
real processes: a tree, a helper that left the group with setsid() (as runsc's sandbox
does), and one whose parent died first. Nothing may survive or stay a zombie."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from syscalls.targets.procgroup import ProcessGroup

pytestmark = pytest.mark.os("linux")

PR_GET_CHILD_SUBREAPER = 37


def _stat(pid: int) -> tuple[str, int, int, int] | None:
    """(state, ppid, pgid, sid) of a process, None once it is gone (and reaped)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return fields[0], int(fields[1]), int(fields[2]), int(fields[3])


def _wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _pids(path: Path, n: int) -> list[int]:
    """The n pids the processes wrote, one a line, once all are there."""
    assert _wait_for(lambda: path.exists() and len(path.read_text().split()) >= n)
    return [int(x) for x in path.read_text().split()]


# A Python that writes its pid to argv[1], optionally calls setsid() first, then sleeps.
SLEEPER = (
    "import os, sys, time\n"
    "if sys.argv[2] == 'setsid': os.setsid()\n"
    "with open(sys.argv[1], 'a') as f: f.write(f'{os.getpid()}\\n')\n"
    "time.sleep(300)\n"
)


def _subreaper() -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    value = ctypes.c_int(-1)
    assert libc.prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(value), 0, 0, 0) == 0
    return value.value


def test_a_tree_with_a_setsid_helper_is_killed_and_reaped(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    # sh (the leader) starts a plain child and one that calls setsid(), as runsc does.
    script = (
        f'{sys.executable} -c "$1" {pids} plain & {sys.executable} -c "$1" {pids} setsid & wait'
    )
    before = _subreaper()  # 1 in a pytest worker (syscalls.runner), else 0
    with ProcessGroup() as group:
        leader = group.start(["sh", "-c", script, "sh", SLEEPER])
        assert _subreaper() == 1
        helpers = _pids(pids, 2)
        groups = {pid: _stat(pid)[2:] for pid in helpers}  # type: ignore[index]
        # One stayed in the group; the other leads a session and group of its own.
        session = os.getsid(leader.pid)
        stayed = [p for p, (pgid, sid) in groups.items() if (pgid, sid) == (group.pgid, session)]
        left = [p for p, (pgid, sid) in groups.items() if pgid == sid == p]
        assert len(stayed) == len(left) == 1, groups
    assert leader.returncode is not None
    for pid in (leader.pid, *helpers):
        assert _stat(pid) is None, f"{pid} survived the group: {_stat(pid)}"
    assert _subreaper() == before, "the subreaper state is restored"


def test_a_setsid_helper_whose_parent_died_is_adopted_then_killed(tmp_path: Path) -> None:
    """The helper's parent exits first: the helper is re-parented to us (subreaper),
    not to init, and is killed and reaped when the group ends -- no zombie left."""
    pids = tmp_path / "pids"
    with ProcessGroup() as group:
        parent = group.start(
            [sys.executable, "-c", f"import subprocess, sys; subprocess.Popen([sys.executable, "
             f"'-c', {SLEEPER!r}, {str(pids)!r}, 'setsid'])"],
        )  # fmt: skip
        [helper] = _pids(pids, 1)
        assert parent.wait(10) == 0
        assert _wait_for(lambda: (_stat(helper) or ("", 0))[1] == os.getpid())
        _, _, pgid, sid = _stat(helper)  # type: ignore[misc]
        assert sid == helper != group.pgid and pgid != group.pgid
    assert _stat(helper) is None  # killed and reaped by us: not even a zombie
    zombies = [p for p in map(int, filter(str.isdigit, os.listdir("/proc")))
               if (s := _stat(p)) and s[1] == os.getpid() and s[0] == "Z"]  # fmt: skip
    assert zombies == []


def test_children_from_before_the_group_are_left_alone(tmp_path: Path) -> None:
    outsider = subprocess.Popen(["sleep", "300"])
    try:
        with ProcessGroup() as group:
            proc = group.start(["sleep", "300"])
        assert proc.returncode == -9
        assert outsider.poll() is None, "a child that is not the group's was killed"
        # alive and not stopped: running, asleep, or (under load, still reading its
        # binary) in uninterruptible sleep -- not T (stopped) nor Z (killed)
        assert _stat(outsider.pid)[0] in "RSD"  # type: ignore[index]
    finally:
        outsider.kill()
        outsider.wait()


def test_processes_started_later_join_the_first_ones_group() -> None:
    with ProcessGroup() as group:
        a = group.start(["sleep", "300"])
        b = group.start(["sleep", "300"])
        assert group.pgid == a.pid == os.getpgid(a.pid) == os.getpgid(b.pid)
        assert group.alive()
        assert not group.wait_all(0.2)
    assert (a.returncode, b.returncode) == (-9, -9)
    assert not group.alive()


def test_wait_all_sees_processes_that_exit_by_themselves() -> None:
    with ProcessGroup() as group:
        proc = group.start(["sh", "-c", "exit 7"])
        assert group.wait_all(10)
        assert proc.returncode == 7


def test_a_process_we_started_that_calls_setsid_is_killed_with_its_children(
    tmp_path: Path,
) -> None:
    """As linux.uml: started second (the first leads the group), it calls setsid() and
    starts children in its new group. Leaving the block kills them all, not waits."""
    pids = tmp_path / "pids"
    uml_like = (
        "import os, subprocess, sys\n"
        "os.setsid()\n"
        f"subprocess.Popen([sys.executable, '-c', {SLEEPER!r}, sys.argv[1], 'plain'])\n"
        f"exec({SLEEPER!r})\n"
    )
    with ProcessGroup() as group:
        group.start([sys.executable, "-c", SLEEPER, str(pids), "plain"])
        own = group.start([sys.executable, "-c", uml_like, str(pids), "plain"])
        started = _pids(pids, 3)
        assert os.getpgid(own.pid) == own.pid != group.pgid
    assert own.returncode == -signal.SIGKILL
    for pid in started:
        assert _stat(pid) is None, f"{pid} survived the group: {_stat(pid)}"
