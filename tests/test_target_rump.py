"""--target rump against a real NetBSD rump kernel: the in-process run of the suites,
PAD slots, NetBSD errnos, the tmpfs the tests write in, and a clean process exit.

The kernel is not packaged anywhere reachable: these run where $SYSCALLS_RUMP_DIR names
a buildrump.sh build (ci/build-rump) or this repository's CI keeps one beside the
checkout (../shared/rump/lib), and skip, saying so, elsewhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from syscalls.targets.rump import SHARED_BUILD, default_directory

ROOT = Path(__file__).resolve().parent.parent
RUMP_DIR = str(default_directory() or "")
pytestmark = pytest.mark.skipif(
    not RUMP_DIR,
    reason=f"no rump kernel here: set SYSCALLS_RUMP_DIR to a ci/build-rump build "
    f"(none at {SHARED_BUILD} either)",
)


def _in_child_python(
    code: str, prefix: list[str] | None = None, **popen: object
) -> subprocess.CompletedProcess:
    """A fresh interpreter (started through `prefix`, setpriv say): one rump kernel per
    process, booted by the code. Its stdout is what the code prints: the rump kernel's
    console (which now and then reports a failed statistical test of its entropy pool)
    goes to stderr."""
    prelude = (
        "import os, sys\n"
        "sys.stdout = os.fdopen(os.dup(1), 'w')\n"
        "os.dup2(2, 1)\n"
        "from syscalls.abi import Platform\n"
        "from syscalls.targets.rump import RumpKernel\n"
        f"k = RumpKernel(Platform.load('netbsd/amd64'), {RUMP_DIR!r})\n"
    )
    return subprocess.run(
        [*(prefix or []), sys.executable, "-c", prelude + code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        **popen,  # type: ignore[call-overload]
    )


def test_calls_reach_netbsd_with_pads_filled_and_netbsd_errnos() -> None:
    proc = _in_child_python(
        "t = k.private_directory()\n"
        "fd = k.openat(k.AT_FDCWD, t / 'f', k.O_CREAT | k.O_RDWR, 0o600).unwrap()\n"
        "print(k.lseek(fd, 1 << 40, k.SEEK_SET).unwrap())\n"  # lseek(fd, PAD, off, whence)
        "print(k.openat(k.AT_FDCWD, t / 'absent', k.O_RDONLY).outcome)\n"
        "k.symlinkat('f', k.AT_FDCWD, t / 'l').unwrap()\n"
        "print(k.openat(k.AT_FDCWD, t / 'l', k.O_RDONLY | k.O_NOFOLLOW).outcome)\n"
        "ts = k.new('struct timespec *', (0, 2_000_000_000))\n"
        "print(k.clock_nanosleep(k.CLOCK_MONOTONIC, 0, ts, None).outcome)\n"
    )
    assert proc.returncode == 0, proc.stderr
    # EFTYPE: NetBSD's own answer; clock_nanosleep's error arrives as its value there.
    assert proc.stdout.split() == [str(1 << 40), "ENOENT", "EFTYPE", "EINVAL"]


def test_tests_write_on_tmpfs_not_the_host() -> None:
    proc = _in_child_python(
        "t = k.private_directory()\n"
        "(t / 'f').write_bytes(b'in rump')\n"
        "import os\n"
        "print(os.path.exists(str(t / 'f')), (t / 'f').read_bytes().decode())\n"
        "(t / 'g').hardlink_to(t / 'f')\n"  # rumpfs, the root, has no link: this is tmpfs
        "print((t / 'f').stat().st_nlink)\n"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "in", "rump", "2"]


def test_closing_suite_fds_leaves_the_hosts_alone() -> None:
    proc = _in_child_python(
        "import os\n"
        "r, w = os.pipe()\n"  # host fds 3 and 4 (or near): the same numbers rump hands out
        "pair = k.new('int[2]')\n"
        "k.pipe2(pair, 0).unwrap()\n"
        "for fd in (pair[0], pair[1], r, w):\n"
        "    k.close_quietly(fd)\n"
        "os.write(w, b'x')\n"
        "print(os.read(r, 1).decode())\n"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["x"]


def test_the_whole_suite_runs_on_the_rump_kernel_without_rump_dir(tmp_path: Path) -> None:
    # No --rump-dir: the CLI takes $SYSCALLS_RUMP_DIR or ../shared/rump/lib, as the tests
    # here do. -n 0: one in-process kernel, no worker start-up (the run is ~1 s of CPU).
    out = tmp_path / "out"
    command = [sys.executable, "-m", "syscalls.cli", "run", "--target", "rump", "-n", "0"]
    proc = subprocess.run(
        [*command, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    assert int(suite.get("failures", 0)) == int(suite.get("errors", 0)) == 0
    profile = json.loads((out / "profile.json").read_text())
    assert (profile["platform"], profile["target"]) == ("netbsd/amd64", "rump")
    assert profile["kernel"] == "7.99.34"
    outcomes = {t: e["outcome"] for t, e in profile["tests"].items()}
    assert len(outcomes) == int(suite.get("tests", 0)) > 1000  # the whole suite, collected
    passed = {t for t, o in outcomes.items() if o == "passed"}
    assert len(passed) >= 250
    for area in ("fs", "ipc", "events", "net", "time"):  # what a rump kernel hosts
        assert any(t.startswith(f"suites/{area}/") for t in passed), area
    assert any(t.startswith("suites/events/test_kqueue.py::") for t in passed)
    reasons = {e.get("reason", "") for e in profile["tests"].values() if e["outcome"] == "skipped"}
    assert "" not in reasons  # every skip says why
    assert any("runs inside this process" in r for r in reasons)


def test_the_rump_process_runs_as_this_processs_user(tmp_path: Path) -> None:
    # The suites expect a user's answers (EACCES) from the host's ids; rump starts as
    # root. As root, the check runs the child as nobody (setpriv), as CI runs as root.
    code = (
        "t = k.private_directory()\n"
        "r = k.openat(k.AT_FDCWD, t / 'f', k.O_CREAT | k.O_WRONLY, 0o200).unwrap()\n"
        "ids = (k.geteuid().value, k.getegid().value, os.geteuid(), os.getegid())\n"
        "g = k.new('uint32_t[64]')\n"
        "n = k.getgroups(64, g).unwrap()\n"
        "listed = os.getegid() in list(g)[:n]\n"
        "print(*ids, k.openat(k.AT_FDCWD, t / 'f', k.O_RDONLY).outcome, listed)\n"
    )
    as_user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    prefix = as_user if os.geteuid() == 0 else []
    proc = _in_child_python(code, prefix, env={**os.environ, "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    rump_uid, rump_gid, uid, gid, reopen, listed = proc.stdout.split()
    assert (rump_uid, rump_gid) == (uid, gid) != ("0", "0")
    assert reopen == "EACCES"  # a write-only file, read by its (non-root) owner
    # Linux counts the egid as a group the process is in; NetBSD only its group list:
    # the egid is listed (with --clear-groups there is nothing else).
    assert listed == "True"


def test_the_release_is_the_rump_kernels() -> None:
    proc = _in_child_python("print(k.release())")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "7.99.34"
