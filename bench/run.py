#!/usr/bin/env python3
"""Benchmark: suite wall time, tests per second and per-test overhead, for our suite and,
side by side, ljsyscall's, as root and as an unprivileged user: `syscalls run` (the
README's command), pytest serial and pytest -n auto.

    .venv/bin/python bench/run.py                 # everything that can run here
    .venv/bin/python bench/run.py --repeat 5 --ljsyscall /var/tmp/ljsyscall
    .venv/bin/python bench/run.py --repeat 3 --json bench.json
    .venv/bin/python bench/run.py --repeat 3 --best   # the old figures: best of 3, Debian's
    .venv/bin/python bench/run.py --vm KERNEL     # also boot-to-result time of a VM target
    .venv/bin/python bench/run.py --vm            # ... of Debian's cloud kernel (cached .deb)
    .venv/bin/python bench/run.py --targets gvisor,uml,vm   # whole suite in each target
    .venv/bin/python bench/run.py --child-cost    # where the forked-child tests' time goes
    .venv/bin/python bench/run.py --modes run,floor   # ... and the framework's floor
    .venv/bin/python bench/vm.py                  # a fresh kernel's verdict: phases, goals

ljsyscall's suite is its upstream test/test.lua with its own luaunit, from a checkout
named with --ljsyscall DIR (github.com/justincormack/ljsyscall; copied to a temporary
directory, as its tests write files in the current one), else Debian's lua-ljsyscall
tests with the stand-in modules in bench/ljsyscall/.

Figures are wall-clock seconds of whole commands. By default the runs alternate (ours,
ljsyscall's, ours, ...) and each of ours is paired with the ljsyscall run after it: the
table gives the median of --repeat runs and the ratio of tests per second per pair
(median, min-max), so a burst of load on a shared machine hits both sides of a pair.
--best gives the earlier figures: each command --repeat times on its own, the best kept.
Not a test: nothing here asserts; it measures and prints.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@dataclass
class Row:
    what: str
    user: str
    seconds: float
    tests: int
    passed: int
    failed: int
    skipped: int
    runs: list[float] | None = None  # every run's wall seconds (paired mode)
    ratios: list[float] | None = None  # tests/s ratio to ljsyscall, per pair
    # Our tests that failed or errored, "run N: nodeid: message" (paired mode: every run's)
    failures: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.tests / self.seconds if self.seconds else 0.0


def _as(user: str, cmd: list[str]) -> list[str]:
    if user == "root" or os.geteuid() != 0:
        return cmd
    return [*NOBODY, "env", "HOME=/tmp", *cmd]


def _timed(cmd: list[str], cwd: Path, repeat: int) -> tuple[float, subprocess.CompletedProcess]:
    best, proc = float("inf"), None
    # TMPDIR is left as the user's: the suite's `tmp` goes to a tmpfs only where nobody
    # named a directory. pytest's base temp dir is the bench's own (--basetemp).
    env = dict(os.environ)
    # Measure as a user's machine runs it: with Python's bytecode cache (which also holds
    # pytest's rewritten test modules). Some sandboxes set PYTHONDONTWRITEBYTECODE.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTEST_ADDOPTS", None)
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
        best = min(best, time.perf_counter() - start)
    assert proc is not None
    return best, proc


def _failures(junit: Path) -> list[str]:
    """classname::name and message of each test that failed or errored in a JUnit file:
    a timed run that failed says which test, not only how many."""
    found = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        for kind in ("failure", "error"):
            bad = case.find(kind)
            if bad is not None:
                message = (bad.get("message") or "").splitlines()[:1]
                name = f"{case.get('classname')}::{case.get('name')}"
                found.append(f"{name}: {message[0][:200] if message else kind}")
    return found


def _counts(junit: Path) -> tuple[int, int, int]:
    """(tests, failed, skipped) of a JUnit file."""
    suite = ET.parse(junit).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    assert suite is not None
    failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
    return int(suite.get("tests", 0)), failed, int(suite.get("skipped", 0))


# How our suite is run: `syscalls run` (the README's command: forked workers, results
# and profile in --out), plain pytest in one process, and pytest with -n auto (xdist).
MODES = {
    "run": "syscalls run",
    "serial": "syscalls (pytest)",
    "auto": "syscalls (pytest) -n auto",
    "floor": "syscalls run, no test bodies",  # bench/floor.py: the framework alone
}


def ours(user: str, mode: str, repeat: int, out: Path) -> Row:
    if mode in ("run", "floor"):
        results = out / f"{mode}-{user}"
        junit = results / "junit.xml"
        cmd = [str(PYTHON), "-m", "syscalls", "run", "--out", str(results)]
        if mode == "floor":  # bench/ is not installed: importable from the checkout's root
            cmd = ["env", f"PYTHONPATH={ROOT}", *cmd, "--", "-p", "bench.floor"]
    else:
        junit = out / f"junit-{user}-{mode}.xml"
        cmd = [str(PYTHON), "-m", "pytest", "suites", "-q", "-p", "no:cacheprovider",
               f"--junitxml={junit}", "-o", "junit_logging=no",
               f"--basetemp={out / f'basetemp-{user}-{mode}'}"]  # fmt: skip
        if mode != "serial":
            cmd += ["-n", mode]
    junit.unlink(missing_ok=True)
    seconds, proc = _timed(_as(user, cmd), ROOT, repeat)
    if not junit.exists():
        raise SystemExit(f"suite run failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    total, failed, skipped = _counts(junit)
    failures = _failures(junit)
    return Row(MODES[mode], user, seconds, total, total - failed - skipped, failed, skipped,
               failures=failures)  # fmt: skip


def startup(user: str, repeat: int) -> float:
    """pytest + plugins + collection, running no test: the fixed cost of a run."""
    cmd = [str(PYTHON), "-m", "pytest", "suites", "-q", "-p", "no:cacheprovider", "--collect-only"]
    return _timed(_as(user, cmd), ROOT, repeat)[0]


def ljsyscall(user: str, repeat: int, upstream: Path | None, out: Path) -> Row | None:
    """ljsyscall's suite: upstream's from a checkout (timed without the copy), else
    Debian's package with bench/ljsyscall's stand-ins (None if luajit or it is missing)."""
    if not shutil.which("luajit"):
        return None
    if upstream is None:
        if not Path("/usr/share/doc/lua-ljsyscall/test").is_dir():
            return None
        seconds, proc = _timed(
            _as(user, ["sh", str(ROOT / "bench/ljsyscall/run.sh")]), ROOT, repeat
        )
        m = re.search(r"(\d+) passed, (\d+) failed, (\d+) skipped", proc.stdout)
        if not m:
            return None
        passed, failed, skipped = map(int, m.groups())
        total = passed + failed + skipped
        return Row("ljsyscall (luajit)", user, seconds, total, passed, failed, skipped)
    # Its tests make files in the current directory: a fresh copy, made by the user.
    work = out / f"ljsyscall-{user}"
    if not work.exists():
        copy = ["sh", "-c", 'mkdir "$1" && cd "$2" && cp -r syscall.lua syscall test include "$1"',
                "sh", str(work), str(upstream.resolve())]  # fmt: skip
        subprocess.run(_as(user, copy), check=True)
    seconds, proc = _timed(_as(user, ["luajit", "test/test.lua"]), work, repeat)
    return _luaunit_row(proc.stdout, user, seconds)


def _luaunit_row(output: str, user: str, seconds: float) -> Row | None:
    """Upstream luaunit's summary: "Success : 98% - 321 / 326 (total of 337 tests, 11
    skipped)": passed / run, total counting the skipped."""
    m = re.search(r"(\d+) / (\d+) \(total of (\d+) tests, (\d+) skipped\)", output)
    if not m:
        return None
    passed, run, total, skipped = map(int, m.groups())
    return Row("ljsyscall upstream (luajit)", user, seconds, total, passed, run - passed, skipped)


def paired(user: str, modes: list[str], repeat: int, upstream: Path | None, out: Path) -> list[Row]:
    """Each mode of ours, then ljsyscall's suite, --repeat times in turn: medians, and
    the per-pair ratio of tests per second."""
    runs: dict[str, list[Row]] = {m: [] for m in modes}
    theirs: list[Row] = []
    ratios: dict[str, list[float]] = {m: [] for m in modes}
    for _ in range(repeat):
        for mode in modes:
            row = ours(user, mode, 1, out)
            lj = ljsyscall(user, 1, upstream, out)
            runs[mode].append(row)
            if lj:
                theirs.append(lj)
                ratios[mode].append(row.per_second / lj.per_second)
    rows = [_median(runs[m], ratios[m] or None) for m in modes]
    return rows + ([_median(theirs, None)] if theirs else [])


def _median(rows: list[Row], ratios: list[float] | None) -> Row:
    walls = [r.seconds for r in rows]
    last = rows[-1]
    failures = [f"run {i}: {f}" for i, r in enumerate(rows, 1) for f in r.failures]
    return Row(last.what, last.user, statistics.median(walls), last.tests, last.passed,
               last.failed, last.skipped, walls, ratios, failures)  # fmt: skip


def child_cost(user: str, out: Path) -> dict:
    """One more serial run with bench/child_cost.py: the in_child tests' share of it."""
    report = out / f"child-cost-{user}.json"
    cmd = [str(PYTHON), "-m", "pytest", "suites", "-q", "-p", "no:cacheprovider"]
    cmd += ["-p", "bench.child_cost", f"--basetemp={out / f'basetemp-{user}-child-cost'}"]
    os.environ["SYSCALLS_BENCH_CHILD_COST"] = str(report)
    try:
        seconds, proc = _timed(_as(user, cmd), ROOT, 1)
    finally:
        del os.environ["SYSCALLS_BENCH_CHILD_COST"]
    if not report.exists():
        raise SystemExit(f"child-cost run failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return {"user": user, "run_seconds": round(seconds, 2), **json.loads(report.read_text())}


def _print_child_cost(c: dict) -> None:
    kids, bare = c["children"], c["bare_fork"]
    faults = kids["child_faults"]["total"]
    print(
        f"{c['user']}: {c['count']} tests ran a forked child: {kids['wall']['total']:.2f} s of "
        f"a {c['run_seconds']:.2f} s serial run (median {kids['wall']['median'] * 1000:.1f} ms)"
    )
    print(
        f"  kernel CPU: children {kids['child_sys']['total']:.2f} s "
        f"({faults:.0f} minor faults, {kids['child_sys']['total'] / max(faults, 1) * 1e6:.1f} us "
        f"each), parent {kids['parent_sys']['total']:.2f} s; children's user CPU "
        f"{kids['child_user']['total']:.2f} s"
    )
    print(
        f"  a bare fork + exit + wait of that process: {bare['wall']['median'] * 1000:.2f} ms "
        f"(child {bare['child_sys']['median'] * 1000:.2f} ms kernel, "
        f"{bare['child_faults']['median']:.0f} faults; "
        f"parent {bare['parent_sys']['median'] * 1000:.2f} ms)"
    )


def debian_kernel() -> str:
    """The Debian cloud kernel package ci/setup fetched (downloaded now if it did not)."""
    sys.path.insert(0, str(ROOT))
    from syscalls.targets.vm_kernel import debian_package

    return str(debian_package("cloud"))


def target(name: str, out: Path, kernel: str) -> Row | None:
    """The whole suite in a target (`syscalls run --target NAME`, or `boot` for vm)."""
    res = out / name
    cmd = [str(PYTHON), "-m", "syscalls"]
    cmd += ["boot", kernel] if name == "vm" else ["run", "--target", name]
    seconds, proc = _timed([*cmd, "--out", str(res)], ROOT, 1)
    if not (res / "junit.xml").exists():
        print(f"{name}: no results ({proc.stderr.strip()[-300:]})", file=sys.stderr)
        return None
    total, failed, skipped = _counts(res / "junit.xml")
    return Row(f"syscalls --target {name}", "root", seconds, total, total - failed - skipped,
               failed, skipped)  # fmt: skip


def vm_boot(kernel: str, out: Path) -> dict[str, float | str]:
    """Boot-to-result time of `syscalls boot KERNEL` on one quick test."""
    start = time.perf_counter()
    proc = subprocess.run(
        [
            str(PYTHON),
            "-m",
            "syscalls",
            "boot",
            kernel,
            "--out",
            str(out / "vm"),
            "--",  # named: collecting the whole suite for one test would cost seconds
            "suites/fs/test_openat.py::test_openat_missing_file_is_enoent",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return {
        "kernel": kernel,
        "seconds": round(time.perf_counter() - start, 2),
        "exit": proc.returncode,
    }


def _load() -> str:
    """The 1, 5 and 15 minute load averages, as uptime shows them."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--repeat", type=int, default=1, help="runs per figure (median; with --best, the best)"
    )
    ap.add_argument(
        "--ljsyscall",
        metavar="DIR",
        type=Path,
        help="ljsyscall's upstream checkout: run its test/test.lua and luaunit "
        "(default: Debian's lua-ljsyscall tests with bench/ljsyscall's stand-ins)",
    )
    ap.add_argument(
        "--best",
        action="store_true",
        help="the earlier figures: each command --repeat times on its own, the best kept",
    )
    ap.add_argument(
        "--modes",
        default="run,serial,auto",  # floor on request
        help="comma-separated, of ours: run (syscalls run), serial (pytest), auto (pytest -n "
        "auto), floor (syscalls run without the test bodies: bench/floor.py); default the "
        "first three",
    )
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument(
        "--vm",
        metavar="KERNEL",
        nargs="?",
        const="debian",
        help="also time `syscalls boot KERNEL` on one test (default: Debian's cloud kernel)",
    )
    ap.add_argument(
        "--targets", default="", help="comma-separated: also the whole suite in gvisor, uml, vm"
    )
    ap.add_argument(
        "--child-cost",
        action="store_true",
        help="also one serial run measuring the tests that run in a forked child",
    )
    args = ap.parse_args()
    if not PYTHON.exists():
        print("run ci/setup first (no .venv)", file=sys.stderr)
        return 2
    modes = [m for m in args.modes.split(",") if m]
    if not modes or set(modes) - set(MODES):
        print(f"--modes: choose from {', '.join(MODES)}", file=sys.stderr)
        return 2
    if args.ljsyscall and not (args.ljsyscall / "test" / "test.lua").is_file():
        print(f"--ljsyscall: {args.ljsyscall} has no test/test.lua", file=sys.stderr)
        return 2
    users = ["nobody", "root"] if os.geteuid() == 0 else [os.environ.get("USER", "user")]
    rows: list[Row] = []
    fixed: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="syscalls-bench-") as tmp:
        out = Path(tmp)
        out.chmod(0o1777)  # the unprivileged runs write their JUnit and temp files here too
        startup(users[-1], 1)  # warm the bytecode cache once, as the tree's owner
        for user in users:
            fixed[user] = startup(user, args.repeat)
            if not args.best:
                rows += paired(user, modes, args.repeat, args.ljsyscall, out)
                continue
            rows += [ours(user, mode, args.repeat, out) for mode in modes]
            lj = ljsyscall(user, args.repeat, args.ljsyscall, out)
            if lj:
                rows.append(lj)
        names = list(filter(None, args.targets.split(",")))
        kernel = args.vm or "debian"
        if kernel == "debian" and (args.vm or "vm" in names):
            kernel = debian_kernel()
        vm = vm_boot(kernel, out) if args.vm else None
        costs = [child_cost(user, out) for user in users] if args.child_cost else []
        for name in names:
            row = target(name, out, kernel)
            if row:
                rows.append(row)

    print(f"{'best of' if args.best else 'median of'} {args.repeat}; load {_load()}")
    print(
        f"{'suite':<28} {'user':<7} {'tests':>5} {'pass':>5} {'fail':>4} {'skip':>4} "
        f"{'wall s':>7} {'tests/s':>8}  {'ratio to ljsyscall (min-max)' if not args.best else ''}"
    )
    for r in rows:
        ratio = ""
        if r.ratios:
            ratio = f"  {statistics.median(r.ratios):.2f} ({min(r.ratios):.2f}-{max(r.ratios):.2f})"
        print(
            f"{r.what:<28} {r.user:<7} {r.tests:>5} {r.passed:>5} {r.failed:>4} "
            f"{r.skipped:>4} {r.seconds:>7.2f} {r.per_second:>8.0f}{ratio}"
        )
    for r in rows:
        for failure in r.failures:
            print(f"  failed ({r.what}, {r.user}): {failure}")
    for user, seconds in fixed.items():
        serial = next((r for r in rows if r.user == user and r.what == MODES["serial"]), None)
        per_test = ""
        if serial:
            ms = (serial.seconds - seconds) / max(serial.tests, 1) * 1000
            per_test = f"; per test {ms:.2f} ms beyond that (serial)"
        print(f"{user}: pytest start-up and collection {seconds:.2f} s{per_test}")
    for cost in costs:
        _print_child_cost(cost)
    if vm:
        print(f"vm: boot to result {vm['seconds']} s ({vm['kernel']}, exit {vm['exit']})")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "rows": [{**asdict(r), "per_second": round(r.per_second, 1)} for r in rows],
                    "startup": fixed,
                    "vm": vm,
                    "child_cost": costs,
                    "kernel": os.uname().release,
                    "load": _load(),
                    "mode": "best" if args.best else "paired",
                },
                indent=1,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
