"""Binding tables generated from kernel source trees (`syscalls tables --from-tree`).

A generator reads a tree and returns a Table; `emit.write` turns it into the TOML layer
that syscalls.abi.Platform loads, headed by the command that regenerates it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path


class TreeError(Exception):
    """The directory is not a kernel tree this generator can read, or the arch is unknown."""


# A source file of a tree is a few MB at most (syscalls.master, a Makefile, a .tbl).
MAX_SOURCE = 64 << 20


def read_source(path: Path) -> str:
    """The text of one of the tree's files, bytes that are not UTF-8 replaced. TreeError,
    naming it, for one that is missing, unreadable, too large or not a regular file (a
    FIFO would block the read)."""
    from syscalls.userfiles import UnreadableInput, read_input

    try:
        return read_input(path, "kernel source file", MAX_SOURCE).decode(errors="replace")
    except UnreadableInput as e:
        raise TreeError(str(e)) from None


@dataclass
class Table:
    os: str
    arch: str
    syscalls: dict[str, int]
    errno: dict[str, int]
    constants: dict[str, int]
    symbols: dict[str, str] = field(default_factory=dict)
    # NetBSD: syscall -> positions of its PAD argument slots (syscalls.master), which a
    # caller of the raw syscall (rump_syscall) must fill; libc's wrappers hide them.
    padding: dict[str, list[int]] = field(default_factory=dict)
    # Linux: syscalls a configuration may compile out (kernel/sys_ni.c) -> the CONFIG_
    # option that does ("" where the tree names none), and those no kernel implements
    # -> their entry point ("" for none). None: the generator does not know (BSDs).
    optional: dict[str, str] | None = None
    unimplemented: dict[str, str] = field(default_factory=dict)
    release: str = ""  # the tree's version, where the generator reads it
    sources: list[str] = field(default_factory=list)


def generate(tree: Path, arch: str | None) -> Table:
    """A table for `arch` from the kernel tree at `tree`, whichever OS it is."""
    from syscalls.tables import bsd, linux

    tree = Path(tree)
    if not tree.is_dir():
        raise TreeError(f"{tree}: {'not a directory' if tree.exists() else 'no such directory'}")
    if linux.is_linux_tree(tree):
        return linux.generate(tree, arch or "x86_64")
    if bsd.is_bsd_tree(tree):
        return bsd.generate(tree, arch)
    raise TreeError(
        f"{tree}: not a kernel source tree (looked for include/uapi/linux and arch/ "
        "for Linux, sys/kern/syscalls.master for the BSDs)"
    )


# Where a carried source line came from: "errno, constants (--values-from FILE): ...".
_CARRIED = re.compile(r"^errno, constants \(--values-from [^)]*\): ")
_MASTER_LINES = ("sys/kern/syscalls.master", "upstream: sys/kern/syscalls.master")


def carry_values(table: Table, earlier: Path) -> Table:
    """`table`, made from a tree that holds only syscalls.master, with the errno values and
    constants of an earlier table of the same OS and arch (made from a tree that had the
    headers). The numbers, symbols and padding stay the new master's; the header keeps
    the earlier table's sources for errno and constants, marked as carried, and drops
    what it said about its own syscalls.master."""
    earlier = Path(earlier)
    if table.errno or table.constants:
        raise TreeError(
            f"--values-from {earlier}: the tree has headers of its own; the values come "
            "from them (use --values-from only for a tree that holds syscalls.master alone)"
        )
    from syscalls.abi import PlatformError, read_layer

    try:  # a table as every table is read: its types checked (they are copied on)
        data = read_layer(earlier)
    except PlatformError as e:
        raise TreeError(f"--values-from {e}") from None
    platform = data.get("platform", {})
    if (platform.get("os"), platform.get("arch")) != (table.os, table.arch):
        raise TreeError(
            f"--values-from {earlier}: a table for {platform.get('os')}/{platform.get('arch')}, "
            f"not {table.os}/{table.arch}"
        )
    errno, constants = data.get("errno", {}), data.get("constants", {})
    if not errno and not constants:
        raise TreeError(f"--values-from {earlier}: it has no [errno] or [constants] to carry")
    carried = []
    for line in platform.get("sources", []):
        line = _CARRIED.sub("", str(line))
        if not line.startswith(_MASTER_LINES):
            carried.append(f"errno, constants (--values-from {earlier}): {line}")
    own = [s for s in table.sources if not s.startswith("sys headers: not in this tree")]
    return replace(table, errno=dict(errno), constants=dict(constants), sources=own + carried)
