"""Property-based (Hypothesis): generated malformed tables, C declarations, profiles and
JUnit files, fed to the loaders and to the `syscalls` command in-process. Whatever the
input, a loader returns something that holds to the schema or raises its documented
error (PlatformError, InputError) with one line naming the file; the command exits 0 or
1 with it, or 2 with one line on stderr and no traceback.

Deterministic by default (the `ci` profile: a fixed sequence of examples, so that a run
of .ci/run does not fail at random); HYPOTHESIS_PROFILE=explore draws fresh ones. No
example database, and Hypothesis's own files go to ~/.cache/syscalls/hypothesis: the
checkout is left as it was.
"""

from __future__ import annotations

import json
import math
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, configuration, given, settings
from hypothesis import strategies as st

from syscalls.abi import Platform, PlatformError
from syscalls.cli import main
from syscalls.kernel import declarations
from syscalls.profile import PROPERTY
from syscalls.runs import OUTCOMES, InputError, load
from syscalls.table_schema import PLATFORM_FIELDS, SECTIONS
from syscalls.targets.initramfs import cache_dir

COMMON = {
    "database": None,  # no .hypothesis/ directory in the checkout
    "deadline": None,  # timings on a shared machine say nothing
    # capsys and the module's directory are meant to be shared by a test's examples
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
}
settings.register_profile("ci", max_examples=60, derandomize=True, **COMMON)
settings.register_profile("explore", max_examples=1000, **COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
# What Hypothesis keeps (constants it reads from the source, at collection) goes to our
# cache directory, not .hypothesis/ in the working directory: the checkout.
configuration.set_hypothesis_home_dir(cache_dir() / "hypothesis")


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One directory per module: each example overwrites its files (function-scoped
    fixtures are not reset between a test's examples)."""
    return tmp_path_factory.mktemp("properties")


def one_line_naming(message: str, path: Path) -> None:
    assert "\n" not in message and "Traceback" not in message, message
    assert str(path) in message, message


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    err = capsys.readouterr().err
    if code == 2:
        assert err.count("\n") == 1 and "Traceback" not in err, err
    return code, err


# -- values of every kind, the wrong ones included ------------------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-5, max_value=5000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["", "read", "ENOENT", "x.h", "../x.h", "/etc/passwd", "linux", "é\0"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)

# -- tables ---------------------------------------------------------------------------

# An OS with no platforms/ directory: no hand-written layers and no C declarations but
# the table's own, so an example costs no parse of the real headers.
TABLE: dict[str, Any] = {
    "platform": {"os": "testos", "arch": "t64", "release": "1.0", "sources": ["gen"]},
    "syscalls": {"read": 0, "write": 1, "lseek": 8},
    "symbols": {"stat": "__stat50"},
    "aliases": {"rd": "read"},
    "padding": {"lseek": [1]},
    "errno": {"ENOENT": 2, "EAGAIN": 11},
    "constants": {"O_X": 1, "BIG": 2**64 - 1, "NEG": -100},
    "optional": {"write": "CONFIG_X"},
    "unimplemented": {},
}
SECTION_NAMES = st.sampled_from([*SECTIONS, "platform", "syscall", "extra"])
KEYS = st.one_of(
    st.sampled_from([*PLATFORM_FIELDS, "read", "write", "lseek", "rd", "ENOENT", "O_X"]),
    st.text(max_size=8),
)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value)  # inf, -inf: as TOML spells them
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(str(value))  # None too: TOML has no null


def toml_text(doc: dict[str, Any]) -> str:
    lines = [
        f"{json.dumps(k)} = {toml_value(v)}" for k, v in doc.items() if not isinstance(v, dict)
    ]
    for section, values in doc.items():
        if isinstance(values, dict):
            lines.append(f"[{json.dumps(section)}]")
            lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


@st.composite
def tables(draw: st.DrawFn) -> str:
    """TABLE with a few edits: values of any type, keys and sections added or removed."""
    doc = json.loads(json.dumps(TABLE))
    for _ in range(draw(st.integers(1, 3))):
        section = draw(SECTION_NAMES)
        action = draw(st.sampled_from(["set", "set", "delete", "replace section"]))
        if action == "delete":
            if draw(st.booleans()):
                doc.pop(section, None)
            elif isinstance(doc.get(section), dict) and doc[section]:
                doc[section].pop(draw(st.sampled_from(sorted(doc[section]))))
        elif action == "replace section":
            doc[section] = draw(VALUES)
        else:
            if not isinstance(doc.get(section), dict):
                doc[section] = {}
            doc[section][draw(KEYS)] = draw(VALUES)
    text = toml_text(doc)
    if draw(st.integers(0, 9)) == 0:  # now and then, cut or garble the text itself
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.text(max_size=4))
    return text


def holds_to_the_schema(p: Platform) -> None:
    assert p.syscalls and p.errno
    assert all(type(n) is int and 0 <= n < 2**31 for n in p.syscalls.values())
    assert all(type(n) is int and 0 < n < 4096 for n in p.errno.values())
    assert all(type(n) is int and abs(n) < 2**64 for n in p.constants.values())
    assert all(isinstance(s, str) for s in (*p.symbols.values(), *p.aliases.values()))
    assert all(set(map(type, pads)) == {int} for pads in p.padding.values())
    assert isinstance(p.release, str) and all(isinstance(s, str) for s in p.sources)


@given(text=tables())
def test_a_generated_table_loads_to_the_schema_or_is_refused_in_one_line(
    text: str, work: Path, capsys
) -> None:
    path = work / "t.toml"
    path.write_text(text, errors="surrogateescape")
    try:
        p = Platform.load(path)
        declarations(p)
    except PlatformError as e:
        one_line_naming(str(e), path)
        code, err = cli(["list", "--platform", str(path), "--suites", str(work)], capsys)
        assert code == 2 and err.startswith(f"syscalls list: {path}")
    else:
        holds_to_the_schema(p)
        code, _ = cli(["list", "--platform", str(path), "--suites", str(work)], capsys)
        assert code == 0


@given(data=st.binary(max_size=200))
def test_any_bytes_as_a_table_load_or_are_refused_in_one_line(data: bytes, work: Path) -> None:
    path = work / "b.toml"
    path.write_bytes(data)
    try:
        holds_to_the_schema(Platform.load(path))
    except PlatformError as e:
        one_line_naming(str(e), path)


C_TOKENS = st.sampled_from(
    ["struct", "union", "enum", "typedef", "int", "long", "char", "void", "unsigned", "x",
     "y", "s", "{", "}", "(", ")", "[", "]", ";", ",", "*", "=", "...", "#", "1", "-1",
     "0x10", "\n", " ", "//", "/*", "*/", "\"", "'", "\\", "é", "\0", "stat", "timespec"]
)  # fmt: skip


@pytest.mark.filterwarnings("ignore:String literal found in cdef")  # cffi's, for '"'
@given(tokens=st.lists(C_TOKENS, max_size=30))
def test_generated_c_declarations_compile_or_name_their_file(tokens: list[str], work: Path) -> None:
    (work / "c.toml").write_text(toml_text({**TABLE, "platform": {**TABLE["platform"]}}))
    header = work / "c.h"  # the table's sibling: its own declarations
    header.write_text(" ".join(tokens), errors="surrogateescape")
    try:
        declarations(Platform.load(work / "c.toml"))
    except PlatformError as e:
        one_line_naming(str(e), work / "c.toml")
        assert "c.h" in str(e)


# -- profiles and JUnit -----------------------------------------------------------------

T = "suites/fs/test_x.py::test_a"
PROFILE: dict[str, Any] = {
    "format": 1,
    "platform": "linux/x86_64",
    "kernel": "6.1.0",
    "target": "host",
    "meta": {"selected": [T], "hostname": "h"},
    "tests": {
        T: {"outcome": "passed", "observations": ["openat=ok", "mode=0o640"]},
        "suites/b.py::test_b": {"outcome": "skipped", "observations": [], "reason": "needs root"},
    },
}
JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False),
        st.text(max_size=10),
        st.sampled_from(list(OUTCOMES)),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
PROFILE_PATHS = st.sampled_from(
    [
        (),
        ("format",),
        ("platform",),
        ("kernel",),
        ("target",),
        ("meta",),
        ("meta", "selected"),
        ("tests",),
        ("tests", T),
        ("tests", T, "outcome"),
        ("tests", T, "observations"),
        ("tests", T, "reason"),
    ]
)


@st.composite
def profiles(draw: st.DrawFn) -> bytes:
    doc = json.loads(json.dumps(PROFILE))
    for _ in range(draw(st.integers(1, 3))):
        where = draw(PROFILE_PATHS)
        if not where:
            doc = draw(JSON)
            continue
        parent = doc
        for key in where[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if isinstance(parent, dict):
            if draw(st.integers(0, 3)) == 0:
                parent.pop(where[-1], None)
            else:
                parent[where[-1]] = draw(JSON)
    data = json.dumps(doc).encode()
    corruption = draw(st.integers(0, 5))
    if corruption == 0:  # cut short
        data = data[: draw(st.integers(0, len(data)))]
    elif corruption == 1:  # a few bytes of anything, anywhere
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:]
    return data


@st.composite
def junits(draw: st.DrawFn) -> bytes:
    root = ET.Element(draw(st.sampled_from(["testsuites", "testsuite", "html", "x"])))
    suite = ET.SubElement(root, "testsuite") if root.tag == "testsuites" else root
    for _ in range(draw(st.integers(0, 3))):
        attrs = {
            k: draw(st.text(max_size=12))
            for k in draw(st.lists(st.sampled_from(["classname", "name", "time"]), unique=True))
        }
        case = ET.SubElement(suite, "testcase", attrs)
        if draw(st.booleans()):
            value = draw(
                st.one_of(
                    st.lists(st.text(max_size=8), max_size=3).map(json.dumps),
                    JSON.map(json.dumps),
                    st.text(max_size=12),
                )
            )
            props = ET.SubElement(case, "properties")
            ET.SubElement(props, "property", name=PROPERTY, value=value)
        for tag in draw(st.lists(st.sampled_from(["failure", "error", "skipped"]), max_size=2)):
            ET.SubElement(case, tag, message=draw(st.text(max_size=8)))
    data = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    if draw(st.integers(0, 4)) == 0:
        data = data[: draw(st.integers(0, len(data)))]
    return data


def loads_to_the_schema_or_is_refused(path: Path, good: Path, capsys) -> None:
    try:
        run = load(path)
    except InputError as e:
        one_line_naming(str(e), path)
        code, err = cli(["compare", str(good), str(path)], capsys)
        assert code == 2 and err.startswith(f"syscalls compare: {path}: ")
        code, err = cli(["compare", "--baseline", str(path), str(good)], capsys)
        assert code == 2 and err.startswith(f"syscalls compare: {path}: ")
        return
    for test in run.tests.values():
        assert test.outcome in OUTCOMES and isinstance(test.reason, str)
        assert isinstance(test.observations, list)
        assert all(isinstance(o, str) for o in test.observations)
    assert isinstance(run.platform, str) and isinstance(run.kernel, str)
    code, _ = cli(["compare", str(good), str(path)], capsys)
    assert code in (0, 1)
    code, _ = cli(["compare", "--baseline", str(path), str(good)], capsys)
    assert code in ((0, 1) if run.tests else (2,))  # an empty baseline judges nothing


@pytest.fixture(scope="module")
def good(work: Path) -> Path:
    path = work / "good.json"
    path.write_text(json.dumps(PROFILE))
    return path


@given(data=profiles())
def test_a_generated_profile_loads_to_the_schema_or_exits_2_in_one_line(
    data: bytes, work: Path, good: Path, capsys
) -> None:
    path = work / "p.json"
    path.write_bytes(data)
    loads_to_the_schema_or_is_refused(path, good, capsys)


@given(data=junits())
def test_a_generated_junit_file_loads_to_the_schema_or_exits_2_in_one_line(
    data: bytes, work: Path, good: Path, capsys
) -> None:
    path = work / "j.xml"
    path.write_bytes(data)
    loads_to_the_schema_or_is_refused(path, good, capsys)


@given(data=st.binary(max_size=300))
def test_any_bytes_as_a_run_load_or_are_refused_in_one_line(
    data: bytes, work: Path, good: Path, capsys
) -> None:
    path = work / "r.json"
    path.write_bytes(data)
    loads_to_the_schema_or_is_refused(path, good, capsys)
