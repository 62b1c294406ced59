"""Where the tests' private directories (the `tmp` fixture) are made: on a tmpfs when
this user can write one, since making and removing a directory there costs microseconds
against milliseconds on a disk file system. Tests whose subject needs a disk-backed
file system (O_DIRECT, file handles, fanotify's FIDs, user xattrs) use `disk_tmp`,
which stays in $TMPDIR's directory. A tmpfs mounted nodev, noexec or nosuid is not
taken: tests make device nodes, run files and set-user-ID bits in `tmp`.

Both are made inside two directories of the run's own (RunDirs): a test whose process
is killed mid-way (the watchdog's limit, SIGTERM, a crash) cannot remove its directory,
and the run's first process removes all of them when it ends.

A run's own directories (own_dir) hold a note of their owner, its pid and start time: a
run that is SIGKILLed, or crashes, cannot remove them, so the next run of the same user
removes those whose owner is gone before it makes its own (sweep)."""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

from syscalls import processes
from syscalls.mountinfo import SELF, Mount, read
from syscalls.removal import remove_tree

# Mounted as tmpfs on every Linux distribution (POSIX shared memory lives there).
SHARED_MEMORY = Path("/dev/shm")
# Mount options under which some tests' subjects do not work as on a plain file system.
RESTRICTING = frozenset({"nodev", "noexec", "nosuid"})


def mount_of(path: Path, mountinfo: Path = SELF) -> Mount | None:
    """The mount that `path` is on: the innermost mount point above it in mountinfo;
    None where there is no mountinfo (not Linux, no /proc)."""
    real = os.path.realpath(path)
    best: Mount | None = None
    for mount in read(mountinfo) or ():
        point = mount.point
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= len(best.point)):
            best = mount  # later mounts hide earlier ones
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


# The run's two directories, as the first process of a run made them: its xdist workers
# (and the runs a test starts, as the same user) make their tests' directories in them.
RUN_DIRS = "SYSCALLS_RUN_TMP"


class RunDirs(NamedTuple):
    fast: str  # the parent of every test's `tmp`
    disk: str  # the parent of every test's `disk_tmp`
    owned: bool  # made by this process, which removes them (remove())

    def remove(self) -> None:
        if self.owned:
            for path in {self.fast, self.disk}:
                removed_tree(Path(path))


def run_dirs() -> RunDirs:
    """The run's directories: those $SYSCALLS_RUN_TMP names if they are this user's alone
    (a worker, a run inside a test of the same user), else new ones, named there for
    the processes this one starts."""
    inherited = os.environ.get(RUN_DIRS, "").split(os.pathsep)
    if len(inherited) == 2 and all(_private(path) for path in inherited):
        return RunDirs(inherited[0], inherited[1], owned=False)
    fast_base, disk_base = fast_temp_dir(), tempfile.gettempdir()
    fast = own_dir("syscalls-run-", fast_base)
    disk = fast if disk_base == fast_base else own_dir("syscalls-run-", disk_base)
    for path in {fast, disk}:  # searchable: a test's child of another user reaches its tmp
        os.chmod(path, 0o711)
    os.environ[RUN_DIRS] = os.pathsep.join((fast, disk))
    return RunDirs(fast, disk, owned=True)


class Kept:
    """Where each test's directory (`tmp`, `disk_tmp`) is made, kept as a test must
    leave it. Each process that runs tests makes them in a directory of its own in the
    run's (directory()); a test that removes that (`rmtree(tmp.parent)`), replaces it or
    takes its permissions away would make every later test's `tmp` fail in its setup,
    far from the cause. So after every test one lstat() each of those and of the run's
    own directories (check()): what changed is put back and named for the test. The
    process's own directory only its tests can reach through `tmp`; the run's is shared
    with every worker, so a change there is named for the test that was running when it
    was found, which may not be the one that made it."""

    def __init__(self, dirs: RunDirs) -> None:
        self.runs = {path: _shape(path) for path in sorted({dirs.fast, dirs.disk})}
        self.notes = {path: _note(path) for path in self.runs}
        self.pid = -1
        self.own: dict[str, tuple[str, Shape]] = {}  # run's directory -> own one, shape

    def directory(self, base: str) -> str:
        """This process's directory in the run's directory `base`, made at its first
        test there; named after its pid (test_dir_prefix)."""
        if self.pid != os.getpid():  # a forked worker: its own, not its parent's
            self.own, self.pid = {}, os.getpid()
        if base not in self.own:
            path = os.path.join(base, test_dir_prefix(self.pid) + "tests")
            _make(path)
            self.own[base] = (path, _shape(path))
        return self.own[base][0]

    def check(self) -> str | None:
        """What the last test did to these directories (put back), or None."""
        told, changed = [], []
        for path, was in self.runs.items():
            now = _shape(path)
            if now != was:
                changed.append(path)
                done = _put_back(path, was, self.notes[path])
                self.runs[path] = _shape(path)
                told.append(
                    f"the run's directory {path}, below which every test makes its tmp, "
                    f"{_what_changed(was, now)} while this test ran (by it, or by a test "
                    f"of another worker running alongside it): {done}"
                )
        for base, (path, was) in list(self.own.items()):
            now = _shape(path)
            if now == was:
                continue
            done = _put_back(path, was, None)
            self.own[base] = (path, _shape(path))
            if base in changed:
                continue  # went with the run's, told above
            told.append(
                f"the test changed {path}, the directory its process's tests make their "
                f"tmp in: it {_what_changed(was, now)}; {done}"
            )
        return "\n".join(told) if told else None


def _make(path: str) -> None:
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    os.chmod(path, 0o711)  # searchable: a test's child of another user reaches its tmp


Shape = tuple[int, int, int, int] | None  # (device, inode, mode, uid), None if missing


def _shape(path: str) -> Shape:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_mode, st.st_uid


def _note(path: str) -> str | None:
    try:
        return Path(path, OWNER).read_text()
    except OSError:
        return None


def _what_changed(was: Shape, now: Shape) -> str:
    if now is None:
        return "was removed"
    if not stat.S_ISDIR(now[2]):
        return "was replaced by something not a directory"
    if was is None or now[:2] != was[:2]:
        return "was removed and made again"
    if now[3] != was[3]:
        return f"changed owner from uid {was[3]} to {now[3]}"
    return f"changed mode from {stat.S_IMODE(was[2]):04o} to {stat.S_IMODE(now[2]):04o}"


def _put_back(path: str, was: Shape, note: str | None) -> str:
    """`path` a directory again, with the owner and mode it had and its owner's note."""
    try:
        if os.path.islink(path) or not os.path.isdir(path):
            if os.path.lexists(path):
                os.unlink(path)
            os.mkdir(path, 0o700)
        if was is not None:
            if os.lstat(path).st_uid != was[3]:
                os.chown(path, was[3], -1)
            os.chmod(path, stat.S_IMODE(was[2]))
        if note is not None and _note(path) is None:
            Path(path, OWNER).write_text(note)
    except OSError as e:
        return f"could not be put back ({e.strerror}): the tests after it may fail"
    return "put back"


def test_dir_prefix(pid: int) -> str:
    """The name that the directory of a process's tests (Kept.directory) starts with in
    the run's: the pid of the process that runs them, so that what a worker that died
    left is known (remove_left_by) and what a worker holds can be measured
    (syscalls.runner.space)."""
    return f"syscalls-{pid}-"


def remove_left_by(pid: int) -> None:
    """Remove the tests' directories that the process `pid` (a worker that died) left
    in the run's directories."""
    dirs = os.environ.get(RUN_DIRS, "").split(os.pathsep)
    prefix = test_dir_prefix(pid)
    for base in {d for d in dirs if d}:
        try:
            left = [e.path for e in os.scandir(base) if e.name.startswith(prefix)]
        except OSError:
            continue
        for path in left:
            removed_tree(Path(path))


OWNER = ".owner"  # in a directory of a run's own: "PID START" of the process it is


def own_dir(prefix: str, base: str | None = None) -> str:
    """A new directory in `base` (tempfile's by default) of this process's own, marked
    with its owner, once the directories of `prefix` there whose owner is gone are."""
    where = base or tempfile.gettempdir()
    sweep(where, prefix)
    path = tempfile.mkdtemp(prefix=prefix, dir=where)
    me = processes.own_pid()
    Path(path, OWNER).write_text(_identity(me) or f"{me}")
    return path


def sweep(base: str, prefix: str) -> list[str]:
    """Remove this user's directories `base`/`prefix`* whose owner (OWNER) has ended;
    those removed. One without a note is left alone: not made by own_dir, or being made."""
    removed = []
    try:
        entries = [e for e in os.scandir(base) if e.name.startswith(prefix)]
    except OSError:
        return removed
    for entry in entries:
        if _private(entry.path) and _abandoned(Path(entry.path)):
            if not removed_tree(Path(entry.path)):
                continue
            removed.append(entry.path)
    return removed


def _identity(pid: int) -> str | None:
    """ "PID START": the pid and when the process started (/proc's field 22, in clock
    ticks since boot: a pid used again is another process); None if it is gone, or a
    zombie that its parent (a subreaper's orphan) has not reaped yet. Where /proc cannot
    tell, the pid alone while it runs."""
    fields = processes.stat_fields(pid)
    if fields and fields[0] == b"Z":
        return None
    if fields is not None and len(fields) > 19 and fields[19].isdigit():
        return f"{pid} {int(fields[19])}"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return str(pid)


def _abandoned(path: Path) -> bool:
    try:
        note = (path / OWNER).read_text().strip()
        pid = int(note.split()[0])
    except (OSError, ValueError, IndexError):
        return False
    now = _identity(pid)
    return now is None or (" " in note and " " in now and now != note)


def _private(path: str) -> bool:
    """A directory (not a link) of this user's that nobody else may write."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & 0o022


def removed_tree(path: Path) -> bool:
    """remove_tree(path), saying on stderr what it could not remove; whether all went."""
    left = remove_tree(path)
    if left:
        print(f"syscalls: could not remove all of {path}: {'; '.join(left)}", file=sys.stderr)
    return not left
