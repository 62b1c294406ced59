"""The standard library's functions as the runner found them (syscalls.runner.patches).
Each case replaces them in a forked child (syscalls.child), never in this process."""

from __future__ import annotations

import os
import select
import time

from syscalls import child
from syscalls.runner import patches


def test_functions_are_watched_classes_and_plain_values_are_not() -> None:
    watched = dict((m.__name__, keys) for m, keys in patches.names())
    assert "monotonic" in watched["time"] and "select" in watched["select"]
    assert "check_output" in watched["subprocess"] and "Popen" not in watched["subprocess"]
    assert "sep" not in watched["posixpath"] and "environ" not in watched["os"]
    assert "sys" not in watched  # pytest sets its hooks there
    assert "excepthook" not in watched["threading"]  # and there, around each phase


def test_nothing_differs_in_an_untouched_process() -> None:
    watched = patches.names()
    before, fingerprint = patches.read(watched), patches.Fingerprint(watched)
    assert patches.values(watched) == patches.values(watched)
    assert fingerprint() == fingerprint()
    assert patches.replaced(before, patches.read(watched)) == []


def test_a_replaced_or_deleted_function_is_named_and_put_back() -> None:
    def run() -> tuple[list[str], list[str], bool, bool, bool]:
        watched = patches.names()
        fingerprint = patches.Fingerprint(watched)
        before, values, first = patches.read(watched), patches.values(watched), fingerprint()
        original = time.monotonic
        time.monotonic = lambda: 0.0  # type: ignore[assignment]
        select.select = None  # type: ignore[assignment]
        del os.fork
        changed = patches.values(watched) != values and fingerprint() != first
        after = patches.read(watched)
        which = patches.replaced(before, after)
        shown = [patches.show(n, after.get(n, patches.GONE)) for n in which]
        patches.put_back(before, which)
        back = time.monotonic is original and callable(select.select) and hasattr(os, "fork")
        same = patches.values(watched) == values and fingerprint() == first
        return which, shown, changed, back, same

    which, shown, changed, back, same = child.run(run)
    assert which == ["os.fork", "select.select", "time.monotonic"]
    assert shown == [
        "os.fork deleted",
        "select.select replaced by NoneType",
        "time.monotonic replaced by test_a_replaced_or_deleted_function_is_named_and_put_back"
        ".<locals>.run.<locals>.<lambda>",
    ]
    assert changed and back and same
