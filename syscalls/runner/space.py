"""The file systems of the tests' directories (`tmp`, `disk_tmp`): a test that fills one.

`tmp` is on a tmpfs where it can be (syscalls.tempdirs): its files are memory, and a
tmpfs holds up to half of it. A test that writes there in a loop took that half from
the machine (or from the guest a VM target boots, which the kernel's OOM killer then
emptied of workers one after another) until its limit; on a disk it filled the disk
for every process on the host. The watchdog asks `hog` every tick: one statvfs() per
file system. Only once one has lost more than its limit -- SHARE of what was free when
the run began, MOST at most -- are the workers' directories measured (each worker's,
where its tests make theirs, is named after its pid: syscalls.tempdirs.test_dir_prefix),
and the worker whose directories hold more than half the limit is named, for the
watchdog to kill.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from syscalls import tempdirs

MOST = 4 << 30  # bytes a run's tests may take from a file system, at most
SHARE = 0.5  # ... and at most this share of what was free on it when the run began
RECHECK = 1.0  # seconds between two measurements of the workers' directories


class Space:
    def __init__(self, dirs: Iterable[str]) -> None:
        self.start: dict[str, int] = {}  # directory -> bytes free on its file system
        devices = set()
        for path in dirs:
            try:
                device = os.stat(path).st_dev
            except OSError:
                continue
            if device not in devices:
                devices.add(device)
                self.start[path] = _free(path)
        self.measured = 0.0  # when the workers' directories were last measured

    def limit(self, path: str) -> int:
        return min(MOST, int(self.start[path] * SHARE))

    def hog(self, workers: dict[str, int], now: float) -> tuple[str, str] | None:
        """(worker id, why) of the worker whose tests' directories took too much of
        their file system, or None; `workers`: worker id -> pid, of those running."""
        for path, at_start in self.start.items():
            taken = at_start - _free(path)
            limit = self.limit(path)
            if taken <= limit or now - self.measured < RECHECK:
                continue
            self.measured = now
            sizes = {
                wid: _usage(path, tempdirs.test_dir_prefix(pid)) for wid, pid in workers.items()
            }
            wid = max(sizes, key=lambda w: sizes[w], default=None)
            if wid is not None and sizes[wid] > limit * SHARE:
                return wid, (
                    f"filled its directory's file system: {sizes[wid] >> 20} MiB in {path}, "
                    f"of {at_start >> 20} MiB free when the run began (the run's tests may "
                    f"take {limit >> 20} MiB): the watchdog killed its worker"
                )
        return None


def _free(path: str) -> int:
    try:
        st = os.statvfs(path)
    except OSError:
        return 0
    return st.f_bavail * st.f_frsize


def _usage(base: str, prefix: str) -> int:
    """Bytes held by the directories `base`/`prefix`*, and all below them."""
    total = 0
    try:
        todo = [e.path for e in os.scandir(base) if e.name.startswith(prefix)]
    except OSError:
        return 0
    while todo:
        try:
            entries = list(os.scandir(todo.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            total += st.st_blocks * 512
            if entry.is_dir(follow_symlinks=False):
                todo.append(entry.path)
    return total
