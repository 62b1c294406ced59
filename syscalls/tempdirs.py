"""Where the tests' private directories (the `tmp` fixture) are made: on a tmpfs when
this user can write one, since making and removing a directory there costs microseconds
against milliseconds on a disk file system. Tests whose subject needs a disk-backed
file system (O_DIRECT, file handles, fanotify's FIDs, user xattrs) use `disk_tmp`,
which stays in $TMPDIR's directory."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Mounted as tmpfs on every Linux distribution (POSIX shared memory lives there).
SHARED_MEMORY = Path("/dev/shm")


def file_system_type(path: Path, mountinfo: Path = Path("/proc/self/mountinfo")) -> str | None:
    """The type of the file system that `path` is on, from the innermost mount point
    above it in mountinfo; None where there is no mountinfo (not Linux, no /proc)."""
    try:
        lines = mountinfo.read_text().splitlines()
    except OSError:
        return None
    real = os.path.realpath(path)
    best, kind = "", None
    for line in lines:
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        # mountinfo escapes blanks in paths as octal (\040); later mounts hide earlier ones
        point = fields[4].encode().decode("unicode_escape")
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, line.split(" - ", 1)[1].split()[0]
    return kind


def fast_temp_dir() -> str:
    """$TMPDIR's directory if it is a tmpfs, else /dev/shm if it is a tmpfs this user can
    write and search, else $TMPDIR's directory after all."""
    default = tempfile.gettempdir()
    if file_system_type(Path(default)) == "tmpfs":
        return default
    if file_system_type(SHARED_MEMORY) == "tmpfs" and os.access(SHARED_MEMORY, os.W_OK | os.X_OK):
        return str(SHARED_MEMORY)
    return default
