"""syscalls.processes: children, trees, leftovers killed and reaped, no core dumps.

Scenarios that need a subreaper run in a Python subprocess of their own, so that they
neither depend on nor disturb the state of the pytest process running them.
"""

from __future__ import annotations

import json
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from syscalls import processes
from syscalls.paths import ROOT

pytestmark = pytest.mark.os("linux")


def _in_subprocess(code: str) -> dict:
    """Run `code` (which sets RESULT) in a fresh Python; RESULT comes back as JSON."""
    script = "import json, os, sys, time\nfrom syscalls import processes\n"
    script += textwrap.dedent(code) + "\nprint(json.dumps(RESULT))\n"
    p = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.splitlines()[-1])


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_children_lists_a_child_but_not_a_grandchild() -> None:
    with subprocess.Popen(["sh", "-c", "sleep 60 & wait"]) as sh:
        try:
            for _ in range(100):
                grandchildren = processes.children(sh.pid)
                if grandchildren:
                    break
                time.sleep(0.02)
            assert sh.pid in processes.children()
            assert len(grandchildren) == 1
            assert grandchildren[0] not in processes.children()
        finally:
            processes.kill_tree(sh.pid)
            sh.wait()


@pytest.mark.parametrize("proc", [True, False], ids=["proc", "ps"])
def test_process_table_knows_this_process_and_its_parent(proc: bool) -> None:
    if not proc and shutil.which("ps") is None:
        pytest.skip("ps is not installed (procps)")
    assert processes.process_table(proc)[os.getpid()] == os.getppid()


def test_descendants_come_parents_first() -> None:
    table = {10: 1, 11: 10, 12: 11, 13: 10, 20: 1}
    found = processes.descendants(10, table)
    assert sorted(found) == [11, 12, 13]
    assert found.index(11) < found.index(12)
    assert processes.descendants(12, table) == []


def test_kill_tree_kills_every_member_even_one_in_a_session_of_its_own() -> None:
    with subprocess.Popen(["sh", "-c", "setsid sleep 60 & sleep 60 & wait"]) as sh:
        for _ in range(200):
            members = processes.descendants(sh.pid)
            if len(members) == 2:
                break
            time.sleep(0.02)
        assert len(members) == 2
        killed = processes.kill_tree(sh.pid)
        assert sorted(killed) == sorted([sh.pid, *members])
        assert sh.wait(10) == -signal.SIGKILL
        for _ in range(100):  # their parent is gone: init (or a subreaper) reaps them
            if not any(map(_alive, members)):
                break
            time.sleep(0.02)
        assert not any(map(_alive, members))


def test_a_subreaper_adopts_and_kills_a_setsid_grandchild_whose_parent_exited() -> None:
    result = _in_subprocess(
        """
        assert processes.set_subreaper(True) and processes.subreaper()
        daemon = "import os, time\\nif os.fork() == 0:\\n    os.setsid(); time.sleep(60)\\n"
        os.spawnv(os.P_WAIT, sys.executable, [sys.executable, "-c", daemon])
        adopted = processes.children()
        left = processes.reap_leftovers()
        RESULT = {"adopted": adopted, "killed": list(left.killed),
                  "names": list(left.killed.values()), "after": processes.children(),
                  "describe": left.describe()}
        """
    )
    assert len(result["adopted"]) == 1, "the orphaned daemon came to the subreaper"
    assert result["killed"] == result["adopted"]
    assert result["names"] == ["python3"] or result["names"][0].startswith("python")
    assert result["after"] == []
    assert result["describe"] == f"left 1 process running (killed: {result['names'][0]})"


def test_reap_leftovers_reaps_zombies_without_counting_them() -> None:
    result = _in_subprocess(
        """
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        time.sleep(0.2)  # a zombie now
        left = processes.reap_leftovers()
        RESULT = {"found": bool(left), "after": processes.children()}
        """
    )
    assert result == {"found": False, "after": []}


def test_reap_leftovers_with_no_child_finds_nothing_and_is_cheap() -> None:
    left = processes.reap_leftovers()
    assert not left and left.describe() == "left 0 processes running"


def test_a_child_that_cannot_be_killed_is_named_and_not_blamed_twice() -> None:
    result = _in_subprocess(
        """
        processes._signal = lambda pid, sig: True  # as if SIGKILL did not take (state D)
        pid = os.fork()
        if pid == 0:
            time.sleep(60); os._exit(0)
        first = processes.reap_leftovers(timeout=0.2)
        second = processes.reap_leftovers(timeout=0.2, ignore=frozenset(first.survivors))
        os.kill(pid, 9); os.waitpid(pid, 0)
        RESULT = {"pid": pid, "survivors": first.survivors, "killed": list(first.killed),
                  "text": first.describe(), "second": bool(second)}
        """
    )
    assert result["survivors"] == [result["pid"]] and result["killed"] == []
    assert "1 could not be killed" in result["text"]
    assert result["second"] is False


def test_no_core_dumps_zeroes_the_soft_limit_and_keeps_the_hard_one() -> None:
    result = _in_subprocess(
        """
        import resource
        hard = resource.getrlimit(resource.RLIMIT_CORE)[1]
        resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))
        processes.no_core_dumps()
        RESULT = {"limit": resource.getrlimit(resource.RLIMIT_CORE), "hard": hard}
        """
    )
    assert result["limit"] == [0, result["hard"]]
    assert resource.getrlimit(resource.RLIMIT_CORE)[0] == 0, "pytest's own (syscalls.runner)"


def test_without_waitid_leftovers_are_still_found_and_killed() -> None:
    """Where Python has no os.waitid (some BSDs), waitpid does the work."""
    result = _in_subprocess(
        """
        from syscalls.runner import watchdog
        del os.waitid
        pid = os.fork()
        if pid == 0:
            time.sleep(60); os._exit(0)
        live = processes.live_children()
        left = processes.reap_leftovers()
        RESULT = {"pid": pid, "live": list(live), "killed": list(left.killed),
                  "after": processes.children(), "peek": watchdog.peek_exit(pid)}
        """
    )
    assert result["live"] == [result["pid"]] == result["killed"]
    assert result["after"] == [] and result["peek"] is None


def test_default_signal_state_unblocks_all_and_restores_ignored_signals() -> None:
    result = _in_subprocess(
        """
        import signal
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGWINCH})
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGQUIT, signal.SIG_IGN)
        processes.default_signal_state()
        RESULT = {
            "blocked": sorted(signal.pthread_sigmask(signal.SIG_BLOCK, [])),
            "hup": signal.getsignal(signal.SIGHUP) == signal.SIG_DFL,
            "quit": signal.getsignal(signal.SIGQUIT) == signal.SIG_DFL,
            "pipe": signal.getsignal(signal.SIGPIPE) == signal.SIG_IGN,
        }
        """
    )
    assert result == {"blocked": [], "hup": True, "quit": True, "pipe": True}


FORKS = """
import os, sys, threading
from syscalls import processes

hooked = []
os.register_at_fork(after_in_child=lambda: hooked.append(1))  # Python's after-fork work

def child_report():
    r, w = os.pipe()
    pid = processes.fork()
    if pid == 0:
        os.write(w, f"threads={threading.active_count()} hooks={len(hooked)}".encode())
        os._exit(7)
    os.close(w)
    said = os.read(r, 100).decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 7
    return said

print(child_report())
stop = threading.Event()
thread = threading.Thread(target=stop.wait)
thread.start()
print(child_report())
stop.set()
thread.join()
"""


@pytest.mark.skipif(not processes.LINUX, reason="/proc/self/task is Linux's")
def test_fork_skips_pythons_after_fork_work_only_where_no_other_thread_runs() -> None:
    """Alone, libc's fork() without Python's at-fork hooks; beside another thread,
    os.fork(): the hooks run and the child forgets the other thread."""
    p = subprocess.run(
        [sys.executable, "-c", FORKS], capture_output=True, text=True, timeout=60, check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert p.stdout.split("\n")[:2] == ["threads=1 hooks=0", "threads=1 hooks=1"]


@pytest.mark.skipif(not processes.LINUX, reason="PR_SET_PDEATHSIG is Linux's")
def test_die_with_parent_ends_a_child_when_its_parent_exits() -> None:
    r, w = os.pipe()
    middle = os.fork()
    if middle == 0:  # pragma: no cover - the parent that exits once its child is set
        if os.fork() == 0:
            processes.die_with_parent()
            os.write(w, b"ready")
            time.sleep(60)  # holds w open for as long as it lives
            os._exit(0)
        os.read(r, 5)
        os._exit(0)
    os.close(w)
    os.waitpid(middle, 0)
    deadline = time.monotonic() + 10
    ready = select.select([r], [], [], 10)[0]
    assert ready and os.read(r, 64) == b"", "the grandchild outlived its parent"
    os.close(r)
    assert time.monotonic() < deadline


@pytest.mark.skipif(not processes.LINUX, reason="oom_score_adj is Linux's")
def test_first_for_the_oom_killer_raises_the_score_of_this_process_and_its_children() -> None:
    result = _in_subprocess(
        """
        ok = processes.first_for_the_oom_killer()
        pid = os.fork()
        if pid == 0:
            os._exit(int(open("/proc/self/oom_score_adj").read()) == 1000)
        RESULT = {"ok": ok, "child": os.waitpid(pid, 0)[1] >> 8,
                  "own": open("/proc/self/oom_score_adj").read().strip()}
        """
    )
    assert result == {"ok": True, "child": 1, "own": "1000"}


def test_signals_are_named_real_time_ones_from_sigrtmin() -> None:
    assert processes.signal_name(signal.SIGUSR2) == "SIGUSR2"
    assert processes.signal_name(signal.SIGRTMIN) == "SIGRTMIN"
    assert processes.signal_name(signal.SIGRTMIN + 3) == "SIGRTMIN+3"
    assert processes.signal_name(0) == "signal 0"
