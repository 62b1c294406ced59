"""pytest plugin for bench/run.py --child-cost: what the tests that run in a forked child
(syscalls.child.run, the `in_child` fixture) cost, and what a bare fork of the same
process costs at the end of the run, when it is as large as it gets.

    pytest suites -p bench.child_cost      # writes $SYSCALLS_BENCH_CHILD_COST (JSON)

Kernel CPU and minor faults come from getrusage: RUSAGE_CHILDREN for the child's side,
RUSAGE_SELF for the parent's (fork itself, and copy-on-write faults while waiting).
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from syscalls import child

FIELDS = ("wall", "child_sys", "child_user", "child_faults", "parent_sys", "parent_faults")
_rows: list[tuple[float, ...]] = []


def _usage() -> tuple[float, ...]:
    c, s = resource.getrusage(resource.RUSAGE_CHILDREN), resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter(), c.ru_stime, c.ru_utime, c.ru_minflt, s.ru_stime, s.ru_minflt


def _measured(fn: Callable[[], Any]) -> Any:
    before = _usage()
    try:
        return fn()
    finally:
        _rows.append(tuple(b - a for a, b in zip(before, _usage(), strict=True)))


def _wrap(run: Callable[..., Any]) -> Callable[..., Any]:
    def measured_run(*args: Any, **kwargs: Any) -> Any:
        return _measured(lambda: run(*args, **kwargs))

    return measured_run


child.run = _wrap(child.run)


def _bare_fork() -> None:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child only exits
        os._exit(0)
    os.waitpid(pid, 0)


def _summary(rows: list[tuple[float, ...]]) -> dict[str, dict[str, float]]:
    columns = list(zip(*rows, strict=True)) or [() for _ in FIELDS]
    return {
        name: {"total": sum(col), "median": statistics.median(col) if col else 0.0}
        for name, col in zip(FIELDS, columns, strict=True)
    }


def pytest_sessionfinish() -> None:
    path = os.environ.get("SYSCALLS_BENCH_CHILD_COST")
    if not path:
        return
    children = _summary(_rows)
    count = len(_rows)
    _rows.clear()
    for _ in range(20):
        _measured(_bare_fork)
    bare = _summary(_rows)
    Path(path).write_text(json.dumps({"count": count, "children": children, "bare_fork": bare}))
