"""The one schema of a binding table (a platforms/ layer or a table given by path).

check_layer(data, path) checks one TOML file as read: known sections only, each a table
of the right value type, the [platform] fields; check_platform(p) checks the layers
together: the sections a platform needs, and that names point at syscalls it has. Every
error is a PlatformError whose message is one line naming the file and the key, so a
bad table stops a command before it runs anything, never half-way through a suite.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from syscalls.abi import Platform


class PlatformError(Exception):
    """A table is missing or malformed; the message is one line naming the file."""


_C_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
PATH_NAME = re.compile(r"[a-z0-9_]+\Z")  # os and arch name a directory and a file


def _is_int(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


@dataclass(frozen=True)
class Kind:
    """What a value must be: `what` says it in the error message."""

    what: str
    ok: Callable[[Any], bool]


SYSCALL_NUMBER = Kind(
    "a syscall number (an integer from 0 to 2**31-1)", lambda v: _is_int(v, 0, 2**31 - 1)
)
ERRNO_NUMBER = Kind("an errno number (an integer from 1 to 4095)", lambda v: _is_int(v, 1, 4095))
# 64 bits, signed or unsigned (RLIM_INFINITY is 2**64-1 on Linux).
CONSTANT = Kind("an integer of at most 64 bits", lambda v: _is_int(v, -(2**64) + 1, 2**64 - 1))
C_NAME = Kind(
    "a C name (letters, digits, _)", lambda v: isinstance(v, str) and bool(_C_NAME.match(v))
)
TEXT = Kind("a string", lambda v: isinstance(v, str))
# Argument slots that the kernel's calling convention pads (NetBSD's off_t alignment).
PADDING = Kind(
    "a list of argument positions (integers from 0 to 7)",
    lambda v: isinstance(v, list) and bool(v) and all(_is_int(i, 0, 7) for i in v),
)

# Section -> the kind of its values (keys are names, which TOML makes strings).
SECTIONS: dict[str, Kind] = {
    "syscalls": SYSCALL_NUMBER,  # name -> number
    "symbols": C_NAME,  # name -> the libc symbol to call instead of syscall(2)
    "aliases": C_NAME,  # the suites' name -> this table's name
    "padding": PADDING,  # name -> padded argument slots
    "left_out": TEXT,  # numbers the kernel never implements (stubs, removed calls) -> why
    "errno": ERRNO_NUMBER,
    "constants": CONSTANT,
    "optional": TEXT,  # Linux: syscall -> the CONFIG_ option that may leave it out
    "unimplemented": TEXT,  # Linux: syscalls no kernel implements -> why
}

_TEXT_LIST = Kind(
    "a list of strings", lambda v: isinstance(v, list) and all(isinstance(s, str) for s in v)
)
_NAME_LIST = Kind(
    "a list of syscall names",
    lambda v: isinstance(v, list) and all(C_NAME.ok(s) for s in v),
)
_HEADERS = Kind(
    "a list of relative paths of .h files",
    lambda v: isinstance(v, list) and all(_is_header(s) for s in v),
)
_PATH_NAME = Kind(
    "a lower-case name (letters, digits, _), as the platforms/ directories are named",
    lambda v: isinstance(v, str) and bool(PATH_NAME.match(v)),
)

PLATFORM_FIELDS: dict[str, Kind] = {
    "os": _PATH_NAME,  # linux, freebsd, netbsd, openbsd: selects platforms/<os>/
    "arch": _PATH_NAME,
    "release": TEXT,  # the kernel tree the table was generated from
    "sources": _TEXT_LIST,  # the upstream files its facts came from
    "errors_in_value": _NAME_LIST,  # calls that return their error number as the value
    "cdef": _HEADERS,  # C declarations to load, relative to the file that names them
}


def _is_header(value: Any) -> bool:
    if not isinstance(value, str) or not value.endswith(".h") or "\0" in value:
        return False
    return not PurePosixPath(value).is_absolute()


def check_layer(data: dict[str, Any], path: Path) -> None:
    """One table file as tomllib read it; PlatformError names the file and key."""
    for section, values in data.items():
        if section == "platform":
            _check_section(path, section, values, PLATFORM_FIELDS.get, known=PLATFORM_FIELDS)
        elif section in SECTIONS:
            kind = SECTIONS[section]
            _check_section(path, section, values, lambda _key, kind=kind: kind)
        else:
            known = ", ".join(f"[{s}]" for s in ("platform", *SECTIONS))
            raise PlatformError(f"{path}: unknown section [{section}] (known: {known})")


def _check_section(
    path: Path,
    section: str,
    values: Any,
    kind_of: Callable[[str], Kind | None],
    known: dict[str, Kind] | None = None,
) -> None:
    if not isinstance(values, dict):
        raise PlatformError(f"{path}: [{section}] must be a table, not {_show(values)}")
    for key, value in values.items():
        kind = kind_of(key)
        if kind is None:
            names = ", ".join(known or ())
            raise PlatformError(f"{path}: [{section}] {key}: unknown key (known: {names})")
        if not kind.ok(value):
            raise PlatformError(
                f"{path}: [{section}] {key} must be {kind.what}, not {_show(value)}"
            )


def _show(value: Any) -> str:
    """A value as the error message quotes it: short, and on one line."""
    if isinstance(value, dict):
        return "a table"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# What every platform needs; the generated layer is where a user looks for them.
REQUIRED = ("syscalls", "errno")


def check_platform(p: Platform, table: Path) -> None:
    """The layers together: required sections, and names that point at known syscalls.

    `table` is the generated layer (or the table given by path), named in messages about
    what it lacks; a bad name is reported in the file that defined it (p.origins)."""
    for section in REQUIRED:
        if not getattr(p, section):
            raise PlatformError(
                f"{table}: no [{section}] (a table needs [platform] os and arch, "
                f"[syscalls] and [errno])"
            )
    known = set(p.syscalls) | set(p.symbols)

    def where(section: str, key: str) -> Path:
        return p.origins.get((section, key), table)

    # The hand-written layers around the table (common.toml, <arch>-extra.toml) name
    # calls for any table of the OS or arch: a call that a table given by path lacks is
    # "not in the table" with it (a skip). The table itself must be consistent; the
    # hand-written layers are checked against the committed tables by tests/test_abi.py.
    def unknown(name: str, section: str, key: str) -> bool:
        return name not in known and where(section, key) == table

    for name, target in p.aliases.items():
        if unknown(target, "aliases", name):
            raise PlatformError(
                f"{where('aliases', name)}: [aliases] {name} = {target!r}: "
                f"{target} is in neither [syscalls] nor [symbols]"
            )
    for name in p.padding:
        if name not in p.syscalls:
            raise PlatformError(f"{where('padding', name)}: [padding] {name}: not in [syscalls]")
    for name in sorted(p.errors_in_value):
        if unknown(name, "platform", "errors_in_value"):
            raise PlatformError(
                f"{where('platform', 'errors_in_value')}: [platform] errors_in_value names "
                f"{name}, which is in neither [syscalls] nor [symbols]"
            )
