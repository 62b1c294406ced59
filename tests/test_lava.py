"""ci/lava/syscalls.yaml, the LAVA test definition, and what it runs (ci/lava/run,
syscalls/lava.py): the fields LAVA requires, and a run of its steps the way LAVA's test
shell runs them, with stand-ins for LAVA's helpers that record every test case.

What LAVA requires, from its documentation and code (Debian's lava-server-doc,
lava-common and lava-dispatcher 2023.01; facts only): `metadata` with `format:
Lava-Test Test Definition 1.0` and a `name` (no whitespace, non-ASCII or any of
$&"'`()<>/\\|;), `description` (required of inline definitions); `os`, `scope`,
`devices`, `maintainer`, `environment` lists of strings; `run: steps:` a list of
strings, each one line of shell without pipes or redirections; `params` a mapping whose
values the test shell sets as shell variables; `install` is deprecated. The dispatcher
writes run.sh as: the params as NAME='value' lines, `set -e`, a cd into the
repository's clone, then the steps.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest
import yaml

from syscalls import lava
from syscalls.compare import Run
from syscalls.compare import TestRun as Outcome  # not collected as a test class
from syscalls.ktap import RunResults

ROOT = Path(__file__).resolve().parent.parent
DEFINITION = ROOT / "ci/lava/syscalls.yaml"
FORMAT = "Lava-Test Test Definition 1.0"
TOP_LEVEL = {"metadata", "install", "params", "parameters", "parse", "run"}
METADATA_LISTS = ("os", "scope", "devices", "maintainer", "environment")
NAME_FORBIDDEN = set("$& \"'`()<>/\\|;")
RESULTS = {"pass", "fail", "skip", "unknown"}


def definition() -> dict:
    return yaml.safe_load(DEFINITION.read_text())


# --- the definition's fields -----------------------------------------------------------


def test_metadata_has_what_lava_requires():
    data = definition()
    assert set(data) <= TOP_LEVEL and "install" not in data  # install: deprecated
    meta = data["metadata"]
    assert meta["format"] == FORMAT
    name = meta["name"]
    assert isinstance(name, str) and name.isascii() and name != "lava"  # lava: reserved
    assert not NAME_FORBIDDEN & set(name) and not any(c.isspace() for c in name)
    assert isinstance(meta["description"], str) and meta["description"].strip()
    for key in METADATA_LISTS:
        assert isinstance(meta[key], list) and all(isinstance(v, str) for v in meta[key]), key


def test_run_steps_are_single_lines_of_shell_naming_what_is_here():
    data = definition()
    steps = data["run"]["steps"]
    assert isinstance(steps, list) and steps
    for step in steps:
        assert isinstance(step, str) and "\n" not in step
        assert not re.search(r"[|<>]", step), step  # no pipes or redirections
        program = shlex.split(step)[0]
        path = ROOT / program
        assert path.is_file() and os.access(path, os.X_OK), program
        assert path.read_text().startswith("#!/bin/sh\n")  # any guest has a POSIX sh
    subprocess.run(["sh", "-n", str(ROOT / "ci/lava/run")], check=True)


def test_params_are_strings_the_steps_use():
    data = definition()
    params = data["params"]
    assert params and all(isinstance(v, str) for v in params.values())
    used = " ".join(data["run"]["steps"])
    assert {p for p in params if f"${p}" in used} == set(params)


# --- the steps, run as LAVA's test shell runs them ------------------------------------

HELPER = """#!/bin/sh
printf '%s' "$(basename "$0")" >> "$LAVA_LOG"
for arg in "$@"; do printf '\\t%s' "$arg" >> "$LAVA_LOG"; done
printf '\\n' >> "$LAVA_LOG"
"""


def run_sh(tmp_path: Path, params: dict[str, str]) -> tuple[subprocess.CompletedProcess, list]:
    """The definition's steps in a run.sh made as LAVA's dispatcher makes it, with
    lava-test-case and lava-test-set stand-ins that log their arguments."""
    data = definition()
    values = {**data["params"], **params}
    script = [f"{k}='{v}'" for k, v in values.items()]
    script += ["set -e", f"cd {shlex.quote(str(ROOT))}", *data["run"]["steps"]]
    (tmp_path / "run.sh").write_text("\n".join(script) + "\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for helper in ("lava-test-case", "lava-test-set"):
        (bin_dir / helper).write_text(HELPER)
        (bin_dir / helper).chmod(0o755)
    log = tmp_path / "lava.log"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "LAVA_LOG": str(log)}
    p = subprocess.run(
        ["sh", str(tmp_path / "run.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    calls = [line.split("\t") for line in log.read_text().splitlines()] if log.exists() else []
    return p, calls


def cases_by_set(calls: list[list[str]]) -> dict[str | None, dict[str, str]]:
    """{test set (None: outside any): {case name: result}}; checks the calls' shape."""
    out: dict[str | None, dict[str, str]] = {}
    current: str | None = None
    for call in calls:
        if call[0] == "lava-test-set":
            if call[1] == "start":
                assert current is None and len(call) == 3
                current = call[2]
                assert urllib.parse.quote(current) == current  # LAVA's rule for set names
                assert current not in out, "one set per area"
            else:
                assert call[1:] == ["stop"] and current is not None
                current = None
            continue
        assert call[0] == "lava-test-case" and call[2] == "--result" and len(call) == 4, call
        name, result = call[1], call[3]
        assert result in RESULTS
        assert name and len(name) <= lava.MAX_NAME and not re.search(r"\s|/", name), name
        assert urllib.parse.quote(name) == name, name  # part of the results' URLs
        assert name not in out.setdefault(current, {}), f"{name} reported twice"
        out[current][name] = result
    assert current is None, "a test set left open"
    return out


def test_the_steps_report_each_test_as_a_lava_test_case(tmp_path):
    out = tmp_path / "out"
    selection = "tests/data/ktap_case.py suites/ipc/test_pipe.py"
    p, calls = run_sh(
        tmp_path,
        {"PYTHON": sys.executable, "WORKERS": "2", "OUT": str(out), "SELECTION": selection},
    )
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    sets = cases_by_set(calls)
    assert sets.pop(None) == {"syscalls-run": "pass"}  # it ran, and finished (status 1)
    tests = json.loads((out / "profile.json").read_text())["tests"]
    assert set(sets) == {"ipc", "tests"}
    ipc = {n: e for n, e in tests.items() if n.startswith("suites/ipc/")}
    lava = {"passed": "pass", "skipped": "skip"}  # a test of another OS skips here
    assert sorted(sets["ipc"].values()) == sorted(lava[e["outcome"]] for e in ipc.values())
    assert "pass" in sets["ipc"].values()
    cases = sets["tests"]
    assert cases["data.ktap_case.test_getpid_answers_minus_one"] == "fail"
    assert cases["data.ktap_case.test_error_in_setup"] == "fail"
    assert cases["data.ktap_case.test_crash_of_the_test_process"] == "fail"
    assert cases["data.ktap_case.test_skipped_with_its_reason"] == "skip"
    assert cases["data.ktap_case.test_expected_failure"] == "pass"  # an xfail held
    assert cases["data.ktap_case.test_getpid_answers_this_process"] == "pass"
    assert "syscalls: tests/data/ktap_case.py::test_skipped_with_its_reason: skipped: only on" in (
        p.stdout
    )
    assert (out / "results.ktap").read_text().startswith("KTAP version 1\n")


def test_a_guest_without_what_the_suite_needs_reports_the_run_failed(tmp_path):
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\nexit 1\n")  # no cffi, no pytest: nothing imports
    fake.chmod(0o755)
    p, calls = run_sh(tmp_path, {"PYTHON": str(fake), "INSTALL": "no", "OUT": str(tmp_path)})
    assert p.returncode == 0, p.stderr
    assert cases_by_set(calls) == {None: {"syscalls-run": "fail"}}
    assert "is not Python 3.11+ with cffi, pytest" in p.stdout


def test_ci_lava_run_refuses_an_unknown_argument():
    p = subprocess.run(
        [str(ROOT / "ci/lava/run"), "--bogus"], capture_output=True, text=True, check=False
    )
    assert p.returncode == 2 and "unknown argument --bogus" in p.stderr


# --- syscalls/lava.py ------------------------------------------------------------------


def test_case_names_keep_only_what_lava_takes():
    assert lava.case_name("test_openat.py::test_x[a b/c#d]") == "test_openat.test_x_a_b_c_d"
    assert lava.case_name("sub/test_y.py::TestK::test_z") == "sub.test_y.TestK.test_z"
    assert lava.case_name("[]") == "unnamed"
    assert lava.set_name("fs") == "fs" and lava.set_name("a b") == "a_b"


def test_case_names_are_unique_and_short_whatever_the_tests_are_called():
    names = ["t.py::x[a b]", "t.py::x[a_b]", "t.py::" + "y" * 300, "t.py::z"]
    cased = lava.unique_names(names)
    assert len(set(cased.values())) == len(names)
    assert all(len(c) <= lava.MAX_NAME for c in cased.values())
    assert cased["t.py::z"] == "t.z"  # names that need nothing keep their plain form
    assert cased == lava.unique_names(names)  # the same every run


def test_report_maps_every_outcome_and_the_runs_status():
    run = Run(
        Path("p.json"),
        "linux/x86_64",
        "6.1",
        "host",
        {
            "suites/fs/t.py::a": Outcome("passed"),
            "suites/fs/t.py::b": Outcome("failed", reason="x"),
            "suites/fs/t.py::c": Outcome("skipped", reason="needs root"),
            "suites/mm/t.py::d": Outcome("xfailed"),
            "suites/mm/t.py::e": Outcome("error"),
            "suites/mm/t.py::f": Outcome("something new"),
        },
    )
    calls: list[list[str]] = []
    selected = [*run.tests, "suites/time/t.py::never"]
    count = lava.report(RunResults(run, "a panic", selected), 3, calls.append)
    assert count == 8
    assert cases_by_set([["lava-test-set", *c[1:]] if "set" in c[0] else c for c in calls]) == {
        "fs": {"t.a": "pass", "t.b": "fail", "t.c": "skip"},
        "mm": {"t.d": "pass", "t.e": "fail", "t.f": "unknown"},
        "time": {"t.never": "unknown"},
        None: {"syscalls-run": "fail"},  # 3: the run did not finish
    }


def test_main_without_results_reports_the_run_or_says_what_is_wrong(tmp_path, capsys):
    assert lava.main([str(tmp_path), "--status", "2"]) == 0
    out = capsys.readouterr()
    assert "lava-test-case syscalls-run --result fail" in out.out
    assert "no results to report" in out.err
    assert lava.main([str(tmp_path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize("status", [0, 1])
def test_a_run_that_finished_is_a_passing_run_case(status, capsys):
    lava.report(None, status, lambda argv: print(" ".join(argv)))
    assert capsys.readouterr().out.splitlines()[-1] == "lava-test-case syscalls-run --result pass"
