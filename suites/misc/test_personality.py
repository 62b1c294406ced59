"""personality(2): querying (0xffffffff) answers the current persona without changing it
(Linux only; PER_LINUX is 0)."""

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

QUERY = 0xFFFFFFFF


def test_personality_query_reports_linux(kernel: Kernel) -> None:
    assert kernel.personality(QUERY).unwrap() & kernel.PER_MASK == kernel.PER_LINUX


def test_personality_query_changes_nothing(kernel: Kernel) -> None:
    first = kernel.personality(QUERY).unwrap()
    assert kernel.personality(QUERY).unwrap() == first


def test_personality_set_returns_previous_and_applies(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        before = kernel.personality(QUERY).unwrap()
        old = kernel.personality(before | kernel.ADDR_NO_RANDOMIZE).unwrap()
        return old ^ before, kernel.personality(QUERY).unwrap() & kernel.ADDR_NO_RANDOMIZE

    assert in_child(run) == (0, kernel.ADDR_NO_RANDOMIZE)
