"""syscalls.tempdirs: where `tmp` makes the tests' private directories."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from syscalls import tempdirs
from syscalls.tempdirs import fast_temp_dir, file_system_type

MOUNTINFO = """\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
23 22 0:5 / /dev rw,nosuid shared:2 - devtmpfs udev rw
24 23 0:21 / /dev/shm rw,nosuid,nodev shared:3 - tmpfs tmpfs rw
25 22 0:22 / /tmp/my\\040dir rw shared:4 - tmpfs tmpfs rw
26 22 0:23 / /tmp/my\\040dir/disk rw shared:5 - xfs /dev/sdb1 rw
"""


@pytest.fixture
def mountinfo(tmp_path: Path) -> Path:
    path = tmp_path / "mountinfo"
    path.write_text(MOUNTINFO)
    return path


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/", "ext4"),
        ("/dev/shm", "tmpfs"),
        ("/dev/shm/a/b", "tmpfs"),
        ("/dev/shmx", "devtmpfs"),  # a sibling whose name begins the same is not inside
        ("/tmp/my dir/x", "tmpfs"),  # \040 in mountinfo is a blank
        ("/tmp/my dir/disk/f", "xfs"),  # the innermost mount point wins
        ("/tmp", "ext4"),
    ],
)
def test_file_system_type_is_the_innermost_mounts(mountinfo: Path, path: str, kind: str) -> None:
    assert file_system_type(Path(path), mountinfo) == kind


def test_file_system_type_without_mountinfo_is_none(tmp_path: Path) -> None:
    assert file_system_type(Path("/"), tmp_path / "absent") is None


def test_file_system_type_of_this_machines_proc() -> None:
    if not Path("/proc/self/mountinfo").exists():
        pytest.skip("no /proc/self/mountinfo here")
    assert file_system_type(Path("/proc/self")) == "proc"


def _types(monkeypatch: pytest.MonkeyPatch, kinds: dict[str, str | None]) -> None:
    monkeypatch.setattr(tempdirs, "file_system_type", lambda p: kinds.get(str(p)))


def test_fast_temp_dir_prefers_a_tmpfs_tmpdir(monkeypatch: pytest.MonkeyPatch) -> None:
    _types(monkeypatch, {tempfile.gettempdir(): "tmpfs", "/dev/shm": "tmpfs"})
    assert fast_temp_dir() == tempfile.gettempdir()


def test_fast_temp_dir_takes_shared_memory_over_a_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    _types(monkeypatch, {tempfile.gettempdir(): "ext4", "/dev/shm": "tmpfs"})
    monkeypatch.setattr(os, "access", lambda p, mode: True)
    assert fast_temp_dir() == "/dev/shm"


def test_fast_temp_dir_keeps_tmpdir_when_shared_memory_is_not_writable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _types(monkeypatch, {tempfile.gettempdir(): "ext4", "/dev/shm": "tmpfs"})
    monkeypatch.setattr(os, "access", lambda p, mode: False)
    assert fast_temp_dir() == tempfile.gettempdir()


def test_fast_temp_dir_keeps_tmpdir_when_shared_memory_is_no_tmpfs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _types(monkeypatch, {tempfile.gettempdir(): "ext4", "/dev/shm": "ext4"})
    assert fast_temp_dir() == tempfile.gettempdir()
    _types(monkeypatch, {})  # no mountinfo at all
    assert fast_temp_dir() == tempfile.gettempdir()
