"""Every constant the suites name exists in the Linux x86_64 table.

A constant missing from a platform's table is a skip at run time (like a missing
syscall), so a misspelt name would hide as a skip: this catches it statically.
"""

import re
from pathlib import Path

from syscalls.abi import Platform

SUITES = Path(__file__).resolve().parent.parent / "suites"
NAME = re.compile(r"\bkernel\.([A-Z][A-Z0-9_]+)\b")


def test_every_constant_the_suites_use_is_in_the_linux_table() -> None:
    p = Platform.load("linux/x86_64")
    used: dict[str, str] = {}
    for path in sorted(SUITES.rglob("*.py")):
        for name in NAME.findall(path.read_text()):
            used.setdefault(name, path.relative_to(SUITES).as_posix())
    assert len(used) > 50
    missing = {n: f for n, f in used.items() if n not in p.constants and n not in p.errno}
    assert missing == {}
