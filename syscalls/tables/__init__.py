"""Binding tables generated from kernel source trees (`syscalls tables --from-tree`).

A generator reads a tree and returns a Table; `emit.write` turns it into the TOML layer
that syscalls.abi.Platform loads, headed by the command that regenerates it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


class TreeError(Exception):
    """The directory is not a kernel tree this generator can read, or the arch is unknown."""


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
        raise TreeError(f"{tree}: no such directory")
    if linux.is_linux_tree(tree):
        return linux.generate(tree, arch or "x86_64")
    if bsd.is_bsd_tree(tree):
        return bsd.generate(tree, arch)
    raise TreeError(
        f"{tree}: not a kernel source tree (looked for include/uapi/linux and arch/ "
        "for Linux, sys/kern/syscalls.master for the BSDs)"
    )
