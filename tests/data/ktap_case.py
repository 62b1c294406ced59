"""Tests with every outcome, for tests/test_ktap.py's real run with a failure and a crash
(run explicitly, never collected by the suite: the name does not match test_*.py)."""

import os
import signal

import pytest

from syscalls.kernel import Kernel


def test_getpid_answers_this_process(kernel: Kernel) -> None:
    assert kernel.getpid().unwrap() == os.getpid()


def test_getpid_answers_minus_one(kernel: Kernel) -> None:
    # Fails for real: the kernel answers with the pid.
    assert kernel.getpid().value == -1, "the kernel gave a pid # not -1\nsecond line"


def test_crash_of_the_test_process(kernel: Kernel) -> None:
    kernel.getpid()
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.os("nonexistent-os")
def test_skipped_with_its_reason() -> None:
    pass


@pytest.mark.xfail(reason="a known difference", strict=True)
def test_expected_failure(kernel: Kernel) -> None:
    assert kernel.getpid().value == -1


@pytest.fixture
def broken_setup() -> None:
    raise RuntimeError("setup broke")


def test_error_in_setup(broken_setup: None) -> None:
    pass


@pytest.mark.parametrize("name", ["a#b", "two words"])
def test_awkward_names(name: str) -> None:
    assert name
