"""A test that forks without end: its worker and every process below it are killed.

A fork bomb (a test's loop of fork() that never waits, or a kernel whose fork or
exit went wrong) took every pid of the machine until the run's limit: as root nothing
caps it (RLIMIT_NPROC does not apply to root), and the host's own processes then
failed to fork. The watchdog asks `bomb` every tick, which reads the machine's count
of tasks (/proc/loadavg, one read). Only once that count has grown by more than GATE
since the run began are the workers' trees counted (a walk of /proc, at most every
RECHECK seconds while the count stays high: another program's threads may be the
cause), and a worker with more than LIMIT processes below it in its session is named for
the watchdog to kill, with its whole tree (its process group at once, then the rest,
frozen first, so none escapes by forking). A run that a test starts in a session of its
own is its own watchdog's to police; a bomb whose every process starts a session of its
own is not counted.
"""

from __future__ import annotations

from syscalls import processes

LIMIT = 1024  # processes below one worker; a test of the suite starts a few at a time
GATE = 2 * LIMIT  # tasks (processes and threads) more than when the run began
RECHECK = 2.0  # seconds between two counts of the workers' trees


def tasks(loadavg: str = "/proc/loadavg") -> int | None:
    """The machine's number of tasks: the "running/total" field's total; None where
    there is no /proc."""
    try:
        with open(loadavg, "rb") as f:
            return int(f.read().split()[3].partition(b"/")[2])
    except (OSError, ValueError, IndexError):
        return None


class Bombs:
    def __init__(self) -> None:
        self.start = tasks()
        self.counted = float("-inf")  # when the workers' trees were last counted

    def bomb(self, workers: dict[str, int], now: float) -> tuple[str, str] | None:
        """(worker id, why) of a worker with more than LIMIT processes below it, or
        None; `workers`: worker id -> pid, of those running."""
        total = tasks()
        if self.start is None or total is None or total - self.start <= GATE:
            return None
        if now - self.counted < RECHECK:
            return None
        self.counted = now
        stats = processes.stat_table()  # one read of each: parents and sessions
        table = {p: int(fields[1]) for p, fields in stats.items()}
        sizes = {wid: _in_its_session(pid, table, stats) for wid, pid in workers.items()}
        wid = max(sizes, key=lambda w: sizes[w], default=None)
        if wid is None or sizes[wid] <= LIMIT:
            return None
        return wid, (
            f"started processes without end: {sizes[wid]} were running below its worker "
            f"(the limit is {LIMIT}), {total - self.start} more tasks on the machine than "
            "when the run began: the watchdog killed its worker and all of them"
        )


def _in_its_session(pid: int, table: dict[int, int], stats: dict[int, list[bytes]]) -> int:
    """How many processes below `pid` are in its session (`table`: pid -> parent,
    `stats`: processes.stat_table). A run that one of its tests starts (the runner's own
    tests do) is a session of its own there, whose watchdog polices what its tests
    start; a process that left the session is not counted."""
    session = stats.get(pid, [])[3:4]
    return sum(1 for p in processes.descendants(pid, table) if stats[p][3:4] == session)
