"""A test's fork that returns into pytest (syscalls.runner.copies): stopped before it
reports or finalizes anything, and named on its test, in a forked worker, a plain
serial run and under xdist."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from syscalls import child
from syscalls.runner.copies import COPY_STATUS, Copies
from tests.runner_checks import clean, in_a_worker, junit_cases, junit_message, pytest_in

FORGETS = """
import os, pytest

def test_a_returns():
    pid = os.fork()
    if pid == 0:
        return  # no os._exit: the child comes back into pytest
    _, status = os.waitpid(pid, 0)
    open("statuses", "a").write(f"{os.waitstatus_to_exitcode(status)}\\n")

def test_b_raises():
    pid = os.fork()
    if pid == 0:
        raise RuntimeError("raised in the child")
    os.waitpid(pid, 0)

@pytest.fixture
def forks_in_setup():
    pid = os.fork()
    if pid == 0:
        yield "child"
        return
    os.waitpid(pid, 0)
    yield "parent"

def test_c_fixture(forks_in_setup):
    open("bodies", "a").write(f"{forks_in_setup}\\n")

@pytest.fixture
def forks_in_finalizer():
    yield
    pid = os.fork()
    if pid == 0:
        return
    os.waitpid(pid, 0)

def test_d_finalizer(forks_in_finalizer):
    pass

def test_e_after():
    open("after", "a").write(f"{os.getpid()}\\n")
"""

WHERE = {
    "test_a_returns": "at the end of the test's call",
    "test_b_raises": "at the end of the test's call",
    "test_c_fixture": "at the end of the test's setup",
    "test_d_finalizer": "after the test's teardown (forked by a finalizer)",
}


def _check(directory: Path, cases: dict, output: str) -> None:
    for name, where in WHERE.items():
        message = junit_message(cases[name])
        assert message is not None, output[-3000:]
        assert "returned into pytest instead of ending with os._exit()" in message, message
        assert f"stopped {where}" in message, message
    assert clean(cases["test_e_after"]), output[-3000:]
    assert (directory / "after").read_text().count("\n") == 1  # run once, not by a copy too
    assert (directory / "bodies").read_text() == "parent\n"  # the body ran in the parent only
    assert (directory / "statuses").read_text() == f"{COPY_STATUS}\n"


def test_a_forked_worker_stops_the_copy_and_fails_its_test(tmp_path: Path) -> None:
    p, cases = in_a_worker(tmp_path, "test_forgets.py", FORGETS)
    _check(tmp_path, cases, p.stdout)


@pytest.mark.parametrize("args", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_plain_pytest_stops_the_copy_and_fails_its_test(tmp_path: Path, args: tuple) -> None:
    (tmp_path / "test_forgets.py").write_text(FORGETS)
    junit = tmp_path / "junit.xml"
    p = pytest_in(tmp_path, f"--junitxml={junit}", *args, "test_forgets.py")
    _check(tmp_path, junit_cases(junit), p.stdout)


def test_stop_does_nothing_in_the_process_that_made_it() -> None:
    copies = Copies()
    try:
        copies.stop("t", "here")
        assert copies.found("t") == []
    finally:
        copies.close()


def test_only_the_lines_of_the_tests_own_copies_are_told() -> None:
    copies = Copies()
    try:

        def copy(nodeid: str) -> None:
            copies.stop(nodeid, "somewhere\nelse")

        for nodeid in ("other", "mine", "x" * 2000):
            pid = os.fork()
            if pid == 0:
                copy(nodeid)
                os._exit(0)  # not reached: stop() ends a copy
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == COPY_STATUS
        found = copies.found("mine")
        assert len(found) == 1 and "stopped somewhere else" in found[0], found
        assert copies.found("mine") == []  # read once
    finally:
        copies.close()


def test_its_descriptors_are_out_of_the_tests_way() -> None:
    def run() -> tuple[int, int]:
        copies = Copies()
        return copies.r, copies.w

    assert min(child.run(run)) >= 512


def test_a_kernel_whose_getpid_answers_wrongly_makes_no_copy_of_the_process() -> None:
    """getpid() wrong (a regression under test): the process that runs the tests is not
    taken for a copy of itself and ended at its first test."""

    def run() -> list[str]:
        copies = Copies()
        os.getpid = lambda: copies.pid + 1  # type: ignore[assignment]
        copies.stop("t", "here")  # returns: its parent is the same as before
        return copies.found("t")

    assert child.run(run) == []
