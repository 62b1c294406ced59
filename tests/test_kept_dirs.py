"""A test that harms the directory its `tmp` is made in fails, named, and the tests
after it get theirs (syscalls.tempdirs.Kept), in each way tests run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runner_checks import clean, junit_cases, junit_message, pytest_in

HARMS = """
import os, shutil

def test_a_removes_the_directory_its_tmp_is_in(tmp):
    shutil.rmtree(tmp.parent)

def test_b_gets_its_tmp(tmp):
    assert tmp.is_dir()

def test_c_takes_its_permissions_away(tmp):
    os.chmod(tmp.parent, 0)

def test_d_gets_its_tmp(tmp):
    (tmp / "f").write_text("x")
"""


@pytest.mark.parametrize(
    "args", [(), ("--workers", "1"), ("-n", "1")], ids=["serial", "forked", "xdist"]
)
def test_a_test_that_harms_the_directory_of_its_tmp_fails_and_the_next_get_theirs(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    (tmp_path / "test_harms.py").write_text(HARMS)
    junit = tmp_path / "junit.xml"
    p = pytest_in(tmp_path, f"--junitxml={junit}", "-p", "conftest", *args, "test_harms.py")
    cases = junit_cases(junit)
    removed = junit_message(cases["test_a_removes_the_directory_its_tmp_is_in"]) or ""
    assert "the directory its process's tests make their tmp in: it was removed" in removed
    assert removed.endswith('put back"'), p.stdout[-3000:]
    chmod = junit_message(cases["test_c_takes_its_permissions_away"]) or ""
    assert "it changed mode from 0711 to 0000; put back" in chmod, p.stdout[-3000:]
    assert clean(cases["test_b_gets_its_tmp"]) and clean(cases["test_d_gets_its_tmp"]), p.stdout
