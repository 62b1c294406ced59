"""The [left_out] lists of the Linux tables: every number Linux never implements, each
with the reason `syscalls list` prints.

Left out are the table's [unimplemented] entries (generated: no entry point, or
sys_ni_syscall, in the arch's syscall table) and the [optional] ones (COND_SYSCALL in
kernel/sys_ni.c) that nothing in the 6.1 tree defines, so that every configuration
answers ENOSYS (lookup_dcookie, since dcookies went in 5.12). The first half is checked
against the generated sections; the second against the tree's SYSCALL_DEFINEs:
/var/tmp/linux-source-6.1 (or $SYSCALLS_LINUX_TREE) when extracted, else Debian's
linux-source-6.1 tarball.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from syscalls.abi import Platform
from syscalls.tables.linux import ARCHES, tbl_entries

TARBALL = Path("/usr/src/linux-source-6.1.tar.xz")
TREE = Path(os.environ.get("SYSCALLS_LINUX_TREE", "/var/tmp/linux-source-6.1"))
DEFINE = re.compile(rb"SYSCALL_DEFINE[0-6]\(\s*(\w+)")


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> tuple[Path, set[str]]:
    """(a directory holding the x86 syscall tables, every name a SYSCALL_DEFINE in the
    6.1 tree defines)."""
    grep = ["grep", "-hoE", r"SYSCALL_DEFINE[0-6]\(\s*\w+"]
    if (TREE / "kernel/sys_ni.c").is_file():
        root = TREE
        found = subprocess.run([*grep, "-r", "--include=*.c", str(TREE)], capture_output=True)
    elif TARBALL.is_file():
        dest = tmp_path_factory.mktemp("linux-source")
        member = "linux-source-6.1/arch/x86/entry/syscalls"
        subprocess.run(["tar", "-xJf", str(TARBALL), "-C", str(dest), member], check=True)
        root = dest / "linux-source-6.1"
        # Every .c file of the tree, about 600 MiB: through grep, not into this process,
        # whose memory the runner checks after each test (and each later fork copies)
        cat = ["tar", "-xJf", str(TARBALL), "-O", "--wildcards", "linux-source-6.1/*.c"]
        with subprocess.Popen(cat, stdout=subprocess.PIPE) as tar:
            found = subprocess.run(grep, stdin=tar.stdout, capture_output=True)
        assert tar.returncode == 0, f"{' '.join(cat)}: status {tar.returncode}"
    else:
        pytest.skip(f"needs the Linux 6.1 tree: neither {TREE} nor {TARBALL} (linux-source-6.1)")
    assert found.returncode == 0, found.stderr.decode(errors="replace")
    return root, {m.decode() for m in DEFINE.findall(found.stdout)}


def _function(root: Path, arch: str) -> dict[str, str]:
    """Table name -> the name its entry point defines (getgroups32 -> getgroups): the x86
    tables say it; the generic ones name each call by its function."""
    spec = ARCHES[arch]
    if spec.tbl is None:
        return {}
    return {
        e.name: e.native.removeprefix("sys_")
        for e in tbl_entries(root / spec.tbl, spec.abis)
        if e.native and e.native.startswith("sys_")
    }


@pytest.mark.parametrize("arch", list(ARCHES))
def test_left_out_holds_every_unimplemented_entry(arch: str) -> None:
    p = Platform.load(f"linux/{arch}")
    assert p.unimplemented, "the generated table names the entries no kernel implements"
    assert set(p.unimplemented) <= set(p.left_out)


@pytest.mark.parametrize("arch", list(ARCHES))
def test_the_rest_are_optional_calls_nothing_defines(tree, arch: str) -> None:
    root, defined = tree
    p = Platform.load(f"linux/{arch}")
    function = _function(root, arch)
    rest = set(p.left_out) - set(p.unimplemented)
    assert rest <= set(p.optional or {})
    assert rest == {n for n in p.optional or {} if function.get(n, n) not in defined}


@pytest.mark.parametrize("arch", list(ARCHES))
def test_each_left_out_number_says_why(arch: str) -> None:
    p = Platform.load(f"linux/{arch}")
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
