"""The standard library's functions, as the runner found them.

A test that replaces time.monotonic, select.select or os.fork by assignment (not with
pytest's monkeypatch fixture, which puts them back) and leaves them so changes them for
every test after it in its worker, and for the runner there too: a frozen clock made
the watchdog kill the next test for having run 51112 s. Each module's functions (Python's
and built-in) are looked up after each test and compared with those it had, by identity.
Classes are left out: each lookup writes the object's reference count, and a page
written after an in_child test's fork is a copy-on-write fault in its worker. With the
classes the check cost about 0.1 s of a 4.8 s `syscalls run` (alternated runs); with
functions only it is within the noise (4.80 s against 4.78 s without it).
"""

from __future__ import annotations

import importlib
import types
from itertools import repeat
from operator import itemgetter
from typing import Any

STANDARD_LIBRARY = "standard library"
# What the runner, pytest and the suite call most (about 460 functions);
# `sys` stays out (pytest sets its hooks there), and so do modules that keep state in
# plain values (tempfile.tempdir).
MODULES = (
    "builtins",
    "os",
    "posixpath",
    "time",
    "select",
    "selectors",
    "signal",
    "socket",
    "fcntl",
    "resource",
    "struct",
    "pickle",
    "threading",
    "subprocess",
    "io",
    "gc",
)
_KINDS = (types.FunctionType, types.BuiltinFunctionType)
# What pytest sets around each phase of a test itself (its threadexception plugin, before
# pytest 8.4: a new catch_threading_exception each time), as it does sys's hooks
_PYTESTS = frozenset({"threading.excepthook"})
GONE = object()  # what a deleted name holds

Names = tuple[tuple[types.ModuleType, tuple[str, ...]], ...]


def names() -> Names:
    """Each module (those importable here) with the names of its functions."""
    found = []
    for module_name in MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        keys = tuple(
            sorted(
                k
                for k, v in vars(module).items()
                if isinstance(v, _KINDS) and k != "_" and f"{module_name}.{k}" not in _PYTESTS
            )
        )
        found.append((module, keys))
    return tuple(found)


def values(watched: Names) -> tuple[tuple[Any, ...], ...]:
    """What those names hold now (GONE for one deleted): compared whole, by identity."""
    return tuple(tuple(map(vars(module).get, keys, repeat(GONE))) for module, keys in watched)


class Fingerprint:
    """values(), in a third of the time (7 us a test): one itemgetter per module."""

    def __init__(self, watched: Names) -> None:
        self.watched = watched
        self.getters = tuple((vars(module), itemgetter(*keys)) for module, keys in watched)

    def __call__(self) -> tuple[Any, ...]:
        try:
            return tuple(get(namespace) for namespace, get in self.getters)
        except KeyError:  # a name deleted
            return values(self.watched)


def read(watched: Names) -> dict[str, Any]:
    """The same, by qualified name ("time.monotonic")."""
    return {
        f"{module.__name__}.{key}": value
        for (module, keys), held in zip(watched, values(watched), strict=True)
        for key, value in zip(keys, held, strict=True)
    }


def replaced(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The qualified names whose object changed (or went)."""
    return sorted(k for k, v in before.items() if after.get(k, GONE) is not v)


def show(name: str, value: Any) -> str:
    if value is GONE:
        return f"{name} deleted"
    shown = getattr(value, "__qualname__", None) or type(value).__name__
    return f"{name} replaced by {shown}"


def put_back(before: dict[str, Any], which: list[str]) -> None:
    for qualified in which:
        module_name, _, key = qualified.rpartition(".")
        setattr(importlib.import_module(module_name), key, before[qualified])
