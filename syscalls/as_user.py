"""Tests of what a user without privileges is refused, run by root too.

A test of a permission check (EPERM for a user who raises a hard limit, sets the
hostname, loads a module, reads another's memory ...) means nothing as root, who holds
every capability. Marked `@pytest.mark.as_user("why root would pass")`, it runs as it is
in a user's run; in a root's run its body runs in a forked child that has first become
nobody (uid and gid 65534, no supplementary groups, so no capabilities either). So root
runs test those refusals too, and so does `syscalls boot`, whose guest runs as root: a
fresh kernel that lost one of its permission checks is caught there, where before the
test was skipped.

The child also makes its test's own directories (`tmp`, `disk_tmp`) nobody's, as a
user's would be, and hands nobody what the test's fixtures made as root that a user's run
would own: a fixture's value with a `hand_to(uid, gid)` method (a pty pair: its slave
device) is called first. It stays dumpable (a change of ids makes a process undumpable, and its
/proc/self root's). Its result, its observations and its skips come back as any
`in_child` child's do (syscalls.child).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from syscalls import child, processes

NOBODY = 65534
MARK = "as_user"
OWN_DIRECTORIES = ("tmp", "disk_tmp")  # the fixtures that give a test a directory of its own
TIMEOUT = 60.0  # the child's own limit; the test's limit ends it first where shorter
PR_SET_DUMPABLE = 4  # linux/prctl.h


def become_nobody(directories: Iterable[Path] = (), owned: Iterable[Any] = ()) -> None:
    """This process (a forked child) becomes nobody, owning `directories` and what is
    in them, and what each of `owned` hands it (hand_to); from root only."""
    for top in directories:
        _chown_tree(top)
    for value in owned:
        value.hand_to(NOBODY, NOBODY)
    os.setgroups([])
    os.setgid(NOBODY)  # as root: the real, effective and saved ids, all three
    os.setuid(NOBODY)
    if os.geteuid() != NOBODY or os.getuid() != NOBODY:  # a kernel that did not
        raise AssertionError(f"setuid({NOBODY}) left uid {os.getuid()}, euid {os.geteuid()}")
    if processes.LINUX:
        processes.prctl(PR_SET_DUMPABLE, 1)


def _chown_tree(top: Path) -> None:
    os.chown(top, NOBODY, NOBODY, follow_symlinks=False)
    for root, dirs, files in os.walk(top):
        for name in dirs + files:
            os.chown(os.path.join(root, name), NOBODY, NOBODY, follow_symlinks=False)


def call(
    item: pytest.Function, sink: list[str], passthrough: tuple[type[BaseException], ...]
) -> None:
    """pytest_pyfunc_call for an `as_user` test in a root run."""
    args = {name: item.funcargs[name] for name in item._fixtureinfo.argnames}
    # the directories of the whole fixture closure: `f`, a file in `tmp`, brings `tmp`
    own = [v for k, v in item.funcargs.items() if k in OWN_DIRECTORIES and isinstance(v, Path)]
    held = [v for v in item.funcargs.values() if callable(getattr(type(v), "hand_to", None))]
    body: Callable[..., Any] = item.obj

    def as_nobody() -> None:
        become_nobody(own, held)
        body(**args)

    child.run(as_nobody, TIMEOUT, sink, passthrough)


def reason(item: pytest.Item) -> str:
    """Why root would pass the test: the mark's own words."""
    mark = item.get_closest_marker(MARK)
    return str(mark.args[0]) if mark is not None and mark.args else "root would pass it"
