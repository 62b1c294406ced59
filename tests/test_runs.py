"""syscalls.runs: loading a run's profile or JUnit XML, and refusing what is not one with
an InputError of one line that names the file and what is wrong, for `syscalls compare`,
`compare --baseline` and `run --baseline` alike (exit 2)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from syscalls.cli import main
from syscalls.runs import InputError, load

T = "suites/fs/test_x.py::test_a"


def profile(**changes: object) -> dict:
    doc: dict = {
        "format": 1,
        "platform": "linux/x86_64",
        "kernel": "6.1.0",
        "target": "host",
        "meta": {"selected": [T]},
        "tests": {T: {"outcome": "passed", "observations": ["openat=ok"], "reason": ""}},
    }
    doc.update(changes)
    return doc


def entry(**changes: object) -> dict:
    return {"tests": {T: {"outcome": "passed", "observations": ["openat=ok"], **changes}}}


JUNIT = (
    '<?xml version="1.0"?><testsuites><testsuite name="pytest">'
    '<testcase classname="suites.fs.test_x" name="test_a"><properties>'
    '<property name="syscalls.observations" value="[&quot;openat=ok&quot;]"/>'
    "</properties></testcase></testsuite></testsuites>"
)

# name -> (file content, what the message must say)
BAD: dict[str, tuple[str | bytes, str]] = {
    "observations not a list": (
        json.dumps(profile(**entry(observations=5))),
        r"tests\['suites/fs/test_x\.py::test_a'\]\.observations must be a list of strings, not 5",
    ),
    "an observation not a string": (
        json.dumps(profile(**entry(observations=[1]))),
        r"observations must be a list of strings",
    ),
    "outcome unknown": (json.dumps(profile(**entry(outcome="great"))), r"outcome must be one of"),
    "outcome not a string": (json.dumps(profile(**entry(outcome=[]))), r"outcome must be one of"),
    "no outcome": (json.dumps(profile(tests={T: {}})), r"tests\[.*\] has no outcome"),
    "entry not an object": (
        json.dumps(profile(tests={T: "passed"})),
        r"tests\[.*\] must be an obj",
    ),
    "reason not a string": (json.dumps(profile(**entry(reason=7))), r"reason must be a string"),
    "tests a list": (json.dumps(profile(tests=[T])), r"tests must be an object"),
    "no tests": (json.dumps({"format": 1, "platform": "p", "kernel": "k"}), r"missing tests"),
    "kernel a number": (json.dumps(profile(kernel=6.1)), r"kernel must be a string, not 6\.1"),
    "meta a list": (json.dumps(profile(meta=[])), r"meta must be an object"),
    "selected not ids": (json.dumps(profile(meta={"selected": 3})), r"meta\.selected must be"),
    "format true": (json.dumps(profile(format=True)), r"not a syscalls profile of format 1"),
    "format 2": (json.dumps(profile(format=2)), r"of format 1 \(format 2\)"),
    "no format": ('{"tests": {}}', r"no format"),
    "a list": ("[1, 2]", r"not a syscalls profile|not a syscalls profile \(JSON\)"),
    "huge number": ('{"format": 1' + "0" * 5000 + "}", r"not valid JSON \(Exceeds the limit"),
    "deep nesting": ('{"format": ' + "[" * 100000 + "]" * 100000 + "}", r"not valid JSON"),
    "truncated": (json.dumps(profile())[:40], r"not valid JSON \("),
    "not UTF-8": (
        json.dumps(profile(kernel="é"), ensure_ascii=False).encode("latin-1"),
        r"not UTF-8 text \(byte",
    ),
    "binary": (b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)), r"not a syscalls profile \(JSON\)"),
    "empty": ("", r"empty"),
    "blank": (" \n\t\n", r"empty"),
    "junit truncated": (JUNIT[: len(JUNIT) // 2], r"not valid XML \("),
    "junit bad property": (
        JUNIT.replace("[&quot;openat=ok&quot;]", "5"),
        r"suites/fs/test_x\.py::test_a: syscalls\.observations is not a JSON list of strings",
    ),
    "junit property huge": (
        JUNIT.replace("[&quot;openat=ok&quot;]", "1" * 5000),
        r"is not a JSON list of strings",
    ),
    "junit testcase without name": (JUNIT.replace(' name="test_a"', ""), r"without a name"),
    "html": ("<html><body>hi</body></html>", r"not JUnit XML \(root element <html>\)"),
    "xml entities": (
        '<!DOCTYPE t [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><testsuites name="&c;"/>',
        r".",  # expanded, bounded by expat: read, or refused, in one line
    ),
}


def write(tmp_path: Path, content: str | bytes, name: str = "bad.json") -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


@pytest.fixture
def good(tmp_path: Path) -> Path:
    return write(tmp_path, json.dumps(profile()), "good.json")


def test_a_good_profile_and_junit_load(tmp_path: Path, good: Path) -> None:
    run = load(good)
    assert run.tests[T].observations == ["openat=ok"] and run.selected == {T}
    assert load(write(tmp_path, JUNIT, "j.xml")).tests[T].observations == ["openat=ok"]
    bom = write(tmp_path, b"\xef\xbb\xbf" + json.dumps(profile()).encode(), "bom.json")
    assert load(bom).tests[T].outcome == "passed"


@pytest.mark.parametrize("kind", [k for k in BAD if k != "xml entities"])
def test_a_malformed_run_is_one_line_naming_file_and_key(kind: str, tmp_path: Path) -> None:
    content, says = BAD[kind]
    path = write(tmp_path, content)
    with pytest.raises(InputError) as info:
        load(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}: ")
    assert re.search(says, message), message


def test_xml_entity_expansion_is_bounded(tmp_path: Path) -> None:
    path = write(tmp_path, BAD["xml entities"][0], "bomb.xml")
    try:
        assert load(path).tests == {}
    except InputError as e:
        assert "\n" not in str(e)


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda p: None, "no such file"),
        (lambda p: p.mkdir(), "is a directory, not a run"),
        (lambda p: os.mkfifo(p), "not a regular file"),  # never waits for a writer
    ],
)
def test_what_is_not_a_file_is_refused(tmp_path: Path, make, says: str) -> None:
    path = tmp_path / "run.json"
    make(path)
    with pytest.raises(InputError, match=f"^{re.escape(str(path))}: {says}"):
        load(path)


def test_a_file_too_large_is_refused_without_reading_it_all(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("syscalls.runs.MAX_FILE", 1 << 20)
    path = tmp_path / "big.json"
    with path.open("wb") as f:
        f.truncate(3 << 20)  # sparse
    with pytest.raises(InputError, match=r"big\.json: larger than 1 MiB"):
        load(path)


@pytest.mark.parametrize("kind", [*list(BAD)[:8], "binary", "junit bad property"])
def test_every_command_that_loads_runs_says_it_in_one_line_and_exits_2(
    kind: str, tmp_path: Path, good: Path, capsys
) -> None:
    bad = write(tmp_path, BAD[kind][0])
    for argv in (
        ["compare", str(good), str(bad)],
        ["compare", "--baseline", str(bad), str(good)],
        ["compare", "--baseline", str(good), str(bad)],
        ["run", "--out", str(tmp_path / "out"), "--baseline", str(bad)],
    ):
        assert main(argv) == 2, argv
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1 and f"{bad}: " in err, (argv, err)
        assert "Traceback" not in err
    assert not (tmp_path / "out").exists()  # the run never started
