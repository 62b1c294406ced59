"""The [left_out] lists of the Linux tables against the 6.1 tree they cite.

A number is left out when Linux never implements it: its row in the arch's syscall
table has no entry point or sys_ni_syscall (arch/x86/entry/syscalls/syscall_*.tbl,
include/uapi/asm-generic/unistd.h), or kernel/sys_ni.c declares it COND_SYSCALL and no
SYSCALL_DEFINE in the tree defines it. The lists are hand-written (each with its
reason); this recomputes them from the tree, so neither a stub nor a real call can be
misfiled. The tree is /var/tmp/linux-source-6.1 (or $SYSCALLS_LINUX_TREE) when
extracted, else Debian's linux-source-6.1 tarball is read.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from syscalls.abi import Platform
from syscalls.tables.linux import ARCHES, read_tbl

TARBALL = Path("/usr/src/linux-source-6.1.tar.xz")
TREE = Path(os.environ.get("SYSCALLS_LINUX_TREE", "/var/tmp/linux-source-6.1"))
DEFINE = re.compile(rb"SYSCALL_DEFINE[0-6]\(\s*(\w+)")
FILES = ("kernel/sys_ni.c", "include/uapi/asm-generic/unistd.h", "arch/x86/entry/syscalls")


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> tuple[Path, set[str]]:
    """(a directory holding FILES, every name a SYSCALL_DEFINE in the tree defines)."""
    if (TREE / "kernel/sys_ni.c").is_file():
        found = subprocess.run(
            ["grep", "-rhoE", r"SYSCALL_DEFINE[0-6]\(\s*\w+", "--include=*.c", str(TREE)],
            capture_output=True,
            check=True,
        ).stdout
        return TREE, {m.decode() for m in DEFINE.findall(found)}
    if not TARBALL.is_file():
        pytest.skip(f"needs the Linux 6.1 tree: neither {TREE} nor {TARBALL} (linux-source-6.1)")
    dest = tmp_path_factory.mktemp("linux-source")
    members = [f"linux-source-6.1/{f}" for f in FILES]
    subprocess.run(["tar", "-xJf", TARBALL, "-C", dest, *members], check=True)
    sources = subprocess.run(
        ["tar", "-xJf", TARBALL, "-O", "--wildcards", "linux-source-6.1/*.c"],
        capture_output=True,
        check=True,
    ).stdout
    return dest / "linux-source-6.1", {m.decode() for m in DEFINE.findall(sources)}


def _stub_rows(tree: Path, arch: str) -> set[str]:
    """Names whose row gives no entry point, or sys_ni_syscall."""
    spec = ARCHES[arch]
    if spec.tbl is not None:
        rows = [
            line.split("#", 1)[0].split() for line in (tree / spec.tbl).read_text().splitlines()
        ]
        return {
            f[2]
            for f in rows
            if len(f) >= 3 and f[1] in spec.abis and (len(f) == 3 or f[3] == "sys_ni_syscall")
        }
    text = (tree / "include/uapi/asm-generic/unistd.h").read_text()
    return set(re.findall(r"__SYSCALL\(__NR_(\w+),\s*sys_ni_syscall\)", text))


def _undefined(tree: Path, defined: set[str]) -> set[str]:
    """COND_SYSCALL names (kernel/sys_ni.c) that no SYSCALL_DEFINE defines."""
    cond = re.findall(r"^COND_SYSCALL\((\w+)\)", (tree / "kernel/sys_ni.c").read_text(), re.M)
    return set(cond) - defined


@pytest.mark.parametrize("arch", list(ARCHES))
def test_left_out_is_what_the_tree_never_implements(tree, arch) -> None:
    root, defined = tree
    p = Platform.load(f"linux/{arch}")
    names = set(p.syscalls)
    expected = (_stub_rows(root, arch) | _undefined(root, defined)) & names
    assert set(p.left_out) == expected
    if ARCHES[arch].tbl is not None:  # the .tbl rows the table was generated from
        assert expected <= set(read_tbl(root / ARCHES[arch].tbl, ARCHES[arch].abis))


@pytest.mark.parametrize("arch", list(ARCHES))
def test_each_left_out_number_says_why(arch) -> None:
    p = Platform.load(f"linux/{arch}")
    assert p.left_out, "every Linux table reserves some numbers it never implements"
    for name, why in p.left_out.items():
        assert name in p.syscalls, f"{name}: not a number of the {p.name} table"
        assert isinstance(why, str) and len(why) > 20, f"{name}: no reason given"


def test_x86_64_leaves_out_what_the_issue_names_and_nothing_it_tests() -> None:
    left = Platform.load("linux/x86_64").left_out
    named = {
        *("afs_syscall", "tuxcall", "security", "getpmsg", "putpmsg", "vserver"),
        *("create_module", "get_kernel_syms", "query_module", "nfsservctl", "_sysctl"),
        *("epoll_ctl_old", "epoll_wait_old", "uselib"),
    }
    assert named <= set(left)
    assert {"arch_prctl", "modify_ldt", "sysfs", "ustat"}.isdisjoint(left)
