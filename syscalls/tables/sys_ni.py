"""Which Linux syscalls a kernel configuration may leave out, and the option that does.

kernel/sys_ni.c lists every syscall that can be compiled out as COND_SYSCALL(name)
(COND_SYSCALL_COMPAT(name) for a compat entry point): when nothing defines sys_name, the
weak alias makes it sys_ni_syscall, which answers ENOSYS. Every other entry point in an
arch's syscall table is always linked in, so a kernel that answers ENOSYS for it has
lost it. Entries the table gives no entry point, or sys_ni_syscall itself, never exist.

The option is found where the tree says it, and only there: the file that defines the
syscall (SYSCALL_DEFINEn(name, ...)), then an `#ifdef CONFIG_X` around the definition,
or else the Makefile line that builds that file (`obj-$(CONFIG_X) += file.o`, or any
`var-$(CONFIG_X)` list) or, walking up, the directory holding it (`obj-$(CONFIG_X) +=
dir/`). sys_ni.c's own grouping comments are not trusted: some name the wrong file
(its epoll entries sit under "fs/eventfd.c" in 6.1). When the definitions disagree or
name no option, the option is left empty: the syscall is still optional.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

SYS_NI = "kernel/sys_ni.c"
NI_ENTRY = "sys_ni_syscall"

_COND = re.compile(r"^\s*(COND_SYSCALL|COND_SYSCALL_COMPAT)\s*\(\s*(\w+)\s*\)", re.M)
_DEFINE = re.compile(rb"\b(COMPAT_)?SYSCALL_DEFINE\d\s*\(\s*(\w+)")
_CONFIG = re.compile(r"\bCONFIG_\w+")
# Top-level directories that hold no syscall definitions a kernel links in.
_NOT_KERNEL = {"Documentation", "tools", "samples", "scripts", "LICENSES", "usr", "certs"}


@dataclass(frozen=True)
class Entry:
    """An arch's syscall and the kernel function(s) behind it (native, and compat)."""

    name: str
    native: str | None  # "sys_openat"; None where the table gives no entry point
    compat: str | None = None  # "compat_sys_openat" (i386 on a 64-bit kernel)


def cond_syscalls(tree: Path) -> tuple[set[str], set[str]]:
    """(native, compat) names kernel/sys_ni.c lists: "io_setup" for sys_io_setup."""
    path = tree / SYS_NI
    if not path.is_file():
        return set(), set()
    text = _strip_comments(path.read_text(errors="replace"))
    native: set[str] = set()
    compat: set[str] = set()
    for macro, name in _COND.findall(text):
        (compat if macro.endswith("_COMPAT") else native).add(name)
    return native, compat


def classify(
    tree: Path, karch: str, entries: Iterable[Entry]
) -> tuple[dict[str, str], dict[str, str]]:
    """(optional, unimplemented) for an arch's syscalls.

    optional: syscall -> "CONFIG_X" (or "" where the tree names no single option) for
    those a configuration may compile out; unimplemented: syscall -> its entry point
    ("" for none) for those that are ENOSYS on every kernel.
    """
    native_cond, compat_cond = cond_syscalls(tree)
    optional: dict[str, str] = {}
    unimplemented: dict[str, str] = {}
    wanted: dict[str, tuple[str, bool]] = {}  # syscall -> (function base name, compat?)
    for e in entries:
        if e.native is None or e.native == NI_ENTRY:
            unimplemented[e.name] = e.native or ""
            continue
        for fn, cond, compat in ((e.native, native_cond, False), (e.compat, compat_cond, True)):
            base = _base(fn, compat)
            if base is not None and base in cond:
                wanted.setdefault(e.name, (base, compat))
    definitions = find_definitions(tree, karch, set(wanted.values()))
    for name, fn in wanted.items():
        options = {config_of(tree, path, line) for path, line in definitions.get(fn, [])}
        options.discard("")
        optional[name] = options.pop() if len(options) == 1 else ""
    return optional, unimplemented


def _base(function: str | None, compat: bool) -> str | None:
    """ "openat" from "sys_openat" ("compat_sys_openat" when compat); None otherwise."""
    prefix = "compat_sys_" if compat else "sys_"
    if function is None or not function.startswith(prefix):
        return None
    return function.removeprefix(prefix)


def find_definitions(
    tree: Path, karch: str, names: set[tuple[str, bool]]
) -> dict[tuple[str, bool], list[tuple[Path, int]]]:
    """(name, compat) -> [(file, line)] of each SYSCALL_DEFINEn(name, ...) (or
    COMPAT_SYSCALL_DEFINEn) in the tree's C files. Other arches' directories are left
    out: their definitions are not this kernel's."""
    found: dict[tuple[str, bool], list[tuple[Path, int]]] = {}
    if not names:
        return found
    for path in sorted(tree.rglob("*.c")):
        rel = path.relative_to(tree).parts
        if rel[0] in _NOT_KERNEL or (rel[0] == "arch" and len(rel) > 1 and rel[1] != karch):
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if b"SYSCALL_DEFINE" not in data:
            continue
        for m in _DEFINE.finditer(data):
            key = (m.group(2).decode(), bool(m.group(1)))
            if key in names:
                line = data.count(b"\n", 0, m.start()) + 1
                found.setdefault(key, []).append((path, line))
    return found


# Options that say what the kernel is, not what it leaves out.
_NOT_A_SWITCH = {"CONFIG_64BIT", "CONFIG_32BIT"}


def config_of(tree: Path, path: Path, line: int, depth: int = 0) -> str:
    """The CONFIG_ option that decides whether the definition at path:line is built.

    The innermost `#ifdef CONFIG_X` around the definition first, the most specific
    (delete_module's CONFIG_MODULE_UNLOAD inside a file built with CONFIG_MODULES;
    fadvise64's CONFIG_ADVISE_SYSCALLS in an always-built mm/fadvise.c), else the
    Makefile line that builds the file or a directory holding it. A file no Makefile
    names is #included by a sibling: the option is the one around the #include.
    """
    option = _ifdef_at(path, line) or _makefile_option(tree, path)
    if option or depth > 2:
        return option
    for sibling in sorted(path.parent.glob("*.c")):
        text = sibling.read_text(errors="replace")
        m = re.search(rf'^\s*#\s*include\s+"{re.escape(path.name)}"', text, re.M)
        if m is not None:
            return config_of(tree, sibling, text.count("\n", 0, m.start()) + 1, depth + 1)
    return ""


def _ifdef_at(path: Path, line: int) -> str:
    """The innermost option an `#ifdef CONFIG_X` (`#if defined(CONFIG_X)`, `#if
    IS_ENABLED(CONFIG_X)`, the #else of an #ifndef) around a line requires to be on."""
    stack: list[tuple[str, bool]] = []  # per open #if: its one option, and whether on
    lines = path.read_text(errors="replace").splitlines()
    for text in lines[: line - 1]:
        m = re.match(r"\s*#\s*(\w+)(.*)", text)
        if m is None:
            continue
        word, rest = m.group(1), m.group(2).split("/*")[0].strip()
        configs = [c for c in _CONFIG.findall(rest) if c not in _NOT_A_SWITCH]
        if word in ("if", "ifdef", "ifndef"):
            simple = len(configs) == 1 and not re.search(r"\|\||&&", rest)
            negated = word == "ifndef" or rest.startswith("!")
            stack.append((configs[0] if simple else "", not negated))
        elif word == "else" and stack:
            stack[-1] = (stack[-1][0], not stack[-1][1])
        elif word == "elif" and stack:
            stack[-1] = ("", False)  # a third branch: not a plain "option on"
        elif word == "endif" and stack:
            stack.pop()
    return next((c for c, on in reversed(stack) if c and on), "")


def _makefile_option(tree: Path, path: Path) -> str:
    """The option in the Makefile line that builds this file or, walking up, the line
    that builds a directory holding it ("" when every level is unconditional)."""
    target, directory = path.name.removesuffix(".c") + ".o", path.parent
    while True:
        for name in ("Makefile", "Kbuild"):
            mk = directory / name
            option = _rule_option(mk.read_text(errors="replace"), target) if mk.is_file() else ""
            if option:
                return option
        if directory == tree or tree not in directory.parents:
            return ""
        target, directory = directory.name + "/", directory.parent


def _rule_option(makefile: str, target: str) -> str:
    """The option of a Makefile list naming `target` (`obj-$(CONFIG_X) += target`, or
    any `var-$(CONFIG_X)` list); "" when no conditional list names it."""
    text = makefile.replace("\\\n", " ")
    for m in re.finditer(r"^\s*[\w.]+-\$\((CONFIG_\w+)\)\s*[:+]?=(.*)$", text, re.M):
        if target in m.group(2).split() and m.group(1) not in _NOT_A_SWITCH:
            return m.group(1)
    return ""


def _strip_comments(text: str) -> str:
    return re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
