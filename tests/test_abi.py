"""Platform: loading tables, layering, aliases, errno names."""

from pathlib import Path

import pytest

from syscalls.abi import (
    PLATFORMS_DIR,
    Platform,
    PlatformError,
    available,
    compat_process,
    host_os_arch,
    os_arch,
)
from syscalls.kernel import Kernel


def test_host_platform_loads_with_its_syscalls_and_structs() -> None:
    p = Platform.load()
    assert (p.os, p.arch) == host_os_arch()
    assert p.syscalls["openat"] > 0 or p.os != "linux"
    assert "struct stat" in p.cdef


@pytest.mark.parametrize(
    ("uname", "size", "expected"),
    [
        (("Linux", "x86_64"), 8, ("linux", "x86_64")),
        (("Linux", "x86_64"), 4, ("linux", "i386")),  # a 32-bit userland
        (("Linux", "i686"), 4, ("linux", "i386")),
        (("Linux", "arm64"), 8, ("linux", "aarch64")),
        (("FreeBSD", "amd64"), 8, ("freebsd", "amd64")),
        (("NetBSD", "x86_64"), 8, ("netbsd", "amd64")),
        (("OpenBSD", "arm64"), 8, ("openbsd", "arm64")),
        (("Linux", "ppc64le"), 8, ("linux", "ppc64le")),  # no table: Platform.load says so
    ],
)
def test_uname_names_map_to_table_names(
    uname: tuple[str, str], size: int, expected: tuple[str, str]
) -> None:
    assert os_arch(*uname, size) == expected


@pytest.mark.parametrize(
    ("machine", "pointer", "compat"),
    [("x86_64", 4, True), ("aarch64", 4, True), ("x86_64", 8, False), ("i686", 4, False)],
)
def test_compat_process_is_a_32_bit_userland_on_a_64_bit_kernel(
    machine: str, pointer: int, compat: bool
) -> None:
    assert compat_process(machine, pointer) is compat


def test_layers_merge_common_aliases_under_generated_numbers() -> None:
    p = Platform.load("linux/x86_64")
    assert p.syscalls["read"] == 0
    assert p.resolve("fstatat") == "newfstatat"
    assert p.has("fstatat")
    assert not p.has("no_such_call")


def test_generated_table_file_keeps_the_os_hand_written_layers(tmp_path: Path) -> None:
    table = tmp_path / "mine.toml"
    table.write_text(
        '[platform]\nos = "linux"\narch = "x86_64"\n'
        "[syscalls]\nnewfstatat = 7\n[errno]\nENOENT = 2\n"
    )
    p = Platform.load(table)
    assert p.syscalls == {"newfstatat": 7}
    assert p.resolve("fstatat") == "newfstatat"  # from platforms/linux/common.toml
    assert "struct stat" in p.cdef  # from platforms/linux/x86_64.h


def test_errno_name_prefers_the_portable_spelling() -> None:
    p = Platform.load("linux/x86_64")
    assert p.errno["EWOULDBLOCK"] == p.errno["EAGAIN"]
    assert p.errno_name(p.errno["EAGAIN"]) == "EAGAIN"
    assert p.errno_name(p.errno["EDEADLOCK"]) == "EDEADLK"
    assert p.errno_name(9999) == "E9999"


def test_constants_and_errno_by_subscript() -> None:
    p = Platform.load("linux/x86_64")
    assert p["O_CREAT"] == 0o100
    assert p["ENOENT"] == 2
    with pytest.raises(KeyError, match="NOT_A_CONSTANT"):
        p["NOT_A_CONSTANT"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("linux", "expected OS/ARCH"),
        ("linux/vax", "no table for linux/vax"),
        ("plan9/x86_64", "no table for plan9/x86_64"),
        ("/nonexistent/table.toml", "no such table"),
    ],
)
def test_bad_platform_names_fail_clearly(spec: str, message: str) -> None:
    with pytest.raises(PlatformError, match=message):
        Platform.load(spec)


def test_table_without_os_or_arch_is_rejected(tmp_path: Path) -> None:
    table = tmp_path / "t.toml"
    table.write_text("[syscalls]\nread = 0\n")
    with pytest.raises(PlatformError, match="must name os and arch"):
        Platform.load(table)


def test_malformed_toml_names_the_file(tmp_path: Path) -> None:
    table = tmp_path / "t.toml"
    table.write_text('[platform]\nos = "linux"\narch = "x86_64"\n[syscalls\n')
    with pytest.raises(PlatformError, match=r"t\.toml"):
        Platform.load(table)


def test_available_lists_generated_tables_only() -> None:
    names = available()
    assert "linux/x86_64" in names
    assert not any(n.endswith(("/common", "-extra")) for n in names)


@pytest.mark.parametrize("arch", ["x86_64", "aarch64", "riscv64"])
def test_64_bit_arches_share_lp64_layouts_between_common_and_their_own(arch: str) -> None:
    p = Platform.load(f"linux/{arch}")
    assert p.cdef_layers == ["lp64.h"]
    common, shared = p.cdef.index("struct statfs {"), p.cdef.index("} siginfo_t;")
    assert common < shared < p.cdef.index("struct user_regs_struct {")
    assert p.cdef.count("} siginfo_t;") == 1
    assert common < p.cdef.index("struct timespec { long tv_sec; long tv_nsec; };") < shared


def test_i386_declares_its_own_32_bit_layouts() -> None:
    p = Platform.load("linux/i386")
    assert p.cdef_layers == []
    assert p.cdef.count("} siginfo_t;") == 1
    # The 64-bit __kernel_timespec its *_time64 calls take (i386-extra.toml's aliases).
    assert p.cdef.count("struct timespec {") == 1
    assert "struct timespec { int64_t tv_sec; int64_t tv_nsec; };" in p.cdef


def test_a_shared_cdef_layer_that_is_missing_names_the_layer(tmp_path, monkeypatch) -> None:
    (tmp_path / "linux").mkdir()
    (tmp_path / "linux" / "x86_64.toml").write_text('[platform]\nos = "linux"\narch = "x86_64"\n')
    extra = tmp_path / "linux" / "x86_64-extra.toml"
    extra.write_text('[platform]\ncdef = ["gone.h"]\n')
    monkeypatch.setattr("syscalls.abi.PLATFORMS_DIR", tmp_path)
    with pytest.raises(PlatformError, match=r"x86_64-extra\.toml.*gone\.h"):
        Platform.load("linux/x86_64")


@pytest.mark.parametrize("arch", ["x86_64", "i386", "aarch64", "riscv64"])
def test_common_packed_layouts_come_before_the_arch_ones_on_every_arch(arch: str) -> None:
    p = Platform.load(f"linux/{arch}")
    common = PLATFORMS_DIR / "linux/common-packed.h"  # after the marker naming the file
    assert p.cdef_packed.startswith(f'# 1 "{common}"\n{common.read_text()}')
    k = Kernel(p)
    # linux/landlock.h declares it __attribute__((packed)): 12 bytes, not 16
    assert k.ffi.sizeof("struct landlock_path_beneath_attr") == 12


def test_left_out_is_read_from_the_hand_written_layer(tmp_path, monkeypatch) -> None:
    (tmp_path / "linux").mkdir()
    (tmp_path / "linux" / "x86_64.toml").write_text(
        '[platform]\nos = "linux"\narch = "x86_64"\n[syscalls]\nafs_syscall = 183\n'
        "[errno]\nENOSYS = 38\n"
    )
    (tmp_path / "linux" / "x86_64-extra.toml").write_text('[left_out]\nafs_syscall = "never"\n')
    monkeypatch.setattr("syscalls.abi.PLATFORMS_DIR", tmp_path)
    assert Platform.load("linux/x86_64").left_out == {"afs_syscall": "never"}
    (tmp_path / "linux" / "x86_64-extra.toml").write_text('left_out = ["afs_syscall"]\n')
    with pytest.raises(PlatformError, match=r"\[left_out\] must be a table"):
        Platform.load("linux/x86_64")
