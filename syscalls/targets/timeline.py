"""Where a target run's time went, read from what the run leaves in the results directory.

The guest stamps its milestones with the seconds since it booted: the VM's init on the
console (`syscalls-init: started, kernel X [2.29 s]`, `... modules loaded [..]`,
`... running OUT/guest.sh [..]`), guest.sh as it starts the suite (`syscalls-guest:
running the suite (...) [..]`), and the events log (syscalls.targets.events: when the
Python process started, the session began, collection ended, each test started and
ended, the session finished). The host adds when it saw the suite start, which puts
the guest's clock on its own: what came before the guest's clock began (QEMU's start,
firmware, loading the kernel) is the difference.

    bytecode  the host compiling what the guest will import (alongside boot and init;
              the guest waits for it before start-up, which then includes the wait)
    boot      QEMU's start to init (firmware, kernel; VM only)
    init      init: modules, mounts, until guest.sh (VM only)
    start-up  guest.sh to pytest's session: Python, imports, conftest, plugins
    collect   the session to the first test: collection (xdist: workers start, collect)
    tests     the first test's start to the last test's end
    finish    the last test to the end of the session (reports written)
"""

from __future__ import annotations

import contextlib
import math
import re
from dataclasses import dataclass
from pathlib import Path

from syscalls.targets import results
from syscalls.targets.bytecode import DONE

STAMP = re.compile(rb"^(syscalls-init|syscalls-guest): (.*) \[(\d+(?:\.\d+)?) s\]\r?$", re.M)


@dataclass
class Timeline:
    phases: dict[str, float]  # phase -> seconds, in the order of the module doc
    tests: int  # tests that ended

    def summary(self) -> str:
        return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.phases.items())


def stamps(console: bytes) -> dict[str, float]:
    """Milestone -> guest seconds since boot, from the console's stamped lines."""
    found: dict[str, float] = {}
    for m in STAMP.finditer(console):
        text, t = m.group(2).decode(errors="replace"), float(m.group(3))
        if m.group(1) == b"syscalls-guest" and text.startswith("running the suite"):
            found.setdefault("suite", t)
        elif text.startswith("started"):
            found.setdefault("init", t)
        elif text.startswith("running "):
            found.setdefault("guest.sh", t)
    return found


def _time(t: object) -> bool:
    """A time stamp as the events log writes them: seconds since boot."""
    return type(t) in (int, float) and math.isfinite(t)  # type: ignore[arg-type]


def read(out: Path, started_after: float | None = None) -> Timeline | None:
    """The run in `out` as phases; `started_after` is the host's seconds from launching
    the target to seeing the suite start (for the boot phase). None without events."""
    console, log = (
        results.read_guest(out / results.CONSOLE),
        results.read_guest(out / results.EVENTS),
    )
    if console is None or log is None:
        return None
    marks = stamps(console)
    times = [e for e in results.json_lines(log) if isinstance(e, dict) and _time(e.get("t"))]
    session = next((e for e in times if e.get("event") == "session"), None)
    if session is None or "suite" not in marks:
        return None
    starts = [e["t"] for e in times if e.get("event") == "start"]
    ends = [e["t"] for e in times if e.get("event") == "end"]
    finish = next((e["t"] for e in times if e.get("event") == "finish"), None)
    phases: dict[str, float] = {}
    with contextlib.suppress(ValueError):
        phases["bytecode"] = float(results.read_guest(out / DONE, 64) or b"")
    if started_after is not None:
        phases["boot"] = started_after - marks["suite"] + marks.get("init", marks["suite"])
    if "init" in marks and "guest.sh" in marks:
        phases["init"] = marks["guest.sh"] - marks["init"]
    phases["start-up"] = session["t"] - marks["suite"]
    if starts:
        phases["collect"] = starts[0] - session["t"]
    if starts and ends:
        phases["tests"] = max(ends) - starts[0]
    if ends and finish is not None:
        phases["finish"] = finish - max(ends)
    return Timeline({k: round(max(v, 0.0), 3) for k, v in phases.items()}, len(ends))
