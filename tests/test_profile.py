"""The semantics profile: what runs record, and the pytest glue that writes it."""

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from syscalls.profile import HELD, LEFT_OUT, MAX_OBSERVATIONS, PROPERTY, Profile, Recorder

ROOT = Path(__file__).resolve().parent.parent

SAMPLE = """
import pytest

def test_passes(kernel, observe):
    assert kernel.close(-1).errno == "EBADF"
    observe("answer", 42)

def test_fails(kernel):
    assert kernel.getpid().unwrap() == -5

def test_not_in_table(kernel):
    kernel.frobnicate()

@pytest.mark.root
def test_root_only(kernel):
    pass

def test_in_child(kernel, in_child):
    in_child(lambda: kernel.close(-1))

def test_calls_in_a_loop(kernel, in_child):
    for _ in range(700):
        kernel.close(-1)
        kernel.getpid()
    in_child(lambda: [kernel.dup(-1) for _ in range(3)])

def test_leaves_a_read_only_tree(tmp, observe):
    (tmp / "ro").mkdir()
    (tmp / "ro" / "f").write_text("x")
    (tmp / "ro").chmod(0o500)
    observe("tmp", tmp)
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, ET.Element, int]:
    """A small suite run through the real glue (conftest.py loaded as a plugin)."""
    tmp = tmp_path_factory.mktemp("profile")
    (tmp / "test_sample.py").write_text(SAMPLE)
    junit = tmp / "out" / "junit.xml"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "conftest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--rootdir={tmp}",
            f"--junitxml={junit}",
            str(tmp / "test_sample.py"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (tmp / "out" / "junit.profile.json").exists(), proc.stdout + proc.stderr
    profile = json.loads((tmp / "out" / "junit.profile.json").read_text())
    return profile, ET.parse(junit).getroot(), proc.returncode


def _test(profile: dict, name: str) -> dict:
    return next(v for k, v in profile["tests"].items() if k.endswith(f"::{name}"))


def test_profile_header_names_platform_and_kernel(run: tuple) -> None:
    profile, _, code = run
    assert code == 1  # one test fails
    assert profile["platform"] and profile["kernel"] and profile["target"] == "host"
    assert len(profile["tests"]) == 7


def test_calls_and_explicit_values_are_observed(run: tuple) -> None:
    entry = _test(run[0], "test_passes")
    assert entry == {"outcome": "passed", "observations": ["close=EBADF", "answer=42"]}


def test_failure_keeps_its_reason(run: tuple) -> None:
    entry = _test(run[0], "test_fails")
    assert entry["outcome"] == "failed"
    assert entry["observations"] == ["getpid=ok"]
    assert "-5" in entry["reason"]


def test_missing_syscall_is_a_skip_with_the_reason(run: tuple) -> None:
    entry = _test(run[0], "test_not_in_table")
    assert entry["outcome"] == "skipped"
    assert "frobnicate: not in the" in entry["reason"]


def test_root_marker_skips_or_runs_by_uid(run: tuple) -> None:
    import os

    entry = _test(run[0], "test_root_only")
    assert entry["outcome"] == ("passed" if os.geteuid() == 0 else "skipped")


def test_observations_from_a_child_come_back(run: tuple) -> None:
    assert _test(run[0], "test_in_child")["observations"] == ["close=EBADF"]


def test_junit_carries_the_observations_as_properties(run: tuple) -> None:
    props = [p for p in run[1].iter("property") if p.get("name") == PROPERTY]
    assert ["close=EBADF", "answer=42"] in [json.loads(p.get("value")) for p in props]


def test_profile_round_trips_through_json(tmp_path: Path) -> None:
    p = Profile(platform="linux/x86_64", kernel="6.1.0", target="vm")
    rec = Recorder()
    rec.value("mode", "0o640")
    p.add("suites/a.py::test_x", "passed", rec.entries)
    p.write(tmp_path / "p.json")
    again = Profile.read(tmp_path / "p.json")
    assert again.tests == p.tests and again.target == "vm"


def test_a_repeated_answer_is_one_observation(kernel) -> None:
    """A polling loop records what changed, not how many times the machine went round."""
    rec = Recorder()
    for _ in range(5):
        rec.call(kernel.close(-1))
    rec.value("n", 1)
    rec.value("n", 1)
    rec.call(kernel.close(-1))
    assert rec.entries == ["close=EBADF", "n=1", "close=EBADF"]


def test_reading_something_else_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text('{"format": 99}')
    with pytest.raises(ValueError, match="not a syscalls profile"):
        Profile.read(tmp_path / "x.json")


def test_a_table_for_another_arch_is_refused(tmp_path: Path) -> None:
    table = tmp_path / "other.toml"
    table.write_text(
        '[platform]\nos = "linux"\narch = "i386"\n[syscalls]\nread = 3\n[errno]\nENOENT = 2\n'
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--platform={table}",
            "suites/fs/test_openat.py",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 4  # pytest's usage error
    assert "the linux/i386 table cannot drive this" in proc.stderr


def test_tmp_is_removed_even_when_read_only_inside(run: tuple) -> None:
    (entry,) = _test(run[0], "test_leaves_a_read_only_tree")["observations"]
    assert not Path(entry.removeprefix("tmp=")).exists()


def test_a_test_that_calls_in_a_loop_keeps_its_first_observations_and_a_count(run: tuple) -> None:
    profile, _, _ = run
    observations = profile["tests"]["test_sample.py::test_calls_in_a_loop"]["observations"]
    assert len(observations) == MAX_OBSERVATIONS + 1
    assert observations[:2] == ["close=EBADF", "getpid=ok"]
    # 1400 of the loop's, 1 of the child's (the same answer three times): 401 left out
    assert observations[-1] == f"{LEFT_OUT}={1400 + 1 - MAX_OBSERVATIONS}"


def test_past_the_limit_observations_are_counted_not_kept(kernel) -> None:
    recorder = Recorder()
    for i in range(MAX_OBSERVATIONS + 5):
        recorder.value("i", i)
    assert recorder.kept()[-1] == f"{LEFT_OUT}=5"
    for i in range(HELD):
        recorder.value("j", i)
    assert len(recorder.entries) == HELD  # memory bounded while it runs
    assert recorder.kept()[-1] == f"{LEFT_OUT}={HELD + 5}+"  # all but the first 1000
    assert Recorder(entries=["a=1"]).kept() == ["a=1"]


def test_a_recorded_value_of_megabytes_is_kept_cut_the_same_way_each_run() -> None:
    from syscalls.profile import MAX_ENTRY, Recorder

    recorder = Recorder()
    recorder.value("big", "q" * (1 << 20))
    (entry,) = recorder.kept()
    assert entry == "big=" + "q" * (MAX_ENTRY - 4) + f"...({(1 << 20) + 4} characters)"
