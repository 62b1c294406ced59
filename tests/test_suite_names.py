"""Every constant the suites name exists in the table of each OS the test runs on: the
Linux x86_64 table, or for tests marked os("netbsd", ...) (the test, its class or its
module) those OSes' amd64 tables.

A constant missing from a platform's table is a skip at run time (like a missing
syscall), so a misspelt name would hide as a skip: this catches it statically. The
names and the markers are read by syscalls.inventory; a name only some cases of a
parametrized test use (getattr(kernel, clock)) is that case's own, and not checked.
"""

import re
from pathlib import Path

from syscalls.abi import Platform
from syscalls.inventory import scan

SUITES = Path(__file__).resolve().parent.parent / "suites"
MODULE_OS = re.compile(r"^pytestmark = pytest\.mark\.os\(([^)]*)\)", re.M)
TABLES = {"linux": "linux/x86_64", "freebsd": "freebsd/amd64", "netbsd": "netbsd/amd64"}
TABLES["openbsd"] = "openbsd/amd64"


def _oses(text: str) -> list[str]:
    m = MODULE_OS.search(text)
    return re.findall(r'"(\w+)"', m.group(1)) if m else ["linux"]


def test_every_constant_the_suites_use_is_in_the_tables_they_run_on() -> None:
    platforms = {os_name: Platform.load(spec) for os_name, spec in TABLES.items()}
    used: dict[str, str] = {}
    missing: dict[str, str] = {}
    for t in scan(SUITES, platforms["linux"]).tests:
        per_case = set().union(*(names for dec in t.case_names for names in dec))
        for name in sorted(t.constants - per_case):
            used.setdefault(name, t.file)
            for os_name in sorted(t.oses or {"linux"}):
                p = platforms[os_name]
                if name not in p.constants and name not in p.errno:
                    missing.setdefault(f"{name} ({p.name})", t.nodeid)
    assert len(used) > 50
    assert missing == {}


def test_module_os_markers_are_read() -> None:
    text = (SUITES / "events/test_kqueue.py").read_text()
    assert _oses(text) == ["freebsd", "netbsd", "openbsd"]
    assert _oses("import os\n") == ["linux"]
