"""syscalls.targets.timeline: a run's phases from the guest's stamps and events."""

from __future__ import annotations

import json
from pathlib import Path

from syscalls.targets import timeline

CONSOLE = """$ qemu-system-x86_64 ...
[    0.000000] Linux version 6.1.0
syscalls-init: started, kernel 6.1.0-57-cloud-amd64 [2.00 s]
syscalls-init: modules loaded [2.40 s]
syscalls-init: running /out/guest.sh [2.60 s]
syscalls-guest: running the suite (vm, kernel 6.1.0-57-cloud-amd64) [2.75 s]
.....
syscalls-guest: the suite exited with status 0
syscalls-init: guest.sh exited with status 0 [20.00 s]
"""
EVENTS = [
    {"event": "session", "python_start": 2.8, "t": 6.0},
    {"event": "collected", "count": 2, "t": 9.5},
    {"event": "start", "nodeid": "a", "t": 10.0},
    {"event": "end", "nodeid": "a", "t": 12.0},
    {"event": "start", "nodeid": "b", "t": 12.0},
    {"event": "end", "nodeid": "b", "t": 18.0},
    {"event": "finish", "exitstatus": 0, "t": 19.0},
]


def write(out: Path, console: str = CONSOLE, events: list[dict] = EVENTS) -> Path:
    out.mkdir()
    (out / "console.log").write_text(console)
    (out / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    return out


def test_phases_from_the_stamps_the_events_and_the_hosts_clock(tmp_path: Path) -> None:
    out = write(tmp_path / "out")
    (out / "bytecode.done").write_text("0.500\n")  # the host's compilation, alongside
    # The host saw the suite start 3.5 s after launching QEMU, when the guest said 2.75.
    spent = timeline.read(out, started_after=3.5)
    assert spent is not None and spent.tests == 2
    assert list(spent.phases) == [
        "bytecode", "boot", "init", "start-up", "collect", "tests", "finish",
    ]  # fmt: skip
    expect = {"bytecode": 0.5, "boot": 2.75, "init": 0.6, "start-up": 3.25, "collect": 4.0,
              "tests": 8.0, "finish": 1.0}  # fmt: skip
    assert spent.phases == expect
    assert spent.summary().startswith("bytecode 0.5 s, boot 2.8 s, init 0.6 s, start-up 3.2 s")


def test_targets_without_init_or_host_clock_leave_those_phases_out(tmp_path: Path) -> None:
    console = "syscalls-guest: running the suite (uml, kernel 6.1.176) [1.50 s]\n"
    spent = timeline.read(write(tmp_path / "out", console))
    assert spent is not None
    assert list(spent.phases) == ["start-up", "collect", "tests", "finish"]


def test_a_run_cut_short_has_the_phases_it_reached(tmp_path: Path) -> None:
    spent = timeline.read(write(tmp_path / "out", events=EVENTS[:3]), started_after=3.5)
    assert spent is not None and spent.tests == 0
    assert "tests" not in spent.phases and spent.phases["collect"] == 4.0


def test_no_timeline_without_the_suites_start_or_its_events(tmp_path: Path) -> None:
    assert timeline.read(write(tmp_path / "a", console="booting\n")) is None
    assert timeline.read(write(tmp_path / "b", events=[])) is None
    assert timeline.read(tmp_path / "missing") is None
    # Events of an older run without time stamps: none either.
    old = [{k: v for k, v in e.items() if k != "t"} for e in EVENTS]
    assert timeline.read(write(tmp_path / "c", events=old)) is None


def test_events_the_guest_garbled_are_left_out_of_the_phases(tmp_path: Path) -> None:
    out = write(tmp_path / "out")
    with (out / "events.jsonl").open("a") as log:
        log.write('[1]\n5\n{"event": "end", "t": "late"}\n{"event": "end", "t": NaN}\n')
        log.write('{"event": "end", "t": Infinity}\n' + "[" * 100_000 + "\n")
    spent = timeline.read(out, started_after=3.5)
    assert spent is not None and spent.tests == 2
    assert spent.phases["tests"] == 8.0 and spent.phases["finish"] == 1.0
