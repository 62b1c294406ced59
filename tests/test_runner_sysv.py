"""The System V IPC objects a test leaves (syscalls.runner.sysv): named and removed where
the process that runs tests has an IPC namespace of its own (root)."""

from __future__ import annotations

import ctypes
from pathlib import Path

import pytest

from syscalls import child, processes
from syscalls.runner import sysv
from tests.runner_checks import clean, in_a_worker

pytestmark = pytest.mark.os("linux")

CLONE_NEWIPC = 0x08000000  # linux/sched.h
IPC_CREAT = 0o1000
_HEADER = b"key shmid perms size cpid lpid nattch uid gid cuid cgid atime dtime ctime rss swap"
SHM = b"\n".join(
    (
        b"       " + _HEADER,
        b"  0 3899407 600  4096 14912 0 0 65534 65534 65534 65534 0 0 0 0 0",
        b" -98765432 12 600 65536 100 0 0 0 0 0 0 0 0 0 0 0",
    )
)


def test_a_listing_names_each_object_by_kind_and_id() -> None:
    assert sysv.parse("shm", SHM) == {
        "shm 3899407": "key 0x0, 4096 bytes",
        "shm 12": "key 0xfa1cf588, 65536 bytes",  # the key as C's key_t holds it
    }
    assert sysv.parse("msg", b"header only\n") == {}


def test_a_listing_gives_each_objects_creator_and_change_time() -> None:
    found = sysv.objects("shm", SHM)
    assert found["shm 3899407"] == ("key 0x0, 4096 bytes", 65534, 0)
    short = sysv.objects("sem", b"header\n 0 7 600 1\n")
    assert short == {"sem 7": ("key 0x0, 1 semaphores", None, None)}  # columns missing


@pytest.mark.root
def test_the_objects_of_a_namespace_are_read_and_removed() -> None:
    def run() -> tuple[dict[str, str] | None, dict[str, str] | None]:
        libc = processes.LIBC
        assert libc.unshare(CLONE_NEWIPC) == 0  # a namespace of this child's own
        shm = libc.shmget(0x1234, 4096, IPC_CREAT | 0o600)
        sem = libc.semget(0, 2, IPC_CREAT | 0o600)
        msg = libc.msgget(0, IPC_CREAT | 0o600)
        assert min(shm, sem, msg) >= 0, ctypes.get_errno()
        found = sysv.read()
        sysv.remove(list(found or {}))
        return found, sysv.read()

    found, after = child.run(run)
    assert found is not None and len(found) == 3, found
    assert {name.split()[0] for name in found} == {"shm", "sem", "msg"}
    assert "key 0x1234, 4096 bytes" in found.values()
    assert after == {}


LEAVES = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)

def test_a_leaves_a_segment():
    assert libc.shmget(0x5ca1ab1e, 4096, 0o1600) >= 0

def test_b_takes_that_key_afresh():
    assert libc.shmget(0x5ca1ab1e, 4096, 0o3600) >= 0, ctypes.get_errno()  # IPC_EXCL
    libc.shmctl(libc.shmget(0x5ca1ab1e, 4096, 0o600), 0, None)
"""


@pytest.mark.root
def test_a_segment_a_test_left_fails_it_and_is_removed(tmp_path: Path) -> None:
    p, cases = in_a_worker(tmp_path, "test_leaves.py", LEAVES)
    error = cases["test_a_leaves_a_segment"].find("error")
    assert error is not None, p.stdout[-3000:]
    assert "System V IPC objects: as they were -> +shm " in (error.get("message") or "")
    assert "(key 0x5ca1ab1e, 4096 bytes)" in (error.get("message") or "")
    assert clean(cases["test_b_takes_that_key_afresh"]), p.stdout[-3000:]
