"""Where the tests' private directories (the `tmp` fixture) are made: on a tmpfs when
this user can write one, since making and removing a directory there costs microseconds
against milliseconds on a disk file system. Tests whose subject needs a disk-backed
file system (O_DIRECT, file handles, fanotify's FIDs, user xattrs) use `disk_tmp`,
which stays in $TMPDIR's directory. A tmpfs mounted nodev, noexec or nosuid is not
taken: tests make device nodes, run files and set-user-ID bits in `tmp`."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import NamedTuple

# Mounted as tmpfs on every Linux distribution (POSIX shared memory lives there).
SHARED_MEMORY = Path("/dev/shm")
# Mount options under which some tests' subjects do not work as on a plain file system.
RESTRICTING = frozenset({"nodev", "noexec", "nosuid"})


class Mount(NamedTuple):
    point: str
    type: str
    options: frozenset[str]  # the mount's own (per-mount) options


def mount_of(path: Path, mountinfo: Path = Path("/proc/self/mountinfo")) -> Mount | None:
    """The mount that `path` is on: the innermost mount point above it in mountinfo;
    None where there is no mountinfo (not Linux, no /proc)."""
    try:
        lines = mountinfo.read_text().splitlines()
    except OSError:
        return None
    real = os.path.realpath(path)
    best: Mount | None = None
    for line in lines:
        fields = line.split()
        if " - " not in line or len(fields) < 6:
            continue
        # mountinfo escapes blanks in paths as octal (\040); later mounts hide earlier ones
        point = fields[4].encode().decode("unicode_escape")
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= len(best.point)):
            kind = line.split(" - ", 1)[1].split()[0]
            best = Mount(point, kind, frozenset(fields[5].split(",")))
    return best


# Where a user (or a harness that contains a run's leftovers) says temporary files go.
CHOSEN = ("TMPDIR", "TEMP", "TMP")


def fast_temp_dir() -> str:
    """tempfile's directory if $TMPDIR (or $TEMP, $TMP) names one or it is a tmpfs
    already, else /dev/shm if it is a tmpfs without nodev, noexec or nosuid that this
    user can write and search, else tempfile's directory (/tmp) after all."""
    default = tempfile.gettempdir()
    if any(os.environ.get(name) for name in CHOSEN):
        return default
    here = mount_of(Path(default))
    if here is not None and here.type == "tmpfs":
        return default
    shm = mount_of(SHARED_MEMORY)
    plain = shm is not None and shm.type == "tmpfs" and not shm.options & RESTRICTING
    if plain and os.access(SHARED_MEMORY, os.W_OK | os.X_OK):
        return str(SHARED_MEMORY)
    return default
