"""Memory a test leaves mapped in the process that runs the tests (syscalls.runner.memory):
named on the test, and a forked worker replaced."""

from __future__ import annotations

from pathlib import Path

from syscalls.runner import memory
from tests.runner_checks import clean, in_a_worker, junit_cases, junit_message, pytest_in

LEAVES = """
import mmap, os
KEPT = []

def test_a_leaves_a_mapping():
    open("pids", "a").write(f"{os.getpid()}\\n")
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | getattr(mmap, "MAP_POPULATE", 0)
    KEPT.append(mmap.mmap(-1, 128 << 20, flags=flags))
    KEPT[-1][:: mmap.PAGESIZE] = b"x" * (len(KEPT[-1]) // mmap.PAGESIZE)

def test_b_after():
    open("pids", "a").write(f"{os.getpid()}\\n")

def test_c_frees_what_it_maps():
    m = mmap.mmap(-1, 128 << 20)
    m[:: mmap.PAGESIZE] = b"x" * (len(m) // mmap.PAGESIZE)
    m.close()
"""


def test_a_worker_left_with_a_tests_memory_is_replaced(tmp_path: Path) -> None:
    p, cases = in_a_worker(tmp_path, "test_leaves.py", LEAVES)
    message = junit_message(cases["test_a_leaves_a_mapping"]) or ""
    assert "the test left 12" in message and "MiB more anonymous memory" in message, p.stdout[
        -3000:
    ]
    assert "a fresh worker runs the tests after it" in message
    assert clean(cases["test_b_after"]) and clean(cases["test_c_frees_what_it_maps"])
    first, after = (tmp_path / "pids").read_text().split()
    assert first != after  # the memory went with the worker


def test_a_serial_run_names_it_and_goes_on(tmp_path: Path) -> None:
    (tmp_path / "test_leaves.py").write_text(LEAVES)
    junit = tmp_path / "junit.xml"
    p = pytest_in(tmp_path, f"--junitxml={junit}", "test_leaves.py")
    cases = junit_cases(junit)
    message = junit_message(cases["test_a_leaves_a_mapping"]) or ""
    assert "the tests after it in this process pay for it" in message, p.stdout[-3000:]
    assert clean(cases["test_b_after"])


def test_the_anonymous_memory_is_read_from_the_status_text() -> None:
    status = b"Name:\tx\nVmRSS:\t  9000 kB\nRssAnon:\t    5120 kB\nRssFile:\t 300 kB\n"
    assert memory.anonymous_kb(status) == 5120
    assert memory.anonymous_kb(b"Name:\tx\n") is None  # gVisor's, say
    assert memory.anonymous_kb(None) is None


def test_growth_below_the_limit_or_unknown_says_nothing() -> None:
    limit = memory.GROWTH_LIMIT_KB
    assert memory.grown(1000, 1000 + limit - 1) is None
    assert memory.grown(None, 10**9) is None and memory.grown(1000, None) is None
    assert memory.grown(2000, 1000) is None  # freed: fine
    said = memory.grown(1024, 1024 + limit)
    assert said is not None and "64 MiB more anonymous memory" in said and "1 -> 65 MiB" in said


WARNS = """
import warnings

def test_a_warns_200000_times():
    for i in range(200000):
        warnings.warn(f"warning number {i}")

def test_b_after():
    pass
"""


def test_what_reporting_the_last_test_took_is_not_the_next_tests(tmp_path: Path) -> None:
    """In a serial run the process that runs the tests also reports them: pytest hands
    the warnings of a test on after its teardown (200,000 of them: 120 MiB), and the
    next test was blamed for that memory."""
    (tmp_path / "test_warns.py").write_text(WARNS)
    junit = tmp_path / "junit.xml"
    p = pytest_in(tmp_path, f"--junitxml={junit}", "test_warns.py")
    cases = junit_cases(junit)
    assert clean(cases["test_b_after"]), junit_message(cases["test_b_after"]) or p.stdout[-3000:]
