"""pytest plugin for the runner's tests: SIGKILL from the runner does not end a worker, as
it does not end a process stuck in uninterruptible sleep in the kernel (a deadlock in the
kernel under test), so that the run's handling of such a worker can be seen.

`-p tests.unkillable_plugin`: the runner's kill_tree() spares the process it is given
(its descendants still die), the watchdog's SIGABRT asking where it was is not sent, and
the pool leaves such a worker after 2 s, not 10.
"""

from __future__ import annotations

from syscalls import processes
from syscalls.runner import pool, stacks

_kill_tree = processes.kill_tree


def _spare_the_root(pid: int, include_root: bool = True) -> list[int]:
    return _kill_tree(pid, include_root=False)


processes.kill_tree = _spare_the_root
stacks.ask = lambda pid: None  # nor does a process stuck in the kernel take SIGABRT
pool.UNKILLABLE = 2.0
