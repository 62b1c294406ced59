"""A whole suite run leaves the host as it found it: no files, processes, mounts, IPC
objects (SysV, POSIX message queues), keys or changed limits, as root and as an
unprivileged user.

The suite runs in a subprocess whose environment carries a marker; every process it
ever forks inherits it, so survivors are found by their /proc/PID/environ.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from tests.runner_checks import marked

ROOT = Path(__file__).resolve().parent.parent
SHARED_TEMP = (Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"))
# What the library's own tests and targets make there while this runs beside them
# (gvisor's and UML's private directories, the compare runs, this test's own home);
# the suites under test keep to their TMPDIR and never use the name.
OURS = "syscalls-"
SYSV = ("/proc/sysvipc/shm", "/proc/sysvipc/sem", "/proc/sysvipc/msg")

pytestmark = [pytest.mark.slow, pytest.mark.os("linux")]


def _entries(paths: tuple[Path, ...]) -> set[str]:
    return {str(p) for d in paths if d.is_dir() for p in d.iterdir() if not p.name.startswith(OURS)}


def _sysv() -> set[str]:
    found = set()
    for path in SYSV:
        if os.path.exists(path):
            found |= {f"{path}: {ln.split()[1]}" for ln in Path(path).read_text().splitlines()[1:]}
    return found


def _mqueues() -> set[str]:
    """POSIX message queues of this IPC namespace, by name: /dev/mqueue where mounted,
    else (as root) an mqueue mount of its own in a throwaway mount namespace."""
    mounted = Path("/dev/mqueue")
    if mounted.is_dir() and os.path.ismount(mounted):
        return {p.name for p in mounted.iterdir()}
    if os.geteuid() != 0:
        return set()
    with tempfile.TemporaryDirectory(prefix=f"{OURS}mqueue-") as where:
        listing = subprocess.run(
            ["unshare", "--mount", "sh", "-c", f"mount -t mqueue none {where} && ls -A {where}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return set(listing.split())


def _keys() -> set[str]:
    """Keys held per user (/proc/key-users: "uid: usage nkeys/nikeys ..."), as uid:count
    entries, so that a user holding more keys than before shows as a new entry."""
    path = Path("/proc/key-users")
    if not path.exists():
        return set()
    found = set()
    for line in path.read_text().splitlines():
        uid, _, rest = line.partition(":")
        nkeys = int(rest.split()[1].split("/")[0])
        found |= {f"uid {uid.strip()}: key {i + 1}" for i in range(nkeys)}
    return found


def _limits() -> dict[str, tuple[int, int]]:
    names = [n for n in dir(resource) if n.startswith("RLIMIT_")]
    return {n: resource.getrlimit(getattr(resource, n)) for n in names}


def _snapshot() -> dict[str, object]:
    return {
        "mounts": Path("/proc/self/mountinfo").read_text(),
        "hostname": Path("/proc/sys/kernel/hostname").read_text(),
        "domainname": Path("/proc/sys/kernel/domainname").read_text(),
        "limits": _limits(),
        "repo": subprocess.run(
            ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout,
    }


def _user(prefix: list[str]) -> str:
    import pwd

    return pwd.getpwuid(65534 if prefix else os.getuid()).pw_name


def _settled_new(before: set[str], probe) -> set[str]:
    """What appeared and is still there once concurrently running tests tidy up."""
    new = probe() - before
    deadline = time.monotonic() + 10
    while new and time.monotonic() < deadline:
        time.sleep(0.5)
        new &= probe()
    return new


@pytest.mark.parametrize("user", ["this user", "nobody"])
def test_suite_run_leaves_nothing_behind(user: str) -> None:
    prefix: list[str] = []
    if user == "nobody":
        if os.geteuid() != 0:
            pytest.skip("running the suite as another user needs root")
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    # Not under tmp_path: pytest's base is 0700, so `nobody` could not reach it and
    # tempfile would quietly fall back to /tmp, the very place this test watches.
    with tempfile.TemporaryDirectory(prefix=f"{OURS}leaks-", dir="/tmp") as private_dir:
        private = Path(private_dir)
        private.chmod(0o1777)
        _run_and_check(prefix, private)


def _run_and_check(prefix: list[str], private: Path) -> None:
    marker = f"SYSCALLS_LEAK_MARK={uuid.uuid4()}"
    env = {
        **os.environ,
        "TMPDIR": str(private),
        "HOME": str(private),
        "PYTHONDONTWRITEBYTECODE": "1",
        "SYSCALLS_LEAK_MARK": marker.split("=", 1)[1],
    }
    before, temp_before, sysv_before = _snapshot(), _entries(SHARED_TEMP), _sysv()
    mq_before, keys_before = _mqueues(), _keys()

    proc = subprocess.run(
        [
            *prefix,
            sys.executable,
            "-m",
            "pytest",
            "suites",
            "-q",
            "-p",
            "no:cacheprovider",
            "-n",
            "2",
            "-x",
            "--no-header",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    assert marked(marker.split("=", 1)[1]) == [], "processes outlived the run"
    # pytest's own base directory for tmp_path (pytest-of-USER) may stay, holding nothing.
    assert {p.name for p in private.iterdir()} == {f"pytest-of-{_user(prefix)}"}
    assert [p for p in private.rglob("*") if not p.is_dir()] == [], "files left behind"
    assert _settled_new(temp_before, lambda: _entries(SHARED_TEMP)) == set()
    assert _settled_new(sysv_before, _sysv) == set(), "SysV IPC objects left behind"
    assert _settled_new(mq_before, _mqueues) == set(), "POSIX message queues left behind"
    assert _settled_new(keys_before, _keys) == set(), "keys left behind"
    assert _snapshot() == before
