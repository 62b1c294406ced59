"""kernel/sys_ni.c in the Linux tables: which syscalls a configuration may leave out, the
option that does, and which no kernel implements (syscalls/tables/sys_ni.py).

A sample tree (tests/data/linux-sys-ni) shows each way a tree names an option; the
committed tables are checked against Debian's linux-source-6.1 in test_tables_linux.py.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from syscalls.abi import PLATFORMS_DIR, Platform, PlatformError
from syscalls.tables import Table, emit, linux, sys_ni

SAMPLE = Path(__file__).resolve().parent / "data" / "linux-sys-ni"
ROOT = Path(__file__).resolve().parent.parent
REAL_TREE = Path("/var/tmp/linux-source-6.1")


def _x86_64() -> tuple[dict[str, str], dict[str, str]]:
    entries = linux.tbl_entries(SAMPLE / "arch/x86/entry/syscalls/syscall_64.tbl", ("common", "64"))
    return sys_ni.classify(SAMPLE, "x86", entries)


def test_cond_syscalls_reads_native_and_compat_names_and_skips_comments():
    native, compat = sys_ni.cond_syscalls(SAMPLE)
    assert {"timerfd_create", "futex", "clone3"} <= native
    assert "openat" not in native  # only inside a comment
    assert compat == {"ia32_fstatat64"}


def test_a_syscall_not_in_sys_ni_is_always_present():
    optional, unimplemented = _x86_64()
    assert "openat" not in optional and "openat" not in unimplemented


@pytest.mark.parametrize(
    ("name", "option"),
    [
        ("timerfd_create", "CONFIG_TIMERFD"),  # obj-$(CONFIG_TIMERFD) += timerfd.o
        ("epoll_wait", "CONFIG_EPOLL"),  # the grouping comment names fs/eventfd.c: not trusted
        ("futex", "CONFIG_FUTEX"),  # obj-y in kernel/futex/, obj-$(CONFIG_FUTEX) += futex/
        ("fadvise64", "CONFIG_ADVISE_SYSCALLS"),  # #else of an #ifndef, in an obj-y file
        ("membarrier", "CONFIG_MEMBARRIER"),  # no Makefile names it: the #ifdef'd #include
        ("pkey_alloc", "CONFIG_ARCH_HAS_PKEYS"),  # the #ifdef before mmu-$(CONFIG_MMU)
        ("io_getevents", "CONFIG_AIO"),  # #ifdef CONFIG_64BIT says what the kernel is
        ("clone3", ""),  # #ifdef __ARCH_WANT_SYS_CLONE3, in always-built files: no option
    ],
)
def test_optional_syscalls_name_the_option_the_tree_gives(name, option):
    optional, _ = _x86_64()
    assert optional[name] == option


def test_another_arch_definition_is_not_counted():
    # arch/arm64/kernel/sys.c defines timerfd_create under CONFIG_ARM64_SAMPLE: on x86
    # only fs/timerfd.c counts (else the two options would disagree and none be named).
    optional, _ = _x86_64()
    assert optional["timerfd_create"] == "CONFIG_TIMERFD"
    entries = [sys_ni.Entry("timerfd_create", "sys_timerfd_create")]
    optional, _ = sys_ni.classify(SAMPLE, "arm64", entries)
    assert optional == {"timerfd_create": ""}  # two definitions, two options: none named


def test_entries_without_an_implementation_are_unimplemented():
    optional, unimplemented = _x86_64()
    assert unimplemented == {"uselib": "", "_sysctl": "sys_ni_syscall"}
    assert "uselib" not in optional


def test_i386_compat_entry_in_sys_ni_makes_the_syscall_optional():
    entries = linux.tbl_entries(SAMPLE / "arch/x86/entry/syscalls/syscall_32.tbl", ("i386",))
    assert entries[1] == sys_ni.Entry("fstatat64", "sys_fstatat64", "compat_sys_ia32_fstatat64")
    optional, _ = sys_ni.classify(SAMPLE, "x86", entries)
    assert optional == {"fstatat64": "CONFIG_COMPAT"}  # COMPAT_SYSCALL_DEFINE in #ifdef


def test_generic_arches_join_entries_by_number_and_take_the_64_bit_one():
    arch = linux.ARCHES["aarch64"]
    syscalls = {"io_getevents": 4, "epoll_pwait": 22, "fadvise64": 223, "openat": 56}
    syscalls["nfsservctl"] = 42
    values = {"__NR_io_getevents": 4, "__NR_epoll_pwait": 22, "__NR_openat": 56}
    values["__NR_nfsservctl"] = 42
    entries = {e.name: e for e in linux.generic_entries(SAMPLE, arch, syscalls, values)}
    assert entries["io_getevents"].native == "sys_io_getevents"  # __SC_3264's 64-bit one
    assert entries["fadvise64"].native == "sys_fadvise64_64"  # __NR3264_, over two lines
    assert entries["epoll_pwait"] == sys_ni.Entry("epoll_pwait", "sys_epoll_pwait")
    assert entries["nfsservctl"].native == sys_ni.NI_ENTRY


def test_a_tree_without_sys_ni_leaves_the_table_silent(tmp_path):
    assert sys_ni.cond_syscalls(tmp_path) == (set(), set())
    table = Table("linux", "x86_64", {"read": 0}, {}, {})
    text = emit.render(table, "test")
    assert "[optional]" not in text and "[unimplemented]" not in text


def test_emitted_sections_load_into_the_platform(tmp_path):
    table = Table(
        "linux",
        "x86_64",
        {"read": 0, "futex": 202, "uselib": 134},
        {"ENOSYS": 38},
        {},
        optional={"futex": "CONFIG_FUTEX"},
        unimplemented={"uselib": ""},
        release="6.99.2",
    )
    path = tmp_path / "t.toml"
    emit.write(table, "test", path)
    data = tomllib.loads(path.read_text())
    assert data["optional"] == {"futex": "CONFIG_FUTEX"} and data["unimplemented"] == {"uselib": ""}
    p = Platform.load(path)
    # The OS's hand-written layers (x86_64-extra.toml: ioperm, iopl) add to what the
    # generated table says; they never drop or change it.
    extra = tomllib.loads((PLATFORMS_DIR / "linux" / "x86_64-extra.toml").read_text())
    assert p.optional == {"futex": "CONFIG_FUTEX", **extra.get("optional", {})}
    assert p.unimplemented == {"uselib": ""}
    assert p.release == "6.99.2"


def test_malformed_optional_section_is_a_platform_error(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text('[platform]\nos = "linux"\narch = "x86_64"\n[optional]\nfutex = 1\n')
    with pytest.raises(PlatformError, match=r"t\.toml: \[optional\] futex must be a string, not 1"):
        Platform.load(path)


def test_bsd_tables_say_nothing_about_enosys():
    for name in ("netbsd/amd64", "freebsd/amd64", "openbsd/amd64"):
        assert Platform.load(name).optional is None


@pytest.mark.parametrize("arch", ["x86_64", "i386", "aarch64", "riscv64"])
def test_committed_linux_tables_know_what_is_optional(arch):
    p = Platform.load(f"linux/{arch}")
    assert p.optional is not None and p.release
    assert p.optional["userfaultfd"] == "CONFIG_USERFAULTFD"
    assert p.optional["socket"] == "CONFIG_NET"
    assert p.optional["epoll_ctl"] == "CONFIG_EPOLL"
    for always in ("openat", "read", "write", "close", "mmap", "clone", "execve", "wait4"):
        assert always not in p.optional and always not in p.unimplemented, always


@pytest.mark.skipif(not (REAL_TREE / sys_ni.SYS_NI).is_file(), reason=f"no {REAL_TREE}")
def test_every_cond_syscall_of_the_real_tree_is_optional_where_the_arch_has_it():
    """Each COND_SYSCALL whose sys_ function is an x86_64 table entry is optional there."""
    native, _ = sys_ni.cond_syscalls(REAL_TREE)
    entries = linux.tbl_entries(REAL_TREE / linux.ARCHES["x86_64"].tbl, ("common", "64"))
    optional, _ = sys_ni.classify(REAL_TREE, "x86", entries)
    expected = {e.name for e in entries if e.native and e.native.removeprefix("sys_") in native}
    assert set(optional) == expected and len(expected) > 100
    named = sum(1 for option in optional.values() if option)
    assert named / len(optional) > 0.9  # the tree names an option for nearly all
