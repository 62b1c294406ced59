"""`syscalls list`: the syscalls each test calls, found statically, and the coverage figure.

A small fake suites tree pins down each way a test reaches a syscall; the real suites/
are checked against pytest's own collection and against what a real run recorded.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from syscalls.abi import Platform
from syscalls.cli import main
from syscalls.inventory import Inventory, render, scan

ROOT = Path(__file__).resolve().parent.parent
NO_CACHE = ["-p", "no:cacheprovider"]

CONFTEST = """
import pytest
from syscalls.kernel import Kernel

class Raw:
    def __init__(self, kern: Kernel):
        self.k = kern

    def pending(self):
        return self.k.rt_sigpending(None, 8)

    def by_name(self, name, *args):
        k = self.k
        return getattr(k, name)(*args)

    def defaulted(self, call="getegid"):
        return self.k.caller(call)()

@pytest.fixture
def raw(kernel):
    return Raw(kernel)

class Holder:
    def __init__(self, kernel):
        self.kernel = kernel

    def open(self, path):
        return self._raw(path)

    def _raw(self, path):
        return self.kernel.openat(-100, path, 0)

    def __call__(self, r):
        self.kernel.fcntl(r, 1)

@pytest.fixture
def holder(kernel):
    h = Holder(kernel)
    yield h

@pytest.fixture
def pipe_pair(kernel, base):
    return kernel.pipe2(kernel.new("int[2]"), 0)

@pytest.fixture
def base(kernel):
    kernel.umask(0o22)
"""

TEST_ONE = """
import pytest
from syscalls import forking
from syscalls.kernel import Kernel

NAMES = ["getuid", "getgid"]

def _helper(kernel):
    return _deeper(kernel)

def _deeper(k):
    return k.read(0, None, 0)

def _recursive(kernel, n):
    return _recursive(kernel, n - 1) if n else kernel.getppid()

def test_direct(kernel, tmp):
    kernel.close(kernel.openat(kernel.AT_FDCWD, tmp, kernel.O_RDONLY).value)

def test_annotated_name_and_alias(kern: Kernel):
    kern.fstatat(-100, "/", kern.new("struct stat *"), 0)

def test_through_helpers(kernel):
    _helper(kernel)
    _recursive(kernel, 3)

def test_caller(kernel):
    kernel.caller("getpid")()

@pytest.mark.parametrize("op", ["read", "write"])
def test_parametrized_getattr(kernel, op):
    getattr(kernel, op)(-1, None, 0)

@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("a", "b"), [(1, 2), (3, 1 << 4), (5, 6)])
def test_cases_multiply(kernel, name, a, b):
    kernel.caller(name)()

@pytest.mark.parametrize("name", [*NAMES, "getppid"])
def test_spread_literal_list(kernel, name):
    kernel.caller(name)()

def test_fixture_method_and_call(holder):
    holder(holder.open("/"))

def test_fixture_setup(pipe_pair):
    pass

def test_helpers_are_not_syscalls(kernel):
    kernel.has("read")
    kernel.bytes(kernel.buf(4), 4)
    return kernel.O_CREAT

def test_closure_in_child(kernel, in_child):
    def child():
        return kernel.gettid().value
    in_child(child)

def test_library_helper(kernel):
    forking.wait(kernel, 1)

def test_not_in_the_table(kernel):
    kernel.frobnicate()

class TestGroup:
    def test_method(self, kernel):
        kernel.sync()

def test_attribute_bound_to_a_kernel(raw):
    raw.pending()

def test_literal_passed_to_a_helper_and_a_default(raw):
    raw.by_name("msgctl", 0, 0, None)
    raw.defaulted()

PAIR = ["getsid", "getpgid"]

def test_names_built_from_literals(kernel):
    getattr(kernel, "sched_" + "yield")()
    kind = "get"
    kernel.caller(f"{kind}pgrp")()
    for name in ("times", "alarm"):
        getattr(kernel, name)(0)
    for name in PAIR:
        kernel.caller(name)(0)
    for name, arg in [("pause", None), ("getitimer", 0)]:
        getattr(kernel, name)()

def test_names_from_run_time_values_are_not_guessed(kernel):
    import os
    getattr(kernel, os.environ["NAME"])()
    getattr(kernel, f"{os.environ['X']}read")()
    getattr(kernel, "O_" + "CREAT")

@pytest.mark.calls("vfork", "exit_group")
def test_declared_with_the_marker(kernel):
    pass

@pytest.mark.calls("fork")
class TestMarkedClass:
    def test_in_it(self):
        pass
"""


# suites/conftest.py: a fixture every area sees, holding a library class (syscalls.fds).
SHARED_CONFTEST = """
import pytest
from syscalls.fds import Fds

@pytest.fixture
def fds(kernel):
    yield Fds(kernel)
"""

TEST_TWO = """
import pytest

pytestmark = [pytest.mark.os("linux"), pytest.mark.calls("exit")]

def test_x(kernel):
    kernel.getpid()

def test_shared_fixture_of_a_library_class(fds):
    fds.pipe()
"""


@pytest.fixture
def fake(tmp_path: Path) -> Path:
    suites = tmp_path / "suites"
    (suites / "a").mkdir(parents=True)
    (suites / "a" / "conftest.py").write_text(CONFTEST)
    (suites / "a" / "test_one.py").write_text(TEST_ONE)
    (suites / "b").mkdir()
    (suites / "conftest.py").write_text(SHARED_CONFTEST)
    (suites / "b" / "test_two.py").write_text(TEST_TWO)
    (suites / "b" / "helpers.py").write_text("def test_not_a_test(kernel):\n    kernel.kill()\n")
    (suites / "empty").mkdir()
    return suites


TABLE_NAMES = (
    "read write openat close newfstatat getpid getppid gettid getuid getgid fcntl pipe2 "
    "rt_sigpending getegid msgctl sched_yield getpgrp times alarm getsid getpgid pause "
    "getitimer exit_group vfork fork exit afs_syscall"
)
TABLE = {n: i for i, n in enumerate([*TABLE_NAMES.split(), "umask", "wait4", "sync", "mmap"])}
TABLE["kill"] = len(TABLE)
LEFT_OUT = {"afs_syscall": "never implemented", "tuxcall": "not in this table"}


@pytest.fixture
def inv(fake: Path) -> Inventory:
    platform = Platform(
        os="linux",
        arch="x86_64",
        syscalls=TABLE,
        aliases={"fstatat": "newfstatat"},
        left_out=LEFT_OUT,
    )
    return scan(fake, platform)


def test_each_way_of_reaching_a_syscall(inv: Inventory) -> None:
    got = {t.name: sorted(t.syscalls) for t in inv.tests if t.area == "a"}
    assert got == {
        "test_direct": ["close", "openat"],
        "test_annotated_name_and_alias": ["fstatat"],
        "test_through_helpers": ["getppid", "read"],
        "test_caller": ["getpid"],
        "test_parametrized_getattr": ["read", "write"],
        "test_cases_multiply": ["getgid", "getuid"],
        "test_spread_literal_list": ["getgid", "getppid", "getuid"],
        "test_fixture_method_and_call": ["fcntl", "openat"],
        "test_fixture_setup": ["pipe2", "umask"],
        "test_helpers_are_not_syscalls": [],
        "test_closure_in_child": ["gettid"],
        "test_library_helper": ["wait4"],  # syscalls/forking.py
        "test_not_in_the_table": ["frobnicate"],
        "TestGroup::test_method": ["sync"],
        "test_attribute_bound_to_a_kernel": ["rt_sigpending"],  # self.k = kern: Kernel
        "test_literal_passed_to_a_helper_and_a_default": ["getegid", "msgctl"],
        "test_names_built_from_literals": [
            "alarm",
            "getitimer",
            "getpgid",
            "getpgrp",
            "getsid",
            "pause",
            "sched_yield",
            "times",
        ],
        "test_names_from_run_time_values_are_not_guessed": [],
        "test_declared_with_the_marker": ["exit_group", "vfork"],
        "TestMarkedClass::test_in_it": ["fork"],
    }
    shared = {t.name: sorted(t.syscalls) for t in inv.tests if t.area == "b"}
    # the module's pytestmark calls("exit") holds for each of its tests
    assert shared == {
        "test_x": ["exit", "getpid"],
        "test_shared_fixture_of_a_library_class": ["exit", "pipe2"],
    }


def test_counts_and_coverage(inv: Inventory) -> None:
    cases = {t.name: t.cases for t in inv.tests}
    assert cases["test_parametrized_getattr"] == 2
    assert cases["test_cases_multiply"] == 6  # 2 names x 3 pairs, one pair not a literal
    assert cases["test_spread_literal_list"] == 3  # [*NAMES, "getppid"]
    assert [t.nodeid for t in inv.tests if t.area == "b"] == [
        "suites/b/test_two.py::test_x",
        "suites/b/test_two.py::test_shared_fixture_of_a_library_class",
    ]
    # fstatat counts as the table's newfstatat; mmap and kill are called by nobody;
    # afs_syscall is left out (tuxcall too, but this table has no such number).
    assert inv.missing() == ["kill", "mmap"]
    assert inv.left_out() == {"afs_syscall": "never implemented"}
    assert inv.unknown() == {"frobnicate"}
    text = render(inv, missing=True)
    assert "a: 28 tests in 1 files, 30 syscalls" in text
    assert "    test_cases_multiply ×6: getgid, getuid\n" in text
    assert (
        "coverage: 30 of 33 syscalls in linux/x86_64 (90.9%; 1 left out: stubs and removed "
        "calls that always answer ENOSYS; 30 of the other 32, 93.8%)\n"
        "left out (1):\n  afs_syscall: never implemented\n"
    ) in text
    assert "untested (2): kill, mmap" in text
    assert "not in the linux/x86_64 table: frobnicate" in text


def test_cli_list_on_a_tree(fake: Path, capsys) -> None:
    assert main(["list", "--suites", str(fake), "--platform", "linux/x86_64"]) == 0
    out = capsys.readouterr().out
    assert re.search(
        r"^coverage: \d+ of \d+ syscalls in linux/x86_64 \(\d+\.\d%; \d+ left out: .*\)$",
        out,
        re.M,
    )
    assert "b: 2 tests in 1 files, 3 syscalls" in out
    assert "untested" not in out


def test_cli_list_bad_platform_is_exit_2(capsys) -> None:
    assert main(["list", "--platform", "plan9/mips"]) == 2
    assert capsys.readouterr().err.startswith("syscalls list: ")


# Where a test can run: its markers, and the syscalls and constants its cases name.

MARKED = """
import pytest

pytestmark = [pytest.mark.os("linux", "netbsd"), pytest.mark.smoke]

CLOCKS = ["CLOCK_REALTIME", "CLOCK_BOOTTIME", "CLOCK_MONOTONIC"]

def test_constants(kernel):
    flags = kernel.O_RDONLY | kernel.O_TMPFILE | getattr(kernel, "O_LARGEFILE", 0)
    kernel.openat(kernel.AT_FDCWD, "/", flags)

def test_plain(kernel):
    kernel.getpid()

@pytest.mark.parametrize("clock", CLOCKS)
@pytest.mark.parametrize("call", ["getpid", "gettid"])
def test_per_case(kernel, clock, call):
    getattr(kernel, call)()
    kernel.clock_gettime(getattr(kernel, clock), None)

@pytest.mark.os("linux")
def test_linux_only(kernel):
    kernel.getpid()

@pytest.mark.arch("x86_64")
def test_arch_only(kernel):
    kernel.getpid()

@pytest.mark.os("freebsd", "netbsd", "openbsd")
class TestBsd:
    pytestmark = pytest.mark.os("netbsd", "freebsd")

    def test_method(self, kernel):
        kernel.getpid()
"""


@pytest.fixture
def marked(tmp_path: Path) -> Path:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "test_marked.py").write_text(MARKED)
    return tmp_path


def _runnable(suites: Path, os_name: str, arch: str, **constants: int) -> dict[str, int]:
    table = {"getpid": 1, "openat": 2, "clock_gettime": 3}
    platform = Platform(os=os_name, arch=arch, syscalls=table, constants=constants)
    inv = scan(suites, platform)
    return {t.name: inv.runnable(t) for t in inv.tests}


def test_marks_and_constants_are_read(marked: Path) -> None:
    inv = scan(marked, Platform(os="linux", arch="x86_64"))
    got = {t.name: (t.oses, t.arches, t.constants) for t in inv.tests}
    assert got["test_constants"] == (
        {"linux", "netbsd"},
        None,
        {"AT_FDCWD", "O_RDONLY", "O_TMPFILE"},  # O_LARGEFILE has a default: not needed
    )
    assert got["test_linux_only"][0] == {"linux"}  # the module's marker and its own
    assert got["test_arch_only"][1] == {"x86_64"}
    assert got["TestBsd::test_method"][0] == {"netbsd"}  # module, class, class pytestmark
    assert got["test_per_case"][2] == {"CLOCK_REALTIME", "CLOCK_BOOTTIME", "CLOCK_MONOTONIC"}


def test_runnable_counts_cases_no_marker_or_missing_name_excludes(marked: Path) -> None:
    clocks = {"CLOCK_REALTIME": 0, "CLOCK_MONOTONIC": 1}  # no CLOCK_BOOTTIME; no gettid
    linux = _runnable(marked, "linux", "x86_64", AT_FDCWD=1, O_RDONLY=0, **clocks)
    assert linux == {
        "test_constants": 0,  # O_TMPFILE is not in the table
        "test_plain": 1,
        "test_per_case": 2,  # of 6: getpid with the two clocks the table has
        "test_linux_only": 1,
        "test_arch_only": 1,
        "TestBsd::test_method": 0,
    }
    netbsd = _runnable(marked, "netbsd", "amd64", O_TMPFILE=1, AT_FDCWD=1, O_RDONLY=0)
    assert netbsd == {
        "test_constants": 1,
        "test_plain": 1,
        "test_per_case": 0,  # no clock in this table
        "test_linux_only": 0,
        "test_arch_only": 0,
        "TestBsd::test_method": 1,
    }
    assert _runnable(marked, "freebsd", "amd64") == dict.fromkeys(linux, 0)


def test_cli_list_says_how_many_tests_can_run(marked: Path, capsys) -> None:
    assert main(["list", "--suites", str(marked), "--platform", "netbsd/amd64"]) == 0
    out = capsys.readouterr().out
    # test_plain, TestBsd and test_per_case's getpid with the 2 clocks NetBSD has
    assert re.search(r"^runnable on netbsd/amd64: 4 of 11 tests \(", out, re.M)


# The real suites


@pytest.fixture(scope="module")
def real() -> Inventory:
    return scan(ROOT / "suites", Platform.load())


def test_real_suites_count_what_pytest_collects(real: Inventory) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "suites",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    collected: dict[str, int] = {}
    for line in proc.stdout.splitlines():
        if "::" in line:
            base = line.split("[", 1)[0]
            collected[base] = collected.get(base, 0) + 1
    assert {t.nodeid: t.cases for t in real.tests} == collected


def test_real_suites_name_every_syscall_a_run_recorded(real: Inventory) -> None:
    """What the fs suite's calls recorded at run time is found statically too."""
    static = {t.nodeid: t.syscalls for t in real.tests}
    with tempfile.TemporaryDirectory(prefix="syscalls-inventory-") as out:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "suites/fs",
                "-q",
                "-p",
                "no:cacheprovider",
                f"--profile={out}/p.json",
                f"--basetemp={out}/basetemp",
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
            capture_output=True,
            check=False,
            timeout=300,
        )
        tests = json.loads(Path(out, "p.json").read_text())["tests"]
    assert len(tests) > 50
    platform = real.platform
    unseen = {}
    for nodeid, entry in tests.items():
        calls = {o.partition("=")[0] for o in entry["observations"]}
        calls = {c for c in calls if platform.has(c)}  # observe() keys are not syscalls
        if calls - static[nodeid.split("[", 1)[0]]:
            unseen[nodeid] = calls - static[nodeid.split("[", 1)[0]]
    assert unseen == {}


def test_real_suites_listing(real: Inventory, capsys) -> None:
    assert main(["list", "--missing"]) == 0
    out = capsys.readouterr().out
    areas = sorted(p.name for p in (ROOT / "suites").iterdir() if any(p.glob("test_*.py")))
    assert re.findall(r"^(\w+): \d+ tests in", out, re.M) == areas
    covered, table = len(real.covered()), len(real.platform.syscalls)
    assert f"coverage: {covered} of {table} syscalls in {real.platform.name}" in out
    assert covered > 50
    missing = real.missing()
    assert f"untested ({len(missing)}): {', '.join(missing)}\n" in out
    # every number of the table is tested, left out (and named, with why), or untested
    left = real.left_out()
    assert len(left) >= 10 and f"left out ({len(left)}):\n" in out
    assert all(f"\n  {name}: {why}\n" in out for name, why in left.items())
    assert covered + len(missing) + len(left.keys() - real.covered()) == table


def test_real_suites_reach_what_they_call_indirectly(real: Inventory) -> None:
    """msgctl through sysv.remove("msgctl", ...), rt_sigpending as self.k.rt_sigpending,
    vfork from the machine-code stub (declared with @pytest.mark.calls)."""
    assert {"msgctl", "rt_sigpending", "vfork"} <= real.covered()


MUTUAL = """
def _ping(kernel, n):
    kernel.getuid()
    return _pong(kernel, n - 1) if n else 0

def _pong(kernel, n):
    kernel.getgid()
    return _ping(kernel, n - 1) if n else 0

def test_from_ping(kernel):
    _ping(kernel, 3)

def test_from_pong(kernel):
    _pong(kernel, 3)

def test_pong_again(kernel):
    _pong(kernel, 1)
"""


def test_mutually_recursive_helpers_report_all_they_reach(tmp_path: Path) -> None:
    # The helper entered second used to be remembered with what it had seen of the first
    # one's unfinished answer, so a test's list depended on the order of the scan.
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "test_mutual.py").write_text(MUTUAL)
    platform = Platform(os="linux", arch="x86_64", syscalls={"getuid": 0, "getgid": 1})
    got = {t.name: sorted(t.syscalls) for t in scan(tmp_path, platform).tests}
    both = ["getgid", "getuid"]
    assert got == {"test_from_ping": both, "test_from_pong": both, "test_pong_again": both}


def test_real_suites_listing_does_not_depend_on_hash_order() -> None:
    # Sets and dicts iterate in an order that PYTHONHASHSEED changes; a memo keyed by the
    # id() of a temporary once made the listing differ from run to run.
    listings = {
        subprocess.run(
            [sys.executable, "-m", "syscalls", "list"],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(listings) == 1
