"""Reading runs: a semantics profile (syscalls/profile.py) or pytest's JUnit XML, whose
testcases carry the same observations in the `syscalls.observations` property.

One place for `syscalls compare` and `--baseline` alike: a file that cannot be read,
or is not what it says it is (a profile whose keys or values are not what
syscalls.profile writes, JUnit that is not XML, a property that is not a JSON list),
is an InputError whose message is one line naming the file and what is wrong.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from syscalls.profile import FORMAT, PROPERTY
from syscalls.userfiles import UnreadableInput, read_input

GOOD = ("passed", "skipped", "xfailed")  # outcomes that are not a failure


class InputError(Exception):
    """A file that cannot be compared; the message is one line naming it."""


@dataclass
class TestRun:
    """One test's result in one run."""

    __test__ = False  # not a pytest test class, whatever its name

    outcome: str
    observations: list[str] = field(default_factory=list)
    reason: str = ""


@dataclass
class Run:
    """One run of the suite: where it ran and what each test answered."""

    path: Path
    platform: str
    kernel: str
    target: str
    tests: dict[str, TestRun]
    label: str = ""
    selected: set[str] | None = None  # the tests the run set out to run, where recorded
    incomplete: str = ""  # why the run did not finish, where it did not (a profile's meta)

    def __post_init__(self) -> None:
        if not self.label:
            self.label = " ".join(p for p in (self.target, self.kernel) if p) or self.path.stem


# A profile of the whole suite is a few MB; far beyond that, a file is not one (and is
# not read whole into memory).
MAX_FILE = 256 << 20
# What a profile's and JUnit's outcomes may be (syscalls.profile writes these).
OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")


def load(path: Path) -> Run:
    """A run from a profile (.json) or JUnit XML; InputError if it is neither."""
    path = Path(path)
    try:
        data = read_input(path, "run's profile or JUnit XML", MAX_FILE)
    except UnreadableInput as e:
        raise InputError(str(e)) from None
    head = data[:512].removeprefix(b"\xef\xbb\xbf").lstrip()  # a UTF-8 byte order mark
    if head.startswith(b"{"):
        return _load_profile(path, data)
    if head.startswith(b"<"):
        return _load_junit(path, data)
    if not head:
        raise InputError(f"{path}: empty (not a syscalls profile or JUnit XML)")
    raise InputError(f"{path}: not a syscalls profile (JSON) or JUnit XML")


def _load_profile(path: Path, data: bytes) -> Run:
    try:
        doc = json.loads(data)  # bytes: UTF-8 (or -16/-32, as JSON allows)
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text (byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON ({e})") from None
    except (ValueError, RecursionError) as e:  # an integer of thousands of digits, nesting
        raise InputError(f"{path}: not valid JSON ({str(e).split(':')[0]})") from None
    profile = checked_profile(path, _text(doc))
    tests = {
        nodeid: TestRun(entry["outcome"], entry.get("observations", []), entry.get("reason", ""))
        for nodeid, entry in profile["tests"].items()
    }
    meta = profile.get("meta", {})
    run = Run(path, profile["platform"], profile["kernel"], profile.get("target", "host"), tests)
    if "selected" in meta:
        run.selected = set(meta["selected"])
    run.incomplete = meta.get("incomplete") or ""
    return run


def checked_profile(path: Path, doc: Any) -> dict[str, Any]:
    """The profile's JSON, checked against what syscalls.profile writes; an InputError
    names the file and the key that is wrong."""

    def bad(key: str, must: str, value: Any) -> InputError:
        shown = "an object" if isinstance(value, dict) else repr(value)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        return InputError(f"{path}: not a syscalls profile ({key} must be {must}, not {shown})")

    if not isinstance(doc, dict):
        raise InputError(f"{path}: not a syscalls profile (a JSON object is)")
    if "format" not in doc:
        raise InputError(f"{path}: not a syscalls profile (no format)")
    if type(doc["format"]) is not int or doc["format"] != FORMAT:
        raise InputError(
            f"{path}: not a syscalls profile of format {FORMAT} (format {doc['format']!r})"
        )
    for key in ("platform", "kernel", "tests"):
        if key not in doc:
            raise InputError(f"{path}: not a syscalls profile (missing {key})")
    for key in ("platform", "kernel", "target"):
        if key in doc and not isinstance(doc[key], str):
            raise bad(key, "a string", doc[key])
    meta = doc.get("meta", {})
    if not isinstance(meta, dict):
        raise bad("meta", "an object", meta)
    if "selected" in meta and not _strings(meta["selected"]):
        raise bad("meta.selected", "a list of test ids", meta["selected"])
    if "incomplete" in meta and not isinstance(meta["incomplete"], str | None):
        raise bad("meta.incomplete", "a string", meta["incomplete"])
    if not isinstance(doc["tests"], dict):
        raise bad("tests", "an object (test id -> result)", doc["tests"])
    for nodeid, entry in doc["tests"].items():
        key = f"tests[{nodeid!r}]"
        if not isinstance(entry, dict):
            raise bad(key, "an object", entry)
        if "outcome" not in entry:
            raise InputError(f"{path}: not a syscalls profile ({key} has no outcome)")
        if entry["outcome"] not in OUTCOMES:
            raise bad(f"{key}.outcome", f"one of {', '.join(OUTCOMES)}", entry["outcome"])
        if not _strings(entry.get("observations", [])):
            raise bad(f"{key}.observations", "a list of strings", entry["observations"])
        if not isinstance(entry.get("reason", ""), str):
            raise bad(f"{key}.reason", "a string", entry["reason"])
    return doc


# Control characters but tab and newline: printed as they are, a kernel's answer could
# move the cursor, clear the screen or retitle the terminal of whoever reads the report.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _text(doc: Any) -> Any:
    """The document with each lone surrogate and control character (but tab and
    newline) in its strings written out as its escape (\\udcff, \\x1b). JSON's \\ud800
    alone decodes to a lone surrogate, which printing it later would fail on. A profile
    holds them where a test observed a name the kernel gave in bytes that are not UTF-8
    (os.fsdecode); JUnit XML's observations carry them the same way."""
    if isinstance(doc, str):
        try:
            doc.encode()
        except UnicodeEncodeError:
            doc = doc.encode("utf-8", "backslashreplace").decode()
        return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", doc)
    if isinstance(doc, list):
        return [_text(v) for v in doc]
    if isinstance(doc, dict):
        return {_text(k): _text(v) for k, v in doc.items()}
    return doc


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _load_junit(path: Path, data: bytes) -> Run:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        raise InputError(f"{path}: not valid XML ({e})") from None
    except RecursionError:
        raise InputError(f"{path}: not valid XML (nested too deeply)") from None
    except (LookupError, ValueError) as e:  # a declared encoding Python cannot decode with
        raise InputError(f"{path}: not valid XML (its encoding: {_short(str(e))})") from None
    if root.tag not in ("testsuites", "testsuite"):
        raise InputError(f"{path}: not JUnit XML (root element <{_short(root.tag)}>)")
    tests: dict[str, TestRun] = {}
    for case in root.iter("testcase"):
        if not case.get("name"):
            raise InputError(f"{path}: not JUnit XML (a <testcase> without a name)")
        nodeid = junit_nodeid(case.get("classname", ""), case.get("name", ""))
        tests[nodeid] = _junit_case(path, nodeid, case)
    # JUnit carries no kernel release; the file's directory usually names the run.
    label = f"{path.parent.name}/{path.name}" if path.parent.name else path.name
    return Run(path, "", "", "junit", tests, label=label)


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


def _junit_case(path: Path, nodeid: str, case: ET.Element) -> TestRun:
    observations: list[str] = []
    for prop in case.iter("property"):
        if prop.get("name") == PROPERTY:
            try:
                observations = json.loads(prop.get("value", "[]"))
            except (ValueError, RecursionError):
                observations = None  # type: ignore[assignment]
            if not _strings(observations):
                raise InputError(
                    f"{path}: {_short(nodeid)}: {PROPERTY} is not a JSON list of strings"
                )
            observations = _text(observations)
    outcome, reason = "passed", ""
    for tag in ("failure", "error", "skipped"):  # the first found decides, worst first
        child = case.find(tag)
        if child is not None:
            reason = child.get("message", "")
            if tag == "skipped":
                outcome = "xfailed" if child.get("type") == "pytest.xfail" else "skipped"
                reason = reason.removeprefix("xfail").strip() or reason
            else:
                outcome = "failed" if tag == "failure" else "error"
            break
    return TestRun(outcome, observations, reason)


def junit_nodeid(classname: str, name: str) -> str:
    """pytest's node id from JUnit's classname/name ("suites.fs.test_x" -> "suites/fs/test_x.py").

    Test classes are told from packages by their capital letter (pytest's Test* rule).
    """
    parts = classname.split(".") if classname else []
    split = next((i for i, p in enumerate(parts) if p[:1].isupper()), len(parts))
    module = "/".join(parts[:split]) + ".py" if split else ""
    return "::".join(p for p in (module, *parts[split:], name) if p)


def label_runs(runs: Sequence[Run]) -> None:
    """Make the labels unique: add what tells the files apart, or else a number."""
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(run.label, []).append(run)
    for label, same in groups.items():
        if len(same) < 2:
            continue
        for tell in (
            lambda p: p.parent.name,
            lambda p: p.name,
            lambda p: f"{p.parent.name}/{p.name}",
        ):
            names = [tell(run.path) for run in same]
            if all(names) and len(set(names)) == len(names):
                for run, name in zip(same, names, strict=True):
                    run.label = f"{label} ({name})"
                break
        else:
            for i, run in enumerate(same, 1):
                run.label = f"{label} #{i}"
