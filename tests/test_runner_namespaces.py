"""syscalls.runner.namespaces: as root the process that runs tests has mount (every
mount private), UTS and IPC namespaces of its own; as a user nothing changes. Each
check runs in a forked child (syscalls.child)."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import pytest

from syscalls import child, mountinfo
from syscalls.runner import namespaces
from tests.runner_checks import junit_cases, pytest_in

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces)")
KINDS = ("mnt", "uts", "ipc")


def _inodes() -> dict[str, int]:
    return {kind: os.stat(f"/proc/self/ns/{kind}").st_ino for kind in KINDS}


def _contain_as_nobody() -> tuple[frozenset[str], bool]:
    if os.geteuid() == 0:
        os.setgid(65534)
        os.setuid(65534)
    before = _inodes()
    return namespaces.contain(), _inodes() == before


def test_without_root_nothing_is_contained_and_nothing_changes() -> None:
    assert child.run(_contain_as_nobody) == (frozenset(), True)


def _contain() -> tuple[frozenset[str], list[str], list[str]]:
    before = _inodes()
    entered = namespaces.contain()
    now = _inodes()
    shared = [m.point for m in mountinfo.read() or () if "shared:" in m.propagation]
    return entered, [kind for kind in KINDS if now[kind] != before[kind]], shared


@needs_root
def test_root_gets_mount_uts_and_ipc_namespaces_with_every_mount_private() -> None:
    entered, changed, shared = child.run(_contain)
    assert entered == frozenset(KINDS)
    assert changed == list(KINDS)
    assert shared == []


SIZE = 12345  # an odd size for the segment, to be looked for among the host's


def _name_and_segment_inside() -> tuple[str, list[int]]:
    assert namespaces.contain() == frozenset(KINDS)
    name = b"syscalls-contained"
    assert ctypes.CDLL(None).sethostname(name, len(name)) == 0
    libc = ctypes.CDLL(None, use_errno=True)
    segment = libc.shmget(0, SIZE, 0o1600)  # IPC_PRIVATE, IPC_CREAT | 0600, left there
    assert segment >= 0, ctypes.get_errno()
    return os.uname().nodename, _segment_sizes()


def _segment_sizes() -> list[int]:
    lines = Path("/proc/sysvipc/shm").read_text().splitlines()[1:]
    return [int(line.split()[3]) for line in lines]  # key shmid perms size ...


@needs_root
def test_a_name_set_and_an_ipc_object_left_stay_inside() -> None:
    host = os.uname().nodename
    inside, sizes_inside = child.run(_name_and_segment_inside)
    assert inside == "syscalls-contained" and os.uname().nodename == host
    assert SIZE in sizes_inside and SIZE not in _segment_sizes()


NAMING = """
import ctypes, os

def test_a_names_the_host():
    name = b"syscalls-leaked-name"
    assert ctypes.CDLL(None).sethostname(name, len(name)) == 0

def test_b_after():
    assert os.uname().nodename != "syscalls-leaked-name"
"""


@needs_root
@pytest.mark.parametrize("workers", [["--workers", "1"], []], ids=["forked", "in-process"])
def test_a_host_name_a_test_sets_fails_it_is_put_back_and_never_reaches_the_host(
    tmp_path: Path, workers: list[str]
) -> None:
    host = os.uname().nodename
    (tmp_path / "test_naming.py").write_text(NAMING)
    junit = tmp_path / "junit.xml"
    p = pytest_in(tmp_path, *workers, f"--junitxml={junit}", "test_naming.py")
    assert os.uname().nodename == host
    cases = junit_cases(junit)
    error = cases["test_a_names_the_host"].find("error")
    assert error is not None, p.stdout[-3000:]
    message = error.get("message") or ""
    assert "host and domain names" in message and "syscalls-leaked-name" in message
    assert "(put back)" in message
    assert cases["test_b_after"].find("failure") is None, p.stdout[-3000:]
