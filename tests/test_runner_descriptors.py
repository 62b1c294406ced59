"""The descriptors and standard streams a test leaves (syscalls.runner.descriptors).
Each case changes them in a forked child (syscalls.child), never in this process."""

from __future__ import annotations

import gc
import os
import resource
import sys
from pathlib import Path

from syscalls import child
from syscalls.runner import descriptors
from syscalls.runner.highfd import HIGH_FD, out_of_the_way
from tests.runner_checks import in_a_worker


def test_the_listing_leaves_out_its_own_descriptor_and_the_runners() -> None:
    def run() -> tuple[tuple[int, ...], tuple[int, ...], int, int]:
        runners = out_of_the_way(os.open("/dev/null", os.O_RDONLY))
        before = descriptors.listing()
        fd = os.open("/dev/null", os.O_RDONLY)
        return before, descriptors.listing(), fd, runners

    before, after, fd, runners = child.run(run)
    assert runners >= HIGH_FD and runners not in before + after
    assert fd not in before
    assert after == tuple(sorted((*before, fd)))
    assert descriptors.listing() == descriptors.listing()  # its own one never counted


def test_a_tests_descriptor_up_among_the_runners_is_listed() -> None:
    """os.dup2(fd, 700): not the runner's, whatever its number; it went unseen."""

    def run() -> tuple[tuple[int, ...], tuple[int, ...]]:
        before = descriptors.listing()
        os.dup2(0, HIGH_FD + 188)
        return before, descriptors.listing()

    before, after = child.run(run)
    assert after == tuple(sorted((*before, HIGH_FD + 188)))


def test_out_of_descriptors_each_number_is_asked() -> None:
    """With none free the listing cannot open /proc: it probes, and finds the same."""

    def run() -> tuple[tuple[int, ...], tuple[int, ...]]:
        expected = descriptors.listing()
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (3, hard))
        return expected, descriptors.listing()

    expected, exhausted = child.run(run)
    assert exhausted == expected


def test_what_was_opened_and_closed_is_named_and_those_opened_are_closed() -> None:
    def run() -> tuple[str, dict[int, str], dict[int, str]]:
        kept = os.open("/dev/null", os.O_RDONLY)
        before = descriptors.read()
        os.pipe()
        os.close(kept)
        after = descriptors.read()
        shown = descriptors.difference(before, after)
        descriptors.close(descriptors.added(before, after))
        return shown, descriptors.read(), before

    shown, now, before = child.run(run)
    assert shown.count("(pipe:[") == 2 and shown.count("+") == 2
    assert shown.count("-") == 1 and "(/dev/null)" in shown
    assert set(now) < set(before)  # the pipe closed; the /dev/null one stays closed


def test_a_long_difference_is_cut_short() -> None:
    after = {fd: "/dev/null" for fd in range(20)}
    assert descriptors.difference({}, after, most=3).endswith("and 17 more")


def test_a_closed_standard_stream_is_seen() -> None:
    def run() -> tuple[tuple[bool | None, ...], tuple[bool | None, ...]]:
        before = descriptors.streams()
        sys.stdout.close()
        return before, descriptors.streams()

    before, after = child.run(run)
    assert before[1] is False and after[1] is True
    assert "stdout closed" in descriptors.show_streams(after)


def test_a_stream_that_is_no_file_is_left_out() -> None:
    def run() -> str:
        sys.stderr = object()  # type: ignore[assignment]
        return descriptors.show_streams(descriptors.streams())

    assert child.run(run).endswith("stdout open")  # stdin: pytest's stand-in, maybe


def test_a_descriptor_held_by_a_file_object_is_closed_through_it() -> None:
    """Closed under its file object, the number could be another file's when that object
    closes it again (its finalizer, at the next collection)."""

    def run() -> tuple[bool, bool]:
        held = open("/dev/null", "rb")  # noqa: SIM115 - left open on purpose
        bare = os.open("/dev/null", os.O_RDONLY)
        descriptors.close({held.fileno(): "/dev/null", bare: "/dev/null"})
        try:
            os.fstat(bare)
            bare_closed = False
        except OSError:
            bare_closed = True
        return held.closed, bare_closed

    assert child.run(run) == (True, True)


def test_unreachable_holders_close_their_descriptors_before_the_reading() -> None:
    def run() -> tuple[int, int]:
        before = descriptors.read()
        cycle: list[object] = [open("/dev/null", "rb")]  # noqa: SIM115
        cycle.append(cycle)  # only the cyclic collector frees it
        del cycle
        gc.disable()
        opened = len(descriptors.listing()) - len(before)
        descriptors.settle(before)
        return opened, len(descriptors.listing()) - len(before)

    assert child.run(run) == (1, 0)


FAILS_HOLDING = """
import os

def test_a_fails_holding_a_descriptor():
    fd = os.open("/dev/null", os.O_RDONLY)  # the call the kernel should have refused
    assert fd < 0

def test_b_passes_leaving_one():
    os.open("/dev/null", os.O_RDONLY)

def test_c_after():
    pass
"""


def test_a_failed_test_has_its_descriptors_closed_without_a_second_report(
    tmp_path: Path,
) -> None:
    """A kernel that answers with a descriptor where it should refuse fails the test;
    the descriptor its assertion left open is closed, and not told again as a leak."""
    p, cases = in_a_worker(tmp_path, "test_holding.py", FAILS_HOLDING)
    failed = cases["test_a_fails_holding_a_descriptor"]
    assert failed.find("failure") is not None and failed.find("error") is None, p.stdout[-3000:]
    leaked = cases["test_b_passes_leaving_one"].find("error")
    assert leaked is not None and "open descriptors" in (leaked.get("message") or "")
    assert list(cases["test_c_after"]) == []  # passed


LEAVES_HIGH = """
import os

def test_a_leaves_one_up_high():
    fd = os.open("/dev/null", os.O_RDONLY)
    os.dup2(fd, 700)
    os.close(fd)

def test_b_after():
    try:
        os.fstat(700)
    except OSError:
        return
    raise AssertionError("700 is still open")
"""


def test_a_descriptor_left_up_among_the_runners_fails_its_test_and_is_closed(
    tmp_path: Path,
) -> None:
    p, cases = in_a_worker(tmp_path, "test_high.py", LEAVES_HIGH)
    leaked = cases["test_a_leaves_one_up_high"].find("error")
    assert leaked is not None, p.stdout[-3000:]
    assert "open descriptors: as they were -> +700 (/dev/null)" in (leaked.get("message") or "")
    assert list(cases["test_b_after"]) == []  # passed
