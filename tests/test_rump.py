"""--target rump: the clear errors where librump is absent (it is not packaged here), the
loader's handling of a library that is not a rump kernel, and the argument block
rump_syscall takes, built from NetBSD's own syscalls.master entries.
"""

from __future__ import annotations

import itertools
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


@pytest.fixture
def no_default(monkeypatch, tmp_path):
    """Neither $SYSCALLS_RUMP_DIR nor a build beside the checkout."""
    monkeypatch.delenv("SYSCALLS_RUMP_DIR", raising=False)
    monkeypatch.setattr(rump, "SHARED_BUILD", tmp_path / "no-shared-build")


def test_no_rump_dir_says_how_to_get_one(no_default):
    assert rump.default_directory() is None
    with pytest.raises(rump.RumpUnavailable, match=r"needs --rump-dir.*not packaged"):
        rump.find_libraries(None)


def test_the_default_is_the_environment_then_the_build_beside_the_checkout(monkeypatch, tmp_path):
    shared = tmp_path / "shared/rump/lib"
    shared.mkdir(parents=True)
    monkeypatch.setattr(rump, "SHARED_BUILD", shared)
    monkeypatch.setenv("SYSCALLS_RUMP_DIR", str(tmp_path / "named"))
    assert rump.default_directory() == tmp_path / "named"
    monkeypatch.setenv("SYSCALLS_RUMP_DIR", "")  # set but empty: as if unset
    assert rump.default_directory() == shared
    for name in ("librumpuser.so", "librump.so"):
        (shared / name).write_bytes(ELF_DYN)
    assert [p.name for p in rump.find_libraries(None)] == ["librumpuser.so", "librump.so"]


def test_missing_directory(tmp_path):
    with pytest.raises(rump.RumpUnavailable, match="no such directory"):
        rump.find_libraries(tmp_path / "absent")


def test_directory_without_librump(tmp_path):
    with pytest.raises(rump.RumpUnavailable, match=r"no librumpuser\.so there"):
        rump.find_libraries(tmp_path)


# The first bytes of an x86-64 shared object: magic, ELFCLASS64, little-endian, version
# 1, then e_type ET_DYN (3) at offset 16. The lookup reads no further.
ELF_DYN = b"\x7fELF\x02\x01\x01" + bytes(9) + (3).to_bytes(2, "little") + bytes(46)
ELF_EXEC = ELF_DYN[:16] + (2).to_bytes(2, "little") + ELF_DYN[18:]


def test_libraries_found_in_load_order(tmp_path):
    for name in ("librump.so.0", "librumpvfs.so", "librumpuser.so.0.1"):
        (tmp_path / name).write_bytes(ELF_DYN)
    found = [p.name for p in rump.find_libraries(tmp_path)]
    assert found == ["librumpuser.so.0.1", "librump.so.0", "librumpvfs.so"]


def test_link_stubs_are_followed_to_the_shared_object(tmp_path):
    # A copy that turned the version symlinks into files holding the target's name.
    (tmp_path / "librumpuser.so").write_text("librumpuser.so.0")
    (tmp_path / "librumpuser.so.0").write_text("librumpuser.so.0.1\n")
    (tmp_path / "librumpuser.so.0.1").write_bytes(ELF_DYN)
    (tmp_path / "librump.so").write_text("librump.so.0.0")
    (tmp_path / "librump.so.0.0").write_bytes(ELF_DYN)
    (tmp_path / "librumpvfs.so").symlink_to("librumpvfs.so.0.0")  # a real link is kept
    (tmp_path / "librumpvfs.so.0.0").write_bytes(ELF_DYN)
    found = [p.name for p in rump.find_libraries(tmp_path)]
    assert found == ["librumpuser.so.0.1", "librump.so.0.0", "librumpvfs.so"]


def test_versions_alone_the_newest_is_taken(tmp_path):
    for name in ("librumpuser.so.0.1", "librump.so.0.9", "librump.so.0.10", "librump.so.1"):
        (tmp_path / name).write_bytes(ELF_DYN)
    (tmp_path / "librump.so.2.debug").write_bytes(ELF_DYN)  # not a library name
    assert [p.name for p in rump.find_libraries(tmp_path)][1] == "librump.so.1"


def test_a_broken_name_falls_back_to_the_next_that_leads_to_an_object(tmp_path):
    (tmp_path / "librumpuser.so").write_text("librumpuser.so.9")  # names nothing here
    (tmp_path / "librumpuser.so.0").write_bytes(ELF_DYN)
    (tmp_path / "librump.so").write_bytes(ELF_DYN)
    assert rump.find_libraries(tmp_path)[0].name == "librumpuser.so.0"


@pytest.mark.parametrize(
    ("files", "says"),
    [
        ({"librump.so": "not ELF at all"}, "librump.so: neither an ELF file nor a link stub"),
        ({"librump.so": "librump.so.0"}, "librump.so -> librump.so.0: a link stub naming"),
        (
            {"librump.so": "librump.so.0", "librump.so.0": "librump.so"},
            "librump.so -> librump.so.0 -> librump.so: a loop of link stubs",
        ),
        ({"librump.so": "../librump.so.0"}, "neither an ELF file nor a link stub"),
        ({"librump.so": "two words"}, "neither an ELF file nor a link stub"),
        ({"librump.so": ELF_EXEC}, "librump.so: an ELF file but not a shared object"),
        ({"librump.so": b"\x7fELF"}, "an ELF file but not a shared object"),  # cut short
        ({"librump.so": "x" * 300}, "neither an ELF file nor a link stub"),
        ({"librump.so": b"\xff\xfe"}, "neither an ELF file nor a link stub"),
    ],
    ids=[
        "text",
        "stub to nothing",
        "loop",
        "stub leaving the directory",
        "two words",
        "executable",
        "truncated ELF",
        "long text",
        "binary junk",
    ],
)
def test_no_shared_object_behind_any_name_is_one_clear_error(tmp_path, files, says):
    (tmp_path / "librumpuser.so").write_bytes(ELF_DYN)
    for name, content in files.items():
        data = content if isinstance(content, bytes) else content.encode()
        (tmp_path / name).write_bytes(data)
    with pytest.raises(rump.RumpUnavailable) as e:
        rump.find_libraries(tmp_path)
    message = str(e.value)
    assert message.startswith(f"--rump-dir {tmp_path}: no librump.so* there is a shared object")
    assert says in message and "\n" not in message


def test_a_stub_chain_longer_than_the_limit_is_refused(tmp_path):
    (tmp_path / "librumpuser.so").write_bytes(ELF_DYN)
    # librump.so -> hop0 -> ... -> hop7, all stubs, then the object: one stub too many.
    names = ["librump.so", *(f"hop{i}" for i in range(rump.STUB_HOPS))]
    for name, target in itertools.pairwise([*names, "object"]):
        (tmp_path / name).write_text(target)
    (tmp_path / "object").write_bytes(ELF_DYN)
    with pytest.raises(rump.RumpUnavailable, match=f"more than {rump.STUB_HOPS} link stubs"):
        rump.find_libraries(tmp_path)
    (tmp_path / "hop7").write_bytes(ELF_DYN)  # one fewer: found
    assert [p.name for p in rump.find_libraries(tmp_path)] == ["librumpuser.so", "hop7"]


def test_an_unreadable_optional_library_is_refused_not_dropped(tmp_path):
    for name in ("librumpuser.so", "librump.so"):
        (tmp_path / name).write_bytes(ELF_DYN)
    (tmp_path / "librumpfs_tmpfs.so").write_text("librumpfs_tmpfs.so.0")
    with pytest.raises(rump.RumpUnavailable, match=r"no librumpfs_tmpfs\.so\* there"):
        rump.find_libraries(tmp_path)


def test_a_file_that_is_not_a_shared_object_is_refused(tmp_path):
    (tmp_path / "librumpuser.so").write_text("not ELF")
    (tmp_path / "librump.so").write_text("not ELF")
    with pytest.raises(rump.RumpUnavailable, match=r"librumpuser\.so: neither an ELF file"):
        rump.RumpKernel(Platform.load("netbsd/amd64"), tmp_path)


def test_an_elf_header_that_is_no_loadable_object_fails_at_load(tmp_path):
    # It passes the lookup (magic and e_type), so dlopen decides, and says why.
    for name in ("librumpuser.so", "librump.so"):
        (tmp_path / name).write_bytes(ELF_DYN)
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
