"""What a test changes in the run's controller by its pid (syscalls.runner.guard): found
as the test ends, put back where it can be, and named on the test. Each case changes a
forked child (syscalls.child), never this process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from syscalls import child
from syscalls.runner import guard
from tests.runner_checks import clean, in_a_worker, junit_message


def test_nothing_changed_is_no_message() -> None:
    def run() -> tuple[str | None, str | None]:
        g = guard.Guard()
        return g.check(), g.check()

    assert child.run(run) == (None, None)


def test_a_nice_value_set_from_outside_is_named_and_put_back_where_it_can_be() -> None:
    def run() -> tuple[str | None, int, str | None]:
        g = guard.Guard()
        os.setpriority(os.PRIO_PROCESS, 0, os.getpriority(os.PRIO_PROCESS, 0) + 5)
        return g.check(), os.getpriority(os.PRIO_PROCESS, 0), g.check()

    before = os.getpriority(os.PRIO_PROCESS, 0)
    message, now, again = child.run(run)
    assert message is not None and f"nice: {before} -> {before + 5}" in message
    if os.geteuid() == 0:  # lowering it again needs CAP_SYS_NICE
        assert "(put back)" in message and now == before
    else:
        assert "(cannot be put back)" in message and now == before + 5
    assert again is None  # what could not be put back is the new normal: said once


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one CPU: no affinity to narrow")
def test_a_cpu_affinity_narrowed_from_outside_is_put_back() -> None:
    def run() -> tuple[str | None, set[int]]:
        g = guard.Guard()
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        return g.check(), os.sched_getaffinity(0)

    message, cpus = child.run(run)
    assert message is not None and "CPU affinity: " in message and "(put back)" in message
    assert cpus == os.sched_getaffinity(0)


RENICE = """
import os

def test_a_renices_its_parent():
    os.setpriority(os.PRIO_PROCESS, os.getppid(), os.getpriority(os.PRIO_PROCESS, 0) + 3)

def test_b_after():
    pass
"""


def test_a_test_that_changes_the_controller_fails_and_the_run_goes_on(tmp_path: Path) -> None:
    p, cases = in_a_worker(tmp_path, "test_renice.py", RENICE)
    error = junit_message(cases["test_a_renices_its_parent"])
    assert error is not None, p.stdout[-3000:]
    assert "changed the run's controller" in error
    assert "nice: " in error
    assert clean(cases["test_b_after"]), p.stdout[-3000:]
