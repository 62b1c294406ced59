"""Memory a test left mapped in the process that runs the tests.

A test that keeps a large mapping alive (a module-level list holding a populated 1 GiB
mmap, say) changes nothing the state check compares, yet every later fork of that
process copies a page-table entry for each of its pages and the child tears them down:
measured, the 320 tests of suites/proc after such a test took 6.9 s instead of 1.4.
Its anonymous resident memory is compared after each test; the most a test of the suite
grows it by is 1.5 MiB, so a test that grew it by GROWTH_LIMIT_KB or more fails, named, and
a forked worker is replaced (the memory cannot be taken back from under the objects
that hold it)."""

from __future__ import annotations

import re

GROWTH_LIMIT_KB = 64 * 1024
_ANON = re.compile(rb"\nRssAnon:\s+(\d+) kB")


def anonymous_kb(status: bytes | None) -> int | None:
    """RssAnon from a /proc/PID/status text, or None where it has none."""
    found = _ANON.search(status) if status else None
    return int(found.group(1)) if found else None


def grown(before_kb: int | None, after_kb: int | None) -> str | None:
    """What to say when the anonymous memory grew by GROWTH_LIMIT_KB or more."""
    if before_kb is None or after_kb is None or after_kb - before_kb < GROWTH_LIMIT_KB:
        return None
    return (
        f"the test left {(after_kb - before_kb) // 1024} MiB more anonymous memory in this "
        f"process ({before_kb // 1024} -> {after_kb // 1024} MiB resident): each later fork "
        "of it copies that"
    )
