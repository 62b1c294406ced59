"""Collection that builds only what the run will execute (a pytest plugin, loaded by the
root conftest).

pytest builds two kinds of collectors only to throw them away, which is most of a small
selection's collection in a TCG guest, where Python runs about 20x slower than here:

- Files named on the command line: to reach suites/fs/test_openat.py, pytest makes a
  collector for every file in suites/ and suites/fs/ and keeps the one named. A file
  outside every path given (or every testpath) is ignored before that.
- --smoke: a test function that has no smoke marker (on itself, its class, its module or
  one of its parameters) is never made into items; `-m smoke` would make them all, then
  deselect them. Items that do get made and still lack the marker (a parametrized case
  whose sibling carries it) are deselected as `-m smoke` would.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

SMOKE = "smoke"
_SESSION = pytest.StashKey[pytest.Session]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("syscalls").addoption(
        "--smoke",
        action="store_true",
        help="only the smoke selection (@pytest.mark.smoke): the tests -m smoke selects, "
        "without collecting the others first",
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_SESSION] = session


@pytest.hookimpl(tryfirst=True)
def pytest_ignore_collect(collection_path: Any, config: pytest.Config) -> bool | None:
    session = config.stash.get(_SESSION, None)
    if session is None or any(map(session.isinitpath, (collection_path, *collection_path.parents))):
        return None
    # Not within any path given: a sibling on the way to one. Directories are walked.
    return True if collection_path.is_file() else None


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> Any:
    if not collector.config.getoption("smoke", False):
        return None
    if not inspect.isfunction(obj) or not collector.funcnamefilter(name):  # type: ignore[attr-defined]
        return None
    if _smoke(obj) or collector.get_closest_marker(SMOKE) is not None:
        return None
    return []  # not a smoke test: no items


def _smoke(function: object) -> bool:
    """Whether the function or one of its parameter sets carries the smoke marker."""
    for mark in getattr(function, "pytestmark", []):
        if mark.name == SMOKE:
            return True
        if mark.name == "parametrize" and len(mark.args) > 1:
            for value in mark.args[1]:
                if any(m.name == SMOKE for m in getattr(value, "marks", ())):
                    return True
    return False


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("smoke", False):
        return
    kept = [item for item in items if item.get_closest_marker(SMOKE) is not None]
    if len(kept) < len(items):
        dropped = [item for item in items if item.get_closest_marker(SMOKE) is None]
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
