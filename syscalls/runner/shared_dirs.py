"""What a user's test leaves in the machine's shared directories: /tmp, /dev/shm (POSIX
shared memory) and /dev/mqueue (POSIX message queues, where that is mounted) -- and its
System V IPC objects (shared memory segments, semaphore sets, message queues).

A test writes in its own `tmp`, which the run removes. One that forgets -- a file, a
FIFO or a unix socket bound in /tmp, a shm_open() or mq_open() name never unlinked --
changes the host beyond the run, and every later run or test that uses the same name
finds it there (EEXIST, or someone else's data). As root the process that runs tests
has an IPC namespace of its own (syscalls.runner.namespaces), which holds its queues,
but no /tmp of its own; a user's run has neither. So after each test of a user's run
one stat() of each of those directories says whether its entries changed (its mtime),
and the counts SHM_INFO, SEM_INFO and MSG_INFO give whether the IPC objects did (a few
microseconds in all); only then is it listed (/proc/sysvipc). An entry that appeared, is this
user's and is not the run's own (its directories, pytest's) fails the test, named, and
is removed (IPC_RMID).

Nothing tells who made a file, and the user's other processes write there too: what
one of them made while a test ran would be taken for the test's -- and removed from
under it (a library test's output directory was, as the suite ran beside it). So the
entries are judged only while no process of this user runs but the run's own (those
below the process at the top of the run, the worker's parent, and those above it):
where others run (a desktop session), nothing is judged. Root's runs are left alone
for the same reason (a compiler's files in /tmp).

Other processes of the run (workers, xdist's) run tests at the same time, and a file
one of them makes and removes in the same test must not fail a test of another. So an
entry is judged by the process that finds it only when no other test of the run that
began before the entry was made is still running (their status records, as the
watchdog reads them: syscalls.runner.status); otherwise that test's process judges it
when its own ends, and the names of the tests that saw it first (a note in the run's
status directory) go in the message: one of them may have left it.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import stat
import sys
import time
from collections.abc import Callable
from pathlib import Path

from syscalls import processes
from syscalls.removal import remove_tree
from syscalls.runner import sysv
from syscalls.runner.status import read_status
from syscalls.tempdirs import RUN_DIRS

WATCHED = ("/tmp", "/dev/shm", "/dev/mqueue")
# seconds: an entry's ctime (the coarse real-time clock) and the tests' start times
# (monotonic) are compared across two clocks
SLACK = 0.05
# A directory's mtime is the coarse clock's (a tick, 1-10 ms): an entry made within the
# tick of the last listing leaves it as it was, so a directory changed that recently is
# listed again at the next check, whatever its mtime says.
_RECENT_NS = 50_000_000
_NOTES = "left-outside"  # in the run's status directory: who saw what first


def _own_paths() -> frozenset[str]:
    """The run's own entries: its directories (SYSCALLS_RUN_TMP), pytest's."""
    return frozenset(p for p in os.environ.get(RUN_DIRS, "").split(os.pathsep) if p)


def _key(path: str, st: os.stat_result) -> str:
    return hashlib.sha1(f"{path}\0{st.st_ino}\0{st.st_ctime_ns}".encode()).hexdigest()[:16]


def strangers(top: int, uid: int) -> list[int]:
    """The processes of `uid` that are neither `top`, below it, nor above it, and see
    the same root directory: one in a sandbox of its own (gVisor's runsc runs as nobody,
    its root elsewhere) or whose root this process may not look at (not dumpable) is
    taken to write elsewhere."""
    table = processes.process_table(proc=True)
    ours = {top, *processes.descendants(top, table)}
    pid = top
    while pid in table and pid not in (0, 1):  # its ancestors (a shell, a harness)
        pid = table[pid]
        ours.add(pid)
    found = []
    root = os.stat("/")
    for pid in table:
        if pid not in ours:
            with contextlib.suppress(OSError):
                if os.stat(f"/proc/{pid}").st_uid != uid:
                    continue
                theirs = os.stat(f"/proc/{pid}/root")
                if (theirs.st_dev, theirs.st_ino) == (root.st_dev, root.st_ino):
                    found.append(pid)
    return found


SYSV = "System V "  # the names of IPC objects among the paths: "System V shm 12"
_SHM_INFO, _SEM_INFO, _MSG_INFO = 14, 19, 12  # linux/shm.h, linux/sem.h, linux/msg.h
_INFO = ctypes.create_string_buffer(256)  # shm_info, seminfo, msginfo: all smaller


def _sysv_counts() -> tuple[int, ...]:
    """The IPC objects in use and the highest index of each kind (three calls)."""
    libc, info = processes.LIBC, _INFO
    counts = []
    for call, args, offset in (
        (libc.shmctl, (0, _SHM_INFO, info), 0),  # shm_info.used_ids
        (libc.semctl, (0, 0, _SEM_INFO, info), 28),  # seminfo.semusz
        (libc.msgctl, (0, _MSG_INFO, info), 0),  # msginfo.msgpool
    ):
        counts.append(call(*args))
        counts.append(int.from_bytes(info.raw[offset : offset + 4], sys.byteorder))
    return tuple(counts)


def _sysv_listing() -> dict[str, tuple[int, int, str]]:
    """ "System V shm 12" -> (creator's uid, ctime in seconds, what it is), for every
    object of this IPC namespace (/proc/sysvipc, as syscalls.runner.sysv reads it)."""
    found = {}
    for kind, path in sysv.PATHS.items():
        try:
            with open(path, "rb") as f:
                listed = sysv.objects(kind, f.read())
        except OSError:
            continue
        for name, (what, cuid, ctime) in listed.items():
            if cuid is not None and ctime is not None:
                found[f"{SYSV}{name}"] = (cuid, ctime, f"a System V {kind}, {what}")
    return found


class SharedDirs:
    """check() after each test: what it left in WATCHED, removed, as a message."""

    def __init__(
        self, status_dir: Path | None = None, me: Path | None = None, top: int | None = None
    ) -> None:
        """`status_dir`, `me`: the run's status records and this process's; `top`: the
        process at the top of the run (this one's, by default)."""
        self.uid = os.geteuid()
        self.top = os.getpid() if top is None else top
        self.status_dir, self.me = status_dir, me
        self.shapes: dict[str, tuple[int, int, int, bool] | None] = {}
        self.names: dict[str, frozenset[str]] = {}
        self.pending: dict[str, str] = {}  # path -> key: another test may yet remove it
        for d in WATCHED:  # those there (/dev/mqueue is not always mounted)
            shape = self._shape(d)
            if shape is not None:
                self.shapes[d], self.names[d] = shape, self._list(d)
        self.sysv_counts = _sysv_counts() if processes.LINUX else None
        self.sysv = _sysv_listing() if processes.LINUX else {}

    @staticmethod
    def _shape(d: str) -> tuple[int, int, int, bool] | None:
        try:
            st = os.stat(d)
        except OSError:
            return None
        recent = time.time_ns() - st.st_mtime_ns < _RECENT_NS  # listed again next time
        return st.st_ino, st.st_mtime_ns, st.st_size, recent

    @staticmethod
    def _list(d: str) -> frozenset[str]:
        try:
            return frozenset(os.listdir(d))
        except OSError:
            return frozenset()

    def check(
        self, nodeid: str, began: float, wider: Callable[[], bool] = lambda: False
    ) -> str | None:
        """What the test `nodeid`, begun at `began` (monotonic) and just ended, left in
        the shared directories (removed), or None. `wider()`: whether the test uses a
        fixture of a wider scope (a module's), whose files those are taken to be until
        its teardown removes them (asked only when something was found)."""
        found: list[str] = []
        for d, was in self.shapes.items():
            shape = self._shape(d)
            if shape == was and not (was and was[3]):
                continue
            self.shapes[d] = shape
            names = self._list(d)
            new = names - self.names[d]
            self.names[d] = names
            found.extend(os.path.join(d, n) for n in sorted(new))
        if self.sysv_counts is not None:
            counts = _sysv_counts()
            if counts != self.sysv_counts or any(p.startswith(SYSV) for p in self.pending):
                self.sysv_counts, was = counts, self.sysv
                self.sysv = _sysv_listing()
                found.extend(sorted(set(self.sysv) - set(was)))
        if not found and not self.pending:
            return None
        paths = [*found, *(p for p in self.pending if p not in found)]
        return self._judge(paths, nodeid, began, wider)

    def _judge(
        self, paths: list[str], nodeid: str, began: float, wider: Callable[[], bool]
    ) -> str | None:
        own = _own_paths()
        left: list[tuple[str, os.stat_result | None, str]] = []
        others: set[str] = set()
        running = self._running_since()
        offset = time.time() - time.monotonic()
        if any(p.startswith(SYSV) for p in paths):
            # Looked at again after the other tests' records: one that had removed its
            # object and ended since the listing was taken left nothing.
            self.sysv = _sysv_listing()
        for path in paths:
            ipc = path.startswith(SYSV)
            try:
                if ipc:  # ctime in whole seconds: a second more of slack
                    uid, ctime, _ = self.sysv[path]
                    made, slack, st = ctime + 0.5 - offset, SLACK + 1, None
                    key = hashlib.sha1(f"{path}\0{ctime}".encode()).hexdigest()[:16]
                else:
                    st = os.lstat(path)
                    uid, made, slack = st.st_uid, st.st_ctime_ns / 1e9 - offset, SLACK
                    key = _key(path, st)
            except (OSError, KeyError):
                self.pending.pop(path, None)  # gone: made and removed, by whoever
                continue
            name = os.path.basename(path)
            if uid != self.uid or path in own or name.startswith("pytest-of-"):
                self.pending.pop(path, None)
                continue
            if path not in self.pending and made < began - slack:
                continue  # made before this test began, by a test running elsewhere
            if any(start <= made + slack for start in running):
                if path not in self.pending:  # that test may yet remove it
                    self.pending[path] = key
                    self._note(key, nodeid)
                continue
            self.pending.pop(path, None)
            left.append((path, st, key))
        if not left or wider() or strangers(self.top, self.uid):
            return None  # a module's fixture's; or another process's, maybe
        for _, _, key in left:
            self._note(key, nodeid)
            others |= self._notes(key) - {nodeid}
        shown = [self._show(path, st) for path, st, _ in left]
        message = (
            f"the test left {', '.join(shown)} behind: a test writes only in its own "
            "directory (tmp), and removes the IPC objects it makes"
        )
        if others:
            message += (
                "; it appeared while another worker ran "
                + ", ".join(sorted(others))
                + ", which may have left it instead"
            )
        return message

    def _show(self, path: str, st: os.stat_result | None) -> str:
        """`path` named and removed."""
        if st is not None:
            return f"{path} ({_kind(st.st_mode)})" + _remove(path, st)
        sysv.remove([path.removeprefix(SYSV)])
        gone = path not in _sysv_listing()
        return f"{self.sysv[path][2]} (id {path.rsplit(' ', 1)[1]})" + (
            ", removed" if gone else ", not removed"
        )

    def _running_since(self) -> list[float]:
        """When the tests running now in the run's other processes began (monotonic)."""
        if self.status_dir is None:
            return []
        starts = []
        try:
            paths = list(self.status_dir.iterdir())
        except OSError:
            return []
        for path in paths:
            if path == self.me or not path.is_file():
                continue
            status = read_status(path)
            if status is not None and status.nodeid:
                starts.append(status.start)
        return starts

    def _note(self, key: str, nodeid: str) -> None:
        if self.status_dir is None:
            return
        with contextlib.suppress(OSError):
            notes = self.status_dir / _NOTES
            notes.mkdir(exist_ok=True)
            (notes / f"{key}.{os.getpid()}").write_text(nodeid[:4096])

    def _notes(self, key: str) -> set[str]:
        if self.status_dir is None:
            return set()
        found = set()
        with contextlib.suppress(OSError):
            for path in (self.status_dir / _NOTES).glob(f"{key}.*"):
                with contextlib.suppress(OSError):
                    found.add(path.read_text())
        return found


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a unix socket"),
        (stat.S_ISLNK, "a symbolic link"),
    ):
        if test(mode):
            return name
    return "a file"


def _remove(path: str, st: os.stat_result) -> str:
    """Remove `path` (not following a link): '' when done, else why not."""
    if stat.S_ISDIR(st.st_mode):
        left = remove_tree(Path(path))
        return f", not removed: {'; '.join(left)}" if left else ", removed"
    try:
        os.unlink(path)
    except FileNotFoundError:  # removed by the process of another test that saw it
        pass
    except OSError as e:
        return f", not removed: {e.strerror}"
    return ", removed"
