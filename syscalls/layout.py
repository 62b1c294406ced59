"""Checks a platform table against the C headers of the machine it runs on.

Like rust-lang/libc's ctest: a generated C program, compiled against the system's
headers (libc's and the kernel's uapi), prints every syscall number, errno value,
constant, struct size and field offset it can see; each is compared with the table.
A header set is a list of #includes that compile together; libc's and the kernel's
headers clash, so each name is probed in every set and checked where it compiles.
This needs a C compiler and only checks the host's own OS/arch: a test, not a run-time
dependency.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from syscalls.abi import Platform
from syscalls.kernel import Kernel
from syscalls.tables.cmacros import find_cc

HeaderSet = tuple[str, ...]


@dataclass(frozen=True)
class Probe:
    """One value to print from C: `expr` under `guard` (#ifdef), labelled `key`."""

    key: str
    expr: str
    guard: str | None = None


@dataclass
class Report:
    checked: dict[str, int] = field(default_factory=dict)  # key -> value seen in C
    mismatches: list[str] = field(default_factory=list)
    unseen: list[str] = field(default_factory=list)  # keys no header set could compile


def run_probes(
    sets: dict[str, HeaderSet],
    probes: list[Probe],
    defines: Iterable[str] = (),
    workdir: Path | None = None,
) -> dict[str, dict[str, int]]:
    """key -> {set name: value} for every probe that compiled in some header set."""
    seen: dict[str, dict[str, int]] = {}
    with tempfile.TemporaryDirectory(prefix="syscalls-layout-") as tmp:
        base = Path(workdir or tmp)
        for name, headers in sets.items():
            for key, value in _run_set(base / name, headers, probes, tuple(defines)).items():
                seen.setdefault(key, {})[name] = value
    return seen


def _run_set(
    stem: Path, headers: HeaderSet, probes: list[Probe], defines: tuple[str, ...]
) -> dict[str, int]:
    live = list(probes)
    headers = tuple(headers)
    for _ in range(8):  # each round drops the probes (or headers) the compiler rejected
        source, lines = _source(headers, live, defines)
        stem.with_suffix(".c").write_text(source)
        proc = subprocess.run(
            [find_cc(), "-w", "-o", str(stem), str(stem.with_suffix(".c"))],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode == 0:
            out = subprocess.run([str(stem)], capture_output=True, text=True, check=True)
            return {k: int(v) for k, v in (ln.rsplit(" ", 1) for ln in out.stdout.splitlines())}
        missing = set(re.findall(r"fatal error: ([\w/.+-]+): No such file", proc.stderr))
        if missing:
            headers = tuple(h for h in headers if h not in missing)
            continue
        bad = {
            lines[int(n)]
            for n in re.findall(rf"{re.escape(stem.name)}\.c:(\d+):\d+: error", proc.stderr)
            if int(n) in lines
        }
        if not bad:  # an error in the headers themselves: this set cannot be used
            return {}
        live = [p for p in live if p.key not in bad]
    return {}


def _source(
    headers: HeaderSet, probes: list[Probe], defines: tuple[str, ...]
) -> tuple[str, dict[int, str]]:
    out = [f"#define {d}" for d in defines]
    out += ["#include <stdio.h>", "#include <stddef.h>", "#include <stdint.h>"]
    out += [f"#include <{h}>" for h in headers]
    out += ["int main(void) {"]
    lines: dict[int, str] = {}
    for p in probes:
        if p.guard:
            out.append(f"#ifdef {p.guard}")
        out.append(f'printf("%s %llu\\n", "{p.key}", (unsigned long long)(uintptr_t)({p.expr}));')
        lines[len(out)] = p.key
        if p.guard:
            out.append("#endif")
    out += ["return 0; }", ""]
    return "\n".join(out), lines


def struct_probes(k: Kernel, c_names: dict[str, str]) -> tuple[list[Probe], dict[str, int]]:
    """Probes for the size and every field offset/size of each struct in the cdef (bit
    fields have neither in C: their struct's size and its other fields are checked)."""
    ffi = k.ffi
    probes: list[Probe] = []
    expected: dict[str, int] = {}
    typedefs, structs, _unions = ffi.list_types()
    names = [f"struct {s}" for s in structs] + [
        t for t in typedefs if ffi.typeof(t).kind == "struct"
    ]
    for name in names:
        ctype = ffi.typeof(name)
        c_name = c_names.get(name, name)
        fields = ctype.fields or []
        flexible = any(f.type.kind == "array" and f.type.length is None for _, f in fields)
        if not flexible:  # a flexible array member makes C's sizeof differ by design
            probes.append(Probe(f"sizeof {name}", f"sizeof({c_name})"))
            expected[f"sizeof {name}"] = ffi.sizeof(ctype)
        for fname, f in fields:
            if f.bitsize >= 0:  # a bit field: C has no offsetof or sizeof for it
                continue
            key = f"{name}.{fname}"
            probes.append(Probe(f"offsetof {key}", f"offsetof({c_name}, {fname})"))
            expected[f"offsetof {key}"] = f.offset
            if not (f.type.kind == "array" and f.type.length is None):
                probes.append(Probe(f"sizeof {key}", f"sizeof((({c_name} *)0)->{fname})"))
                expected[f"sizeof {key}"] = ffi.sizeof(f.type)
    return probes, expected


def check(
    platform: Platform,
    sets: dict[str, HeaderSet],
    defines: Iterable[str] = (),
    c_names: dict[str, str] | None = None,
    known_differences: dict[str, str] | None = None,
) -> Report:
    """Compare the table with what the headers say; see Report."""
    k = Kernel(platform)
    known = known_differences or {}
    expected: dict[str, int] = {}
    probes: list[Probe] = []
    for name, nr in platform.syscalls.items():
        probes.append(Probe(f"syscall {name}", f"__NR_{name}", f"__NR_{name}"))
        expected[f"syscall {name}"] = nr
    for name, value in {**platform.errno, **platform.constants}.items():
        kind = "errno" if name in platform.errno else "constant"
        probes.append(Probe(f"{kind} {name}", name, name))
        expected[f"{kind} {name}"] = value
    more, struct_expected = struct_probes(k, c_names or {})
    probes += more
    expected.update(struct_expected)

    report = Report()
    seen = run_probes(sets, probes, defines)
    for key, want in expected.items():
        by_set = seen.get(key)
        if not by_set:
            report.unseen.append(key)
            continue
        for set_name, got in by_set.items():
            report.checked[key] = got
            if got != want % (1 << 64) and key.split(" ", 1)[1] not in known:
                report.mismatches.append(f"{key}: table {want}, {set_name} headers {got}")
    return report
