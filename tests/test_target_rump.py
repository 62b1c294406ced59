"""--target rump against a real NetBSD rump kernel: the in-process run of the suites,
PAD slots, NetBSD errnos, the tmpfs the tests write in, and a clean process exit.

The kernel is not packaged anywhere reachable: these run where $SYSCALLS_RUMP_DIR names
a buildrump.sh build (ci/build-rump), and skip, saying so, elsewhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUMP_DIR = os.environ.get("SYSCALLS_RUMP_DIR")
pytestmark = pytest.mark.skipif(
    not RUMP_DIR, reason="no rump kernel here: set SYSCALLS_RUMP_DIR to a ci/build-rump build"
)


def _in_child_python(code: str) -> subprocess.CompletedProcess:
    """A fresh interpreter: one rump kernel per process, booted by the code."""
    prelude = (
        "from syscalls.abi import Platform\n"
        "from syscalls.targets.rump import RumpKernel\n"
        f"k = RumpKernel(Platform.load('netbsd/amd64'), {RUMP_DIR!r})\n"
    )
    return subprocess.run(
        [sys.executable, "-c", prelude + code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
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


def test_syscalls_run_target_rump_runs_the_suites_in_process(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "syscalls.cli", "run", "--target", "rump"),
            *("--out", str(out), "-n", "0", "suites/fs/test_openat.py", "suites/ipc/test_pipe.py"),
        ],
        cwd=ROOT,
        env={**os.environ, "SYSCALLS_RUMP_DIR": RUMP_DIR or ""},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    passed = int(suite.get("tests", 0)) - int(suite.get("skipped", 0))
    assert passed >= 20 and int(suite.get("failures", 0)) == 0
    profile = json.loads((out / "profile.json").read_text())
    assert (profile["platform"], profile["target"]) == ("netbsd/amd64", "rump")
    assert profile["kernel"] == "7.99.34"
    skips = [c.find("skipped") for c in suite.iter("testcase")]
    assert all(s.get("message") for s in skips if s is not None)  # every skip says why


def test_the_release_is_the_rump_kernels() -> None:
    proc = _in_child_python("print(k.release())")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "7.99.34"
