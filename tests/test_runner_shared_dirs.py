"""A user's test that leaves files, FIFOs, sockets or shared memory in /tmp or /dev/shm,
or System V IPC objects, fails, naming them, and they are removed
(syscalls.runner.shared_dirs)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from syscalls.runner import shared_dirs, sysv
from tests.runner_checks import ROOT, junit_cases, junit_message

CASE = ROOT / "tests" / "data" / "shared_dirs_case.py"
# A user of its own, not nobody: a process of the user that is not the run's (another
# test's run as nobody, beside this one) turns the check off (shared_dirs.strangers).
USER = 64000 + os.getpid() % 1000


def _system_v(uid: int) -> list[str]:
    """The System V IPC objects of the user `uid` (their lines in /proc/sysvipc)."""
    found = []
    for kind, cuid in (("shm", 9), ("sem", 6), ("msg", 9)):
        for line in Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]:
            if int(line.split()[cuid]) == uid:
                found.append(f"{kind} {line.split()[1]}")
    return found


def _leftovers(name: str) -> list[str]:
    return glob.glob(f"/tmp/{name}-*") + glob.glob(f"/dev/shm/{name}-*")


@pytest.mark.parametrize("workers", ["0", "1"])
def test_what_a_users_test_leaves_in_tmp_and_dev_shm_fails_it_and_is_removed(
    workers: str,
) -> None:
    # Nothing looked: the files stayed on the host, and the next run's test of the
    # same name met EEXIST.
    name = f"syscalls-shared-dirs-{os.getpid()}-{workers}"
    out = Path(tempfile.mkdtemp(prefix=f"{name}-out-"))  # before the run: not its test's
    root = os.geteuid() == 0
    if not root and shared_dirs.strangers(os.getpid(), os.geteuid()):
        pytest.skip("this user runs processes besides this test's: the check is off")
    if root:
        os.chown(out, USER, USER)
    junit = out / "junit.xml"
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
            "--workers", workers, f"--junitxml={junit}", f"--basetemp={out}/base",
            str(CASE)]  # fmt: skip
    prefix = ["setpriv", f"--reuid={USER}", f"--regid={USER}", "--clear-groups"] if root else []
    uid = USER if root else os.geteuid()
    before = set(_system_v(uid))  # the user's own, not the run's
    try:
        p = subprocess.run(
            [*prefix, *argv], cwd=ROOT, capture_output=True, text=True, timeout=120,
            env={**os.environ, "HOME": str(out), "SHARED_DIRS_CASE": name}, check=False,
        )  # fmt: skip
        assert junit.exists(), p.stdout[-3000:] + p.stderr[-2000:]
        cases = junit_cases(junit)
        left = [f for f in _leftovers(name) if not f.startswith(str(out))]
        ipc = [o for o in _system_v(uid) if o not in before]
    finally:
        sysv.remove([o for o in _system_v(uid) if o not in before])  # IPC_RMID
        for path in _leftovers(name):  # what the run did not remove, for the next
            if os.path.isdir(path) and not os.path.islink(path):
                subprocess.run(["chmod", "-R", "u+rwx", path], check=False)
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
    assert left == []
    assert ipc == []  # what the run did not remove (IPC_RMID) stays till a reboot
    expected = {
        "test_leaves_a_file_in_tmp": [f"/tmp/{name}-file (a file), removed"],
        "test_leaves_a_fifo_and_a_socket_in_tmp": [
            f"/tmp/{name}-fifo (a FIFO), removed",
            f"/tmp/{name}-sock (a unix socket), removed",
        ],
        "test_leaves_shared_memory": [f"/dev/shm/{name}-shm (a file), removed"],
        "test_leaves_a_directory_it_cannot_read": [f"/tmp/{name}-dir (a directory), removed"],
    }
    for test, paths in expected.items():
        message = junit_message(cases[test]) or ""
        assert "behind: a test writes only in its own" in message, (test, p.stdout[-3000:])
        for path in paths:
            assert path in message, (test, message)
    for test, kind in (("shm", "shm"), ("semaphores", "sem"), ("message_queue", "msg")):
        message = junit_message(cases[f"test_leaves_a_system_v_{test}"]) or ""
        assert f"a System V {kind}, key 0x0" in message and ", removed" in message, message
    passing = ("test_removes_what_it_made", "test_removes_its_system_v_shm")
    for test in (*passing, "test_uses_a_module_fixture", "test_after"):
        assert junit_message(cases[test]) is None, (test, p.stdout[-3000:])
