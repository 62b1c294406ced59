"""--target rump: the clear errors where librump is absent (it is not packaged here), the
loader's handling of a library that is not a rump kernel, and the argument block
rump_syscall takes, built from NetBSD's own syscalls.master entries.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from syscalls.abi import Platform
from syscalls.cli import main
from syscalls.tables.syscalls_master import parse
from syscalls.targets import rump

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data" / "bsd" / "netbsd/sys/kern/syscalls.master"
REFERENCE = Path(__file__).resolve().parent.parent.parent / "shared/reference/netbsd"


def entries(path: Path = DATA):
    return {e.name: e for e in parse(path.read_text(errors="replace"), "netbsd")}


def pads(entry) -> list[int]:
    return [i for i, a in enumerate(entry.args) if a.is_pad]


def slots(block: bytes) -> list[int]:
    return [
        int.from_bytes(block[i : i + 8], "little", signed=True) for i in range(0, len(block), 8)
    ]


def test_marshal_one_slot_per_argument():
    block = rump.marshal("read", [], [3, 0x7F00_1234_5678, 100])
    assert len(block) == 3 * 8
    assert slots(block) == [3, 0x7F00_1234_5678, 100]


def test_marshal_inserts_netbsd_pad_slots():
    # lseek(int fd, int PAD, off_t offset, int whence): four slots for three arguments.
    block = rump.marshal("lseek", pads(entries()["lseek"]), [5, 1 << 40, 2])
    assert slots(block) == [5, 0, 1 << 40, 2]


def test_marshal_negative_values_fill_the_slot():
    block = rump.marshal("read", [], [-1, 0, 0])
    assert block[:8] == b"\xff" * 8


def test_marshal_checks_the_pad_position_and_width():
    with pytest.raises(TypeError, match="lseek takes at least 1 arguments before its PAD"):
        rump.marshal("lseek", [1], [])
    with pytest.raises(OverflowError):
        rump.marshal("read", [], [1 << 64, 0, 0])


def test_marshal_with_the_committed_tables_padding():
    # The table's [padding] is what the rump kernel needs: mmap's PAD is its sixth slot.
    p = Platform.load("netbsd/amd64")
    assert slots(rump.marshal("mmap", p.padding["mmap"], [0, 4096, 3, 0x1002, -1, 0])) == [
        0,
        4096,
        3,
        0x1002,
        -1,
        0,
        0,
    ]
    upstream = REFERENCE / "syscalls.master"
    if upstream.is_file():
        assert p.padding["mmap"] == pads(entries(upstream)["mmap"])


def test_no_rump_dir_says_how_to_get_one():
    with pytest.raises(rump.RumpUnavailable, match=r"needs --rump-dir.*not packaged"):
        rump.find_libraries(None)


def test_missing_directory(tmp_path):
    with pytest.raises(rump.RumpUnavailable, match="no such directory"):
        rump.find_libraries(tmp_path / "absent")


def test_directory_without_librump(tmp_path):
    with pytest.raises(rump.RumpUnavailable, match=r"no librumpuser\.so there"):
        rump.find_libraries(tmp_path)


def test_libraries_found_in_load_order(tmp_path):
    for name in ("librump.so.0", "librumpvfs.so", "librumpuser.so.0.1"):
        (tmp_path / name).write_bytes(b"")
    found = [p.name for p in rump.find_libraries(tmp_path)]
    assert found == ["librumpuser.so.0.1", "librump.so.0", "librumpvfs.so"]


def test_a_file_that_is_not_a_shared_object_is_refused(tmp_path):
    (tmp_path / "librumpuser.so").write_text("not ELF")
    (tmp_path / "librump.so").write_text("not ELF")
    with pytest.raises(rump.RumpUnavailable, match="loading the rump kernel failed"):
        rump.RumpKernel(Platform.load("netbsd/amd64"), tmp_path)


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs cc (ci/setup: gcc)")
def test_a_library_without_rump_symbols_is_refused(tmp_path):
    # Real shared objects that load, but are not a rump kernel: rump_init is missing.
    for name in ("librumpuser", "librump"):
        src = tmp_path / f"{name}.c"
        src.write_text(f"int {name}_marker(void) {{ return 0; }}\n")
        subprocess.run(
            ["cc", "-shared", "-fPIC", "-o", str(tmp_path / f"{name}.so"), str(src)], check=True
        )
    with pytest.raises(rump.RumpUnavailable, match="is not a rump kernel"):
        rump.RumpKernel(Platform.load("netbsd/amd64"), tmp_path)


def test_cli_rump_without_libraries_exits_2_with_the_reason(tmp_path, capsys):
    assert main(["run", "--target", "rump", "--rump-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "librump is not installed" in err and err.count("\n") == 1


def test_platform_other_than_netbsd_is_refused() -> None:
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "suites/fs/test_openat.py", "--target", "rump"),
            *("--platform", "linux/x86_64", "-q", "-p", "no:cacheprovider"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 4
    assert "--target rump runs the netbsd/amd64 table" in proc.stderr
