"""Parser for the BSDs' sys/kern/syscalls.master: number, kind and prototype of each entry.

The three dialects share a shape, `number TYPE [options] { prototype } [alias]`, and
differ in details this module knows about:

    FreeBSD  `number AUE_event TYPE[|TYPE...] { rettype name(args); } [alias]`, prototypes
             spread over several lines; COMPATn entries are named freebsdN_name.
    NetBSD   `{ rettype|prefix|version|name(args); } [alias]`: a version (`50` in
             `int|sys|50|stat`) names the syscall __stat50, as the libc symbol is named;
             compat entries are named compat_NN_name; `PAD` arguments are padding slots.
    OpenBSD  `{ rettype sys_name(args); } [alias]`, the `sys_` prefix dropped.

Lines continue with a trailing backslash (NetBSD, OpenBSD) or until the closing brace.
Entries for UNIMPL, OBSOL and RESERVED numbers have no prototype and are not returned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from syscalls.table_schema import C_NAME, SYSCALL_NUMBER

DIALECTS = ("freebsd", "netbsd", "openbsd")

# Types that define no callable syscall.
_ABSENT = {"UNIMPL", "OBSOL", "RESERVED", "EXCL", "NODEF", "IGNORED"}
_ENTRY = re.compile(r"^([0-9]+)\s+(.*)$", re.S)  # ASCII digits: \d takes "١٢" too
_PROTO = re.compile(r"\{(.*)\}\s*(\S*)\s*$", re.S)
# Lines outside entries that are neither comments nor preprocessor lines: FreeBSD's
# ranges of numbers that define nothing (`151-153 AUE_NULL RESERVED`), NetBSD's RCS id
# ($NetBSD$)
_RANGE = re.compile(r"^[0-9]+-[0-9]+\s")
_C_TYPE = re.compile(r"^[A-Za-z_][A-Za-z0-9_ *]*$")  # what a prototype's types are made of
_C_WORD = re.compile(r"[A-Za-z_]\w*", re.A)  # and each word of one: "int 3" is none
_CPP_OPEN = ("#if", "#ifdef", "#ifndef")


class MasterError(ValueError):
    """The text is not a syscalls.master this parser understands."""


@dataclass(frozen=True)
class Arg:
    ctype: str
    name: str

    @property
    def is_pad(self) -> bool:
        """NetBSD's padding slot (an unused register so a 64-bit off_t is aligned)."""
        return self.name == "PAD"


@dataclass(frozen=True)
class Entry:
    number: int
    name: str  # the SYS_ name: "read", "__stat50", "freebsd11_mknod", "compat_43_ocreat"
    base: str  # the prototype's name without version or prefix: "stat"
    types: tuple[str, ...]  # STD, NOARGS, COMPAT_50, ...
    rettype: str
    args: tuple[Arg, ...]
    compat: bool  # an old ABI kept for old binaries
    version: str = ""  # NetBSD's symbol version ("50" in __stat50)


def _records(text: str) -> list[tuple[int, str]]:
    """Entries as (number, rest of the entry), continuation lines joined, comments dropped."""
    out: list[tuple[int, str]] = []
    current: list[str] = []
    depth = 0
    opened: list[int] = []  # lines of the cpp conditionals not yet closed
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not current:
            stripped = line.strip()
            if stripped.startswith("#"):
                _conditional(stripped, n, opened)
                continue
            if not stripped or stripped.startswith((";", "%", "$")):
                continue
            if _RANGE.match(stripped) and _ABSENT & set(stripped.split()):
                continue  # numbers that define nothing
            if not _ENTRY.match(stripped):  # a typo'd number ("l23", "12a") lost an entry
                raise MasterError(
                    f"line {n}: not an entry, a comment or a cpp line: {stripped[:60]!r}"
                )
            line = stripped
        continues = line.endswith("\\")
        if continues:
            line = line[:-1]
        current.append(line)
        depth += line.count("{") - line.count("}")
        if continues or depth > 0:
            continue
        m = _ENTRY.match(" ".join(current))
        current, depth = [], 0
        if m:
            digits = m.group(1)  # int() refuses past 4300 of them: ten at most
            if len(digits) > 10 or not SYSCALL_NUMBER.ok(int(digits)):
                raise MasterError(f"entry {m.group(1)[:20]}: not a syscall number")
            out.append((int(m.group(1)), m.group(2)))
    if current:
        raise MasterError(f"unterminated entry: {' '.join(current)[:80]}")
    if opened:  # the entries after it would be read as unconditional
        raise MasterError(f"line {opened[-1]}: #if without #endif")
    return out


def _conditional(line: str, n: int, opened: list[int]) -> None:
    """Keep count of the cpp conditionals around the entries: one left open or closed
    twice is a master cut short or mangled, not one makesyscalls would take."""
    word = "#" + re.match(r"#\s*(\w*)", line).group(1)  # type: ignore[union-attr]
    if word in _CPP_OPEN:
        opened.append(n)
    elif word in ("#else", "#elif", "#endif") and not opened:
        raise MasterError(f"line {n}: {word} without #if")
    elif word == "#endif":
        opened.pop()


def _split_args(text: str) -> list[str]:
    parts, level, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            level += 1
        elif ch == ")":
            level -= 1
        elif ch == "," and level == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


_ANNOTATION = re.compile(
    r"\b_(?:In|Out|Inout)\w*(?:\([^()]*(?:\([^()]*\))?[^()]*\))?|\b_Contains_\w*"
)


def _parse_arg(text: str) -> Arg | None:
    text = _ANNOTATION.sub(" ", text).replace("...", " ").strip()
    if not text or text == "void":
        return None
    m = re.match(r"^(.*?)([A-Za-z_]\w*)\s*(\[[^\]]*\])?$", text, re.S)
    if not m or not m.group(1).strip():
        return Arg(" ".join(text.split()), "")
    ctype = " ".join(m.group(1).split()) + (" *" if m.group(3) else "")
    return Arg(ctype.replace(" *", "*").replace("*", " *").strip(), m.group(2))


def _prototype(body: str) -> tuple[str, str, tuple[Arg, ...]]:
    """(return type, name, args) of `rettype name(args);`."""
    body = " ".join(body.split()).rstrip(";").strip()
    m = re.match(r"^(.*?)\s*([A-Za-z_]\w*)\s*\((.*)\)\s*;?\s*$", body, re.S)
    if not m:
        raise MasterError(f"cannot read prototype {body!r}")
    rettype, name, args = m.groups()
    parsed = tuple(a for a in map(_parse_arg, _split_args(args)) if a is not None)
    return " ".join(rettype.split()), name, parsed


def parse(text: str, dialect: str) -> list[Entry]:
    """Every entry of a syscalls.master that defines a syscall, in file order."""
    if dialect not in DIALECTS:
        raise MasterError(f"unknown syscalls.master dialect {dialect!r}")
    entries: list[Entry] = []
    for number, rest in _records(text):
        words = rest.split(None, 2)
        if dialect == "freebsd":
            if len(words) < 2:
                raise MasterError(f"entry {number}: no type")
            words = words[1:]  # the audit event
        types = tuple(t for t in re.split(r"[|\s]+", words[0]) if t)
        if not types or set(types) & _ABSENT:
            continue
        m = _PROTO.search(rest)
        if not m:
            raise MasterError(f"entry {number} ({types[0]}): no prototype")
        body, version = m.group(1), ""
        if dialect == "netbsd":  # `rettype|prefix|version|name(args)`
            v = re.match(r"\s*(.*?)\|\w*\|(\w*)\|(\w+\s*\(.*)$", body, re.S)
            if not v:
                raise MasterError(f"entry {number}: expected rettype|prefix|version|name")
            body, version = f"{v.group(1)} {v.group(3)}", v.group(2)
        rettype, raw_name, args = _prototype(body)
        for ctype in (rettype, *(a.ctype for a in args)):
            words = ctype.replace("*", " ").split()
            if not _C_TYPE.match(ctype) or not all(_C_WORD.fullmatch(w) for w in words):
                # a brace or an entry run into the prototype; a name that is no C name
                raise MasterError(f"entry {number}: {ctype[:40]!r} is not a C type")
        entries.append(_entry(dialect, number, types, rettype, raw_name, args, m.group(2), version))
    _unique(entries)
    return entries


def _unique(entries: list[Entry]) -> None:
    """Each number defines one syscall, each name is one number: the masters' #else
    branches give the other side UNIMPL or EXCL. A table must not pick one silently."""
    by_number: dict[int, str] = {}
    by_name: dict[str, int] = {}
    for e in entries:
        if e.number in by_number:
            raise MasterError(f"entry {e.number}: {e.name} and {by_number[e.number]} share it")
        if e.name in by_name:
            raise MasterError(f"entry {e.number}: {e.name} is entry {by_name[e.name]} already")
        by_number[e.number], by_name[e.name] = e.name, e.number


def _entry(
    dialect: str,
    number: int,
    types: tuple[str, ...],
    rettype: str,
    raw_name: str,
    args: tuple[Arg, ...],
    alias: str,
    version: str,
) -> Entry:
    if dialect == "netbsd":
        base = raw_name
        name = alias or (f"__{base}{version}" if version else base)
    elif dialect == "openbsd":
        base = raw_name.removeprefix("sys_")
        name = alias or base
    else:
        base = raw_name
        name = alias or base
    compat_type = next((t for t in types if t.startswith("COMPAT")), "")
    if compat_type:
        if dialect == "netbsd":
            name = f"compat_{compat_type.removeprefix('COMPAT_').lower()}_{name}"
        elif dialect == "freebsd":
            suffix = compat_type.removeprefix("COMPAT")
            name = f"freebsd{suffix}_{name}" if suffix else f"o{name}"
        else:
            name = f"compat_{compat_type.lower()}_{name}"
    if not C_NAME.ok(name):  # TOML and the tables' schema take C names only
        raise MasterError(f"entry {number}: {name[:40]!r} is not a syscall name")
    return Entry(number, name, base, types, rettype, args, bool(compat_type), version)
