"""What a remote machine offers the suite (--target ssh): its OS and machine, and which
Python interpreters it has with which of the modules the suite needs.

The probe is a POSIX sh script the host sends to the remote's /bin/sh (nothing else is
assumed there: no Python yet, any login shell). It looks for python3 and python3.11 ...
python3.14 in the login's PATH and then in /usr/local/bin (FreeBSD's and OpenBSD's
packages) and /usr/pkg/bin (NetBSD's pkgsrc), and asks each which of cffi, pytest,
pytest-timeout and pip it can import (importlib's find_spec: nothing is imported, so the
probe stays quick). pytest-xdist is not needed: the remote run's workers are forked
(syscalls.runner.pool). `choose` then takes the first interpreter new
enough (3.11: tomllib) that has everything; failing that, the first one with pip,
which installs what is missing into a venv in the run's private directory (the
interpreter's own packages still in use); failing that, it says
what is missing and how that OS's package manager installs it.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field

from syscalls.abi import os_arch

MIN_VERSION = (3, 11)  # tomllib
NAMES = ("python3", "python3.14", "python3.13", "python3.12", "python3.11")
PACKAGE_DIRS = ("/usr/local/bin", "/usr/pkg/bin")
MARK = "syscalls-probe 1"

CHECK = """import os, struct, sys
from importlib.util import find_spec
def has(name):
    try:
        return find_spec(name) is not None
    except Exception:
        return False
mods = [m for m in ("cffi", "_cffi_backend", "pytest", "pytest_timeout", "pip") if has(m)]
v = "%d.%d.%d" % sys.version_info[:3]
real = os.path.realpath(sys.executable)
print("\\t".join(["python", sys.argv[1], v, str(struct.calcsize("P")), real, ",".join(mods)]))
"""

SCRIPT = """# The probe of syscalls --target ssh (syscalls/targets/ssh_probe.py), run by /bin/sh.
echo '{mark}'
echo "uname $(uname -s) $(uname -m)"
check='{check}'
want={want}
if [ -n "$want" ]; then
    dirs=""
else
    dirs="$PATH:{package_dirs}"
fi
IFS=:
for dir in $dirs; do
    IFS=' '
    for name in {names}; do
        p="$dir/$name"
        [ -f "$p" ] && [ -x "$p" ] || continue
        "$p" -c "$check" "$p" 2>/dev/null || printf 'broken\\t%s\\n' "$p"
    done
done
IFS=' '
if [ -n "$want" ]; then
    "$want" -c "$check" "$want" 2>/dev/null || printf 'broken\\t%s\\n' "$want"
fi
echo end
"""


def script(want: str | None = None) -> str:
    """The probe; `want` names the one interpreter to look at (else it searches)."""
    assert "'" not in CHECK
    return SCRIPT.format(
        mark=MARK,
        check=CHECK,
        want=shlex.quote(want or ""),
        package_dirs=":".join(PACKAGE_DIRS),
        names=" ".join(NAMES),
    )


@dataclass(frozen=True)
class Python:
    path: str
    version: tuple[int, ...]
    pointer_size: int
    modules: frozenset[str]

    def missing(self) -> list[str]:
        """The pip names of what the suite needs and this interpreter lacks."""
        needed = {"cffi": "cffi", "_cffi_backend": "cffi", "pytest": "pytest"}
        return list(dict.fromkeys(p for m, p in needed.items() if m not in self.modules))

    @property
    def release(self) -> str:
        return ".".join(map(str, self.version))


@dataclass
class Remote:
    sysname: str = ""  # uname -s
    machine: str = ""  # uname -m
    pythons: list[Python] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)  # found, but would not run the check

    def table(self, python: Python) -> str:
        """The binding table this machine's kernel takes, from uname and the pointer size
        of the interpreter that will make the calls (e.g. freebsd/amd64)."""
        return "/".join(os_arch(self.sysname, self.machine, python.pointer_size))


class ProbeError(Exception):
    """The probe's output is not what the probe prints (it did not run as written)."""


class Missing(Exception):
    """The remote lacks what the suite needs; the message says what and how to get it."""


def parse(output: str) -> Remote:
    lines = output.splitlines()
    if MARK not in lines:
        shown = " / ".join(line.strip() for line in lines if line.strip())[:200]
        raise ProbeError(f"its output: {shown!r}" if shown else "it printed nothing")
    remote = Remote()
    seen: set[str] = set()
    for line in lines[lines.index(MARK) + 1 :]:
        fields = line.split("\t")
        if line.startswith("uname "):
            _, _, rest = line.partition(" ")
            remote.sysname, _, remote.machine = rest.strip().partition(" ")
        elif fields[0] == "python" and len(fields) == 6:
            _, path, version, size, real, modules = fields
            if real in seen:  # python3 and python3.11 are often one file
                continue
            seen.add(real)
            remote.pythons.append(
                Python(
                    path=path,
                    version=tuple(int(x) for x in version.split(".") if x.isdigit()),
                    pointer_size=int(size),
                    modules=frozenset(m for m in modules.split(",") if m),
                )
            )
        elif fields[0] == "broken" and len(fields) == 2:
            remote.broken.append(fields[1])
        elif line == "end":
            return remote
    raise ProbeError("its output ended early: " + repr(output[-200:]))


@dataclass(frozen=True)
class Choice:
    python: Python
    install: list[str]  # pip names to install into the run's private directory


def choose(remote: Remote, where: str) -> Choice:
    """The interpreter to run the suite with (see the module doc), or Missing."""
    usable = [p for p in remote.pythons if p.version >= MIN_VERSION]
    for python in usable:
        if not python.missing():
            return Choice(python, [])
    for python in usable:
        if "pip" in python.modules:
            return Choice(python, python.missing())
    if not usable:
        found = ", ".join(
            [f"{p.path} {p.release}" for p in remote.pythons]
            + [f"{path} (does not run)" for path in remote.broken]
        )
        looked = f"in PATH, {', '.join(PACKAGE_DIRS)}"
        what = f"no Python {'.'.join(map(str, MIN_VERSION))} or later on {where}"
        what += f" (found: {found})" if found else f" (looked for {NAMES[0]}, python3.1x {looked})"
        packages = ["python", "cffi", "pytest"]
        raise Missing(f"{what}; to install one: {hint(remote.sysname, None, packages)}")
    python = usable[0]
    lacking = python.missing()
    raise Missing(
        f"{python.path} ({python.release}) on {where} lacks {', '.join(lacking)} and has no "
        f"pip to install it; to install: {hint(remote.sysname, python.version, lacking)}"
    )


# Package names per OS: FreeBSD ports (devel/py-pytest -> py311-pytest), NetBSD pkgsrc
# (devel/py-test -> py311-test), OpenBSD ports (FLAVOR python3: py3-test), Debian.
_NAMES = {
    "freebsd": {"python": "python{v}", "cffi": "py{v}-cffi", "pytest": "py{v}-pytest"},
    "netbsd": {"python": "python{v}", "cffi": "py{v}-cffi", "pytest": "py{v}-test"},
    "openbsd": {"python": "python3", "cffi": "py3-cffi", "pytest": "py3-test"},
    "linux": {"python": "python3", "cffi": "python3-cffi", "pytest": "python3-pytest"},
}  # fmt: skip
_COMMANDS = {
    "freebsd": "pkg install",
    "netbsd": "pkgin install",
    "openbsd": "pkg_add",
    "linux": "apt install",
}


def hint(sysname: str, version: tuple[int, ...] | None, packages: list[str]) -> str:
    """How `sysname`'s package manager installs `packages` (pip names, or "python")."""
    system = sysname.lower()
    if system not in _NAMES:
        return "pip install " + " ".join(p for p in packages if p != "python")
    v = "".join(map(str, (version or MIN_VERSION)[:2]))
    names = dict.fromkeys(_NAMES[system][p].format(v=v) for p in packages)
    where = " (Debian, Ubuntu)" if system == "linux" else ""
    return f"{_COMMANDS[system]} {' '.join(names)}{where}"


def wanted() -> str | None:
    """The remote interpreter named by $SYSCALLS_SSH_PYTHON, if any."""
    return os.environ.get("SYSCALLS_SSH_PYTHON") or None
