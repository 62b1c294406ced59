"""syscalls.runner.sendable: what execnet cannot carry reaches xdist's controller made
plain, instead of ending the run with an INTERNALERROR."""

from __future__ import annotations

import collections
import enum
from pathlib import Path

from syscalls.runner.sendable import plain
from tests.runner_checks import clean, junit_cases, junit_message, pytest_in


class Colour(enum.IntEnum):
    RED = 1


def test_plain_keeps_what_execnet_writes_and_makes_the_rest_plain() -> None:
    kept = {"a": [1, 2.5, None, True, b"x", ("t", 1j)], "s": {1}, "f": frozenset({2})}
    assert plain(kept) == kept
    point = collections.namedtuple("point", "x y")(1, 2)
    made = plain({"bad": "a\udcffb", "nt": point, "enum": Colour.RED, "obj": object})
    assert made["bad"] == "a\\udcffb"
    assert type(made["nt"]) is tuple and made["nt"] == (1, 2)
    assert type(made["enum"]) is int and made["enum"] == 1
    assert made["obj"] == "<class 'object'>"
    assert plain({"\udc80": 1}) == {"\\udc80": 1}


UNSENDABLE = """
import os, warnings, pytest

NAME = os.fsdecode(b"entry-\\xff")  # a name a kernel gave, not UTF-8

def test_a_fails_naming_it():
    assert NAME == "entry", NAME

def test_b_prints_it():
    print(NAME)
    assert False

def test_c_skips_naming_it():
    pytest.skip(NAME)

def test_d_warns_naming_it():
    warnings.warn(NAME)

def test_e_records_an_object(record_property):
    record_property("object", object())

def test_f_passes():
    pass
"""


def test_an_xdist_run_reports_what_execnet_cannot_carry(tmp_path: Path) -> None:
    (tmp_path / "test_unsendable.py").write_text(UNSENDABLE)
    junit = tmp_path / "junit.xml"
    p = pytest_in(tmp_path, "-n", "1", f"--junitxml={junit}", "test_unsendable.py")
    assert p.returncode == 1, p.stdout[-3000:]  # tests failed; 3 would be INTERNALERROR
    assert "INTERNALERROR" not in p.stdout + p.stderr
    cases = junit_cases(junit)
    assert "entry-\\udcff" in (junit_message(cases["test_a_fails_naming_it"], "failure") or "")
    assert cases["test_b_prints_it"].find("failure") is not None
    skipped = cases["test_c_skips_naming_it"].find("skipped")
    assert skipped is not None and "entry-\\udcff" in (skipped.get("message") or "")
    assert "entry-\\udcff" in p.stdout, "the warning, in the summary"
    assert clean(cases["test_e_records_an_object"]) and clean(cases["test_f_passes"])
