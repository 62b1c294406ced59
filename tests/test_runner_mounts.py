"""syscalls.runner.mounts: the poll that says the mount table changed, and what a test
left mounted, named and undone. What mounts runs in a forked child (syscalls.child)
that has entered namespaces of its own first (syscalls.runner.namespaces)."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import pytest

from syscalls import child
from syscalls.mountinfo import Mount
from syscalls.runner import mounts, namespaces

ROOT = Mount(1, 0, "/", "ext4", frozenset({"rw"}), "/dev/sda1", "rw", "")
SHM = Mount(2, 1, "/dev/shm", "tmpfs", frozenset({"rw", "nodev"}), "tmpfs", "rw", "")

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mounts)")


def _namespace() -> int:
    return os.stat("/proc/self/ns/mnt").st_ino


def test_an_unchanged_table_shows_as_it_was() -> None:
    assert mounts.differences((ROOT, SHM), (ROOT, SHM)) == "as they were"


def test_added_removed_and_remounted_mounts_are_each_named() -> None:
    new = Mount(3, 1, "/mnt/x", "tmpfs", frozenset({"rw"}), "none", "rw", "")
    remounted = SHM._replace(options=frozenset({"ro", "nodev"}))
    shown = mounts.differences((ROOT, SHM), (ROOT._replace(propagation="shared:1"), new))
    assert (
        shown
        == "+tmpfs on /mnt/x, -tmpfs on /dev/shm, ~ext4 on / (rw rw private -> rw rw shared:1)"
    )
    assert "~tmpfs on /dev/shm (nodev,rw rw private -> nodev,ro rw private)" in mounts.differences(
        (SHM,), (remounted,)
    )
    moved = SHM._replace(point="/run/shm")
    assert mounts.differences((SHM,), (moved,)) == "~tmpfs on /dev/shm -> tmpfs on /run/shm"


def test_only_mounts_with_new_ids_are_added() -> None:
    new = Mount(3, 1, "/dev/shm", "tmpfs", frozenset({"rw"}), "none", "rw", "")
    assert mounts.added((ROOT, SHM), (ROOT, SHM._replace(options=frozenset()), new)) == [new]


def _mount_then_unmount(directory: str) -> list[object]:
    assert "mnt" in namespaces.contain()
    table, seen = mounts.Table(), []
    seen.append(table.changed())
    before = mounts.read()
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.mount(b"none", directory.encode(), b"tmpfs", 0, None) == 0, ctypes.get_errno()
    seen.append(table.changed())
    seen.append(table.changed())  # once per change
    after = mounts.read()
    assert before is not None and after is not None
    left = mounts.added(before, after)
    seen.append([str(m) for m in left])
    mounts.unmount(left)
    seen.append(os.path.ismount(directory))
    os.close(table.fd or -1)  # a test closed it: reopened, and still watching
    seen.append(table.changed())
    assert libc.mount(b"none", directory.encode(), b"tmpfs", 0, None) == 0
    seen.append(table.changed())
    return seen


@needs_root
def test_a_mount_is_seen_in_one_poll_named_and_unmounted(tmp_path: Path) -> None:
    seen = child.run(lambda: _mount_then_unmount(str(tmp_path)))
    assert seen == [0, 1, 1, [f"tmpfs on {tmp_path}"], False, 1, 2]
    assert not tmp_path.is_mount()
