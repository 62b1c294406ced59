"""syscalls.mountinfo: /proc/PID/mountinfo's lines as Mounts."""

from __future__ import annotations

from pathlib import Path

import pytest

from syscalls import mountinfo
from syscalls.mountinfo import Mount

TEXT = """\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro
24 22 0:21 / /dev/shm rw,nosuid,nodev shared:3 master:2 - tmpfs tmpfs rw
25 22 0:22 / /tmp/my\\040dir ro - tmpfs my\\011source rw,size=4k
not a mount line
x 22 0:23 / /bad rw - tmpfs tmpfs rw
26 22 0:24 / /no-separator rw shared:5 tmpfs tmpfs rw
"""


def test_each_well_formed_line_is_a_mount_in_the_files_order() -> None:
    found = mountinfo.parse(TEXT)
    assert [m.id for m in found] == [22, 24, 25]
    assert found[0] == Mount(
        22,
        1,
        "/",
        "ext4",
        frozenset({"rw", "relatime"}),
        "/dev/sda1",
        "rw,errors=remount-ro",
        "shared:1",
    )


def test_optional_fields_are_the_propagation_and_none_is_private() -> None:
    by_point = {m.point: m for m in mountinfo.parse(TEXT)}
    assert by_point["/dev/shm"].propagation == "shared:3 master:2"
    assert by_point["/tmp/my dir"].propagation == ""


def test_octal_escapes_in_paths_are_undone() -> None:
    mount = mountinfo.parse(TEXT)[2]
    assert (mount.point, mount.source) == ("/tmp/my dir", "my\tsource")
    assert str(mount) == "tmpfs on /tmp/my dir"


def test_an_unreadable_file_is_none(tmp_path: Path) -> None:
    assert mountinfo.read(tmp_path / "absent") is None


def test_this_processes_table_has_a_root_and_proc() -> None:
    if not mountinfo.SELF.exists():
        pytest.skip("no /proc/self/mountinfo here (not Linux)")
    found = mountinfo.read()
    assert found is not None
    points = {m.point: m for m in found}
    assert "/" in points and points["/proc"].type == "proc"
