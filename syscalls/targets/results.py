"""The results directory of a target run, and what to do when the guest died mid-run.

    junit.xml, profile.json   what pytest wrote inside the target (as on the host)
    events.jsonl              progress log, one line per test (syscalls.targets.events)
    status                    the suite's exit status, written by the guest at the end
    console.log               everything the target printed (serial console, UML, runsc)
    guest.sh                  the command the guest ran

When the guest never finished, junit.xml and profile.json are rebuilt from events.jsonl:
every test that ended keeps its outcome and observations, and each test that had
started but not ended is recorded as failed with the reason the run ended.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from syscalls import exitcodes, runs
from syscalls.outdir import write_atomic
from syscalls.profile import PROPERTY, Profile
from syscalls.userfiles import UnreadableInput, read_regular

JUNIT = "junit.xml"
PROFILE = "profile.json"
EVENTS = "events.jsonl"
STATUS = "status"
CONSOLE = "console.log"
SCRIPT = "guest.sh"
KERNEL_CONFIG = "kernel.config"  # the booted image's configuration, for the guest's verdicts


def clear(out: Path) -> None:
    """Remove what an earlier run left, so nothing stale is taken for this run's."""
    out.mkdir(parents=True, exist_ok=True)
    for name in (
        *(JUNIT, PROFILE, PROFILE + UNREADABLE, EVENTS, STATUS, CONSOLE, SCRIPT, KERNEL_CONFIG),
    ):
        (out / name).unlink(missing_ok=True)


# What the host reads of a results directory the target wrote into, at most
GUEST_FILE_LIMIT = 256 << 20


def read_guest(path: Path, limit: int = GUEST_FILE_LIMIT) -> bytes | None:
    """A file in the results directory, which the kernel under test could write: its
    first `limit` bytes, and None for what is not a regular file (a FIFO would hold the
    host's read for ever, a symlink lead out of the directory) or cannot be read."""
    try:
        return read_regular(path, "result", limit, follow=False)[:limit]
    except UnreadableInput:
        return None


# What the target may leave in the results directory: far past what a run writes (the
# whole suite: about 5 MB in a few files)
USAGE_LIMIT = 1 << 30  # bytes on disk
ENTRIES_LIMIT = 10_000  # files and directories


def usage(out: Path, most: int = ENTRIES_LIMIT) -> tuple[int, int]:
    """(bytes on disk, entries) under `out`, counting no further than `most` + 1
    entries: the target may have made millions."""
    used = entries = 0
    todo = [out]
    while todo and entries <= most:
        try:
            with os.scandir(todo.pop()) as listing:
                for entry in listing:
                    entries += 1
                    if entries > most:
                        break
                    with contextlib.suppress(OSError):
                        info = entry.stat(follow_symlinks=False)
                        if stat.S_ISDIR(info.st_mode):
                            todo.append(Path(entry.path))
                        else:
                            used += info.st_blocks * 512
        except OSError:
            continue
    return used, entries


def overflowing(out: Path, before: tuple[int, int] = (0, 0)) -> str | None:
    """Why the results directory holds more than a run writes, or None; `before`: its
    usage() as the run began (--out may be a directory that holds other things). One
    that held more than ENTRIES_LIMIT is not watched: usage() stopped counting it."""
    if before[1] > ENTRIES_LIMIT:
        return None
    used, entries = usage(out, ENTRIES_LIMIT + before[1])
    if used - before[0] > USAGE_LIMIT:
        return f"the target wrote more than {USAGE_LIMIT >> 20} MiB into the results directory"
    if entries - before[1] > ENTRIES_LIMIT:
        return f"the target made more than {ENTRIES_LIMIT} files in the results directory"
    return None


def read_profile(path: Path) -> Profile | None:
    """The profile the target wrote, read as read_guest reads (None: none, or not one)."""
    return _read_profile(path)[0]


def profile_problem(path: Path) -> str | None:
    """Why the target's profile is none that syscalls.profile writes (None: it is one)."""
    return _read_profile(path)[1]


def _read_profile(path: Path) -> tuple[Profile | None, str | None]:
    """The target's profile, or why it is none. The kernel under test wrote it: any JSON
    may be there, nested too deep to parse. Read and parsed once."""
    data = read_guest(path)
    if data is None:
        return None, f"{path.name} is missing or not a regular file"
    try:
        doc = runs.checked_profile(path, json.loads(data))
    except (ValueError, RecursionError) as e:
        return None, f"{path.name} is not valid JSON ({str(e).split(':')[0]})"
    except runs.InputError as e:
        return None, str(e).removeprefix(f"{path}: ")
    return Profile.from_json(doc, path), None


def read_status(out: Path) -> int | None:
    try:
        return int((read_guest(out / STATUS, 64) or b"").strip())
    except ValueError:
        return None


@dataclass
class Events:
    session: dict[str, Any] | None = None
    ended: dict[str, dict[str, Any]] = field(default_factory=dict)
    running: list[str] = field(default_factory=list)  # started, not ended, in start order
    finished: bool = False
    unreadable: int = 0  # lines that are no event syscalls.targets.events writes


def read_events(path: Path) -> Events:
    """The progress log. A crash may cut its last line short: that line is left out. The
    kernel under test wrote it: any other line that is not one of the events it holds is
    counted, not read."""
    events = Events()
    data = read_guest(path) or b""
    for e in json_lines(data[: data.rfind(b"\n") + 1]):
        if not _event(e):
            events.unreadable += 1
            continue
        kind = e.get("event")
        if kind == "session":
            events.session = e
        elif kind == "start":
            events.running.append(e["nodeid"])
        elif kind == "end":
            if e["nodeid"] in events.running:
                events.running.remove(e["nodeid"])
            events.ended[e["nodeid"]] = e
        elif kind == "finish":
            events.finished = True
    return events


def json_lines(data: bytes | None) -> Iterator[Any]:
    """Each line of a log the target wrote, parsed: None for one that is no JSON (cut
    short by a crash, or nested deeper than Python parses)."""
    for line in (data or b"").decode(errors="replace").splitlines():
        try:
            yield json.loads(line)
        except (ValueError, RecursionError):
            yield None


def _event(e: Any) -> bool:
    """An event as syscalls.targets.events writes it, with the fields read here."""
    if not isinstance(e, dict):
        return False
    kind = e.get("event")
    if kind in ("start", "end") and not isinstance(e.get("nodeid"), str):
        return False
    if kind == "end":
        observations = e.get("observations")
        return (
            e.get("outcome") in runs.OUTCOMES
            and isinstance(observations, list)
            and all(isinstance(o, str) for o in observations)
            and isinstance(e.get("reason", ""), str | None)
        )
    if kind == "session":
        fields = ("platform", "kernel", "target")
        return isinstance(e.get("meta", {}), dict) and all(
            isinstance(e.get(f, ""), str) for f in fields
        )
    return True


def salvage(
    out: Path, target: str, why: str, log: Path | None = None, running: list[str] | None = None
) -> Events:
    """Rebuild junit.xml and profile.json (where missing) from the progress log (`log`,
    by default the one in `out`). The tests that had started and not ended fail with
    `why`; `running`, where known, says which those were (the log's writer may have
    died before it heard of a test's end, or start), and the others are left out."""
    events = read_events(out / EVENTS if log is None else log)
    tests: dict[str, dict[str, Any]] = {}
    for nodeid, e in events.ended.items():
        entry: dict[str, Any] = {"outcome": e["outcome"], "observations": e["observations"]}
        if e.get("reason"):
            entry["reason"] = e["reason"]
        tests[nodeid] = entry
    for nodeid in events.running if running is None else running:
        tests[nodeid] = {"outcome": "failed", "observations": [], "reason": why}
    session = events.session or {}
    if not (out / PROFILE).exists():
        profile = Profile(
            platform=session.get("platform", ""),
            kernel=session.get("kernel", ""),
            target=session.get("target", target),
            tests=tests,
            meta={**session.get("meta", {}), "incomplete": why},
        )
        if events.unreadable:  # the kernel under test garbled its log: say so
            profile.meta["unreadable_progress_lines"] = events.unreadable
        profile.write(out / PROFILE)
    if not (out / JUNIT).exists():
        write_junit(out / JUNIT, tests, why)
    return events


UNREADABLE = ".unreadable"  # suffix of a profile the target wrote that is not one


def settle(out: Path, target: str, status: int) -> None:
    """After a suite that wrote its exit status: the results it did not write, rebuilt
    from the progress log. A profile that is not one (the kernel under test wrote it)
    is kept beside, as profile.json.unreadable, and the run is incomplete for it."""
    why = f"pytest exited with status {status}"
    profile = out / PROFILE
    if profile.exists() or profile.is_symlink():
        problem = profile_problem(profile)
        if problem is not None:
            profile.replace(profile.with_name(PROFILE + UNREADABLE))
            why = f"the target's {problem}"
    if not (out / JUNIT).exists() or not profile.exists():  # pytest died after all
        salvage(out, target, why)


def write_junit(path: Path, tests: dict[str, dict[str, Any]], why: str) -> None:
    """JUnit XML in pytest's shape (classname from the module path, name the test)."""
    suite = ET.Element("testsuite", name="pytest")
    counts = {"failures": 0, "errors": 0, "skipped": 0}
    for nodeid, entry in tests.items():
        module, _, name = nodeid.partition("::")
        classname = module.removesuffix(".py").replace("/", ".")
        if "::" in name:  # a test in a class
            cls, _, name = name.rpartition("::")
            classname += "." + cls.replace("::", ".")
        case = ET.SubElement(suite, "testcase", classname=classname, name=name, time="0")
        props = ET.SubElement(case, "properties")
        ET.SubElement(props, "property", name=PROPERTY, value=json.dumps(entry["observations"]))
        outcome, reason = entry["outcome"], entry.get("reason", "")
        if outcome in ("failed", "xpassed"):
            counts["failures"] += 1
            ET.SubElement(case, "failure", message=reason).text = reason
        elif outcome == "error":
            counts["errors"] += 1
            ET.SubElement(case, "error", message=reason).text = reason
        elif outcome in ("skipped", "xfailed"):
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", type="pytest.skip", message=reason)
    suite.set("tests", str(len(tests)))
    for k, v in counts.items():
        suite.set(k, str(v))
    root = ET.Element("testsuites", name=f"incomplete run: {why}")
    root.append(suite)
    write_atomic(path, ET.tostring(root, encoding="utf-8", xml_declaration=True))


def incomplete(out: Path) -> str | None:
    """Why the run in `out` did not finish, as its profile says (None: it did, or none)."""
    profile = read_profile(out / PROFILE)
    return (profile.meta.get("incomplete") or None) if profile is not None else None


def exit_status(out: Path, pytest_status: int) -> int:
    """Our status (syscalls.exitcodes) for a suite inside a target that exited with
    `pytest_status`, its results in `out`: pytest's 2-5 mean other things than ours."""
    outcomes = counts(out)
    failed = bool(outcomes.get("failed") or outcomes.get("error"))
    return exitcodes.from_pytest(pytest_status, bool(incomplete(out)), failed)


def counts(out: Path) -> dict[str, int]:
    """Outcome -> number of tests, from the profile."""
    profile = read_profile(out / PROFILE)
    result: dict[str, int] = {}
    for entry in profile.tests.values() if profile is not None else ():
        outcome = str(entry.get("outcome")) if isinstance(entry, dict) else "?"
        result[outcome] = result.get(outcome, 0) + 1
    return result
