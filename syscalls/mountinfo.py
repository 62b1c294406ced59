"""/proc/PID/mountinfo, read into one Mount per line (proc(5)): for the temporary
directories' choice of file system and the runner's check of the mounts a test left.
(syscalls/targets/readonly.py reads it on its own: it runs as a script of the standard
library alone.)

A line: mount ID, parent ID, major:minor, root, mount point, per-mount options, then
optional fields ("shared:N", "master:N") up to a lone "-", then the file system type,
the source and the superblock's options. Paths escape blank, tab, newline and
backslash as octal (\\040)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

SELF = Path("/proc/self/mountinfo")
_ESCAPE = re.compile(r"\\([0-7]{3})")


class Mount(NamedTuple):
    id: int
    parent: int
    point: str
    type: str
    options: frozenset[str]  # the mount's own (per-mount) options: ro/rw, nosuid, ...
    source: str = ""
    super_options: str = ""  # the file system's (superblock's), shared by its mounts
    propagation: str = ""  # the optional fields: "shared:N", "master:N", or none (private)

    def __str__(self) -> str:
        return f"{self.type} on {self.point}"


def unescape(field: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field)


def parse(text: str) -> list[Mount]:
    """Every well-formed line's mount, in the file's order (parents before children)."""
    found = []
    for line in text.splitlines():
        head, sep, tail = line.partition(" - ")
        fields, rest = head.split(), tail.split()
        if not sep or len(fields) < 6 or not rest:
            continue
        try:
            ids = int(fields[0]), int(fields[1])
        except ValueError:
            continue
        found.append(
            Mount(
                *ids,
                point=unescape(fields[4]),
                type=rest[0],
                options=frozenset(fields[5].split(",")),
                source=unescape(rest[1]) if len(rest) > 1 else "",
                super_options=rest[2] if len(rest) > 2 else "",
                propagation=" ".join(fields[6:]),
            )
        )
    return found


def read(path: Path = SELF) -> list[Mount] | None:
    """The mounts `path` lists; None where it cannot be read (not Linux, no /proc)."""
    try:
        return parse(path.read_text(errors="surrogateescape"))
    except OSError:
        return None
