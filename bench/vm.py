#!/usr/bin/env python3
"""Benchmark: how fast a fresh kernel gives its verdict under QEMU, and where the time goes.

    .venv/bin/python bench/vm.py                       # Debian's cloud kernel, TCG
    .venv/bin/python bench/vm.py --repeat 5 --json vm.json
    .venv/bin/python bench/vm.py --kernel arch/x86/boot/bzImage --runs first,smoke
    .venv/bin/python bench/vm.py --accel tcg,kvm       # KVM too, where a KVM guest starts
    .venv/bin/python bench/vm.py --runs suite,floor --cpus 1   # the floor, and one vCPU

Each run is a whole `syscalls boot` (wall time from the command's start to its end):

    first   one named test: boot to the first verdict
    smoke   the smoke selection (`--smoke`; before that option existed, `-m smoke` over
            the files holding the marker; without any marker a fixed ~150-test stand-in)
    suite   the whole suite
    floor   the whole suite without the test bodies (bench/floor.py): what the framework
            costs in the guest, the least a run of this many tests could take there

and the phases `syscalls boot` reports (syscalls.targets.timeline: bytecode, boot, init,
start-up, collect, tests, finish). Printed per run and accelerator: median, min and max
wall seconds of --repeat runs, median CPU seconds of everything the run started (QEMU,
virtiofsd, the host's bytecode step; steadier than wall time on a busy machine), median
of each phase, and the load average seen. The targets (issue 12): under TCG the suite
within 40 s, a smoke verdict in about 15 s; under KVM 5x faster. Not a test: it
measures and prints.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from syscalls.targets import vm, vm_kernel  # noqa: E402

FIRST = "suites/fs/test_openat.py::test_openat_missing_file_is_enoent"
# Before the smoke marker: files of the same families, ~150 tests.
STAND_IN = [
    "suites/fs/test_openat.py", "suites/fs/test_read_write.py", "suites/mm/test_mmap.py",
    "suites/sync/test_futex_wait_wake.py", "suites/events/test_epoll_wait.py",
    "suites/ptrace/test_ptrace_traceme.py", "suites/proc/test_fork.py",
    "suites/signals/test_kill.py", "suites/ipc/test_pipe.py", "suites/time/test_clock_gettime.py",
]  # fmt: skip
GOALS = {"tcg": {"smoke": 15.0, "suite": 40.0}}  # seconds, issue 12; KVM: 5x faster
PHASE = re.compile(r"([a-z-]+) (\d+(?:\.\d+)?) s")
FINISHED = re.compile(r"suite finished in \d+ s, status (\d+): (.*)")


@dataclass
class Run:
    selection: str
    accel: str
    wall: float
    cpu: float  # user + system seconds of the processes the run started
    load: float  # 1-minute load average at the start
    status: int
    tests: int
    phases: dict[str, float] = field(default_factory=dict)
    used: str = ""  # the accelerator the run ended up on (auto may fall back)


def smoke_args() -> tuple[list[str], str]:
    """How to select the smoke tests with this checkout, and what was used."""
    help_text = subprocess.run(
        [sys.executable, "-m", "syscalls", "boot", "--help"], cwd=ROOT, capture_output=True,
        text=True, check=False,
    ).stdout  # fmt: skip
    if "--smoke" in help_text:
        return ["--smoke"], "--smoke"
    files = sorted(
        str(p.relative_to(ROOT))
        for p in (ROOT / "suites").rglob("test_*.py")
        if "pytest.mark.smoke" in p.read_text(errors="replace")
    )
    if files:
        return ["--", "-m", "smoke", *files], "-m smoke"
    return ["--", *(f for f in STAND_IN if (ROOT / f).exists())], "stand-in files"


def parse(stdout: str) -> tuple[dict[str, float], int | None, int]:
    """(phases, status, tests) from `syscalls boot`'s closing lines."""
    phases: dict[str, float] = {}
    status, tests = None, 0
    for line in stdout.splitlines():
        if line.startswith("syscalls: vm: time: "):
            phases = {k: float(v) for k, v in PHASE.findall(line.split("time: ", 1)[1])}
        elif m := FINISHED.search(line):
            status = int(m.group(1))
            tests = sum(int(n) for n in re.findall(r"(\d+) \w+", m.group(2)))
    return phases, status, tests


def boot(kernel: str, accel: str, args: list[str], out: Path, selection: str) -> Run:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-m", "syscalls", "boot", kernel, "--accel", accel, "--out", str(out),
         *args],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    phases, status, tests = parse(p.stdout)
    used = "tcg" if accel == "tcg" or "falling back to TCG" in p.stderr else accel
    return Run(selection, accel, wall, cpu, load, p.returncode if status is None else status,
               tests, phases, used)  # fmt: skip


def summary(runs: list[Run]) -> dict[str, object]:
    walls = [r.wall for r in runs]
    names = dict.fromkeys(k for r in runs for k in r.phases)
    return {
        "selection": runs[0].selection,
        "accel": runs[0].used,
        "runs": len(runs),
        "tests": runs[-1].tests,
        "status": sorted({r.status for r in runs}),
        "wall_median": round(statistics.median(walls), 1),
        "wall_min": round(min(walls), 1),
        "wall_max": round(max(walls), 1),
        "cpu_median": round(statistics.median(r.cpu for r in runs), 1),
        "load": [round(r.load, 1) for r in runs],
        "phases": {
            k: round(statistics.median(r.phases.get(k, 0.0) for r in runs), 1) for k in names
        },
    }


def kvm_unusable() -> str | None:
    """Why KVM cannot be measured here, or None."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "no usable /dev/kvm"
    if not vm.kvm_worth_trying():
        return "a KVM guest did not start on this host since it booted (PVM-style KVM?)"
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kernel", help="image or .deb (default: Debian's cloud kernel)")
    ap.add_argument("--runs", default="first,smoke,suite", help="comma-separated selections")
    ap.add_argument("--accel", default="tcg", help="comma-separated: tcg, kvm")
    ap.add_argument("--repeat", type=int, default=3, help="boots per selection (median kept)")
    ap.add_argument("--json", type=Path, help="also write every run and summary here")
    ap.add_argument("--cpus", type=int, help="the guest's vCPUs (default: syscalls boot's)")
    args = ap.parse_args()
    kernel = args.kernel or str(vm_kernel.debian_package("cloud"))
    smoke, how = smoke_args()
    selections = {
        "first": ["--", FIRST],
        "smoke": smoke,
        "suite": [],
        "floor": ["--", "-p", "bench.floor"],  # the whole suite without the test bodies
    }
    cpus = ["--cpus", str(args.cpus)] if args.cpus else []
    runs: list[Run] = []
    summaries = []
    notes = [f"smoke selected by {how}"]
    with tempfile.TemporaryDirectory(prefix="syscalls-bench-vm-") as tmp:
        for accel in args.accel.split(","):
            why = kvm_unusable() if accel == "kvm" else None
            if why:
                notes.append(f"kvm not measured: {why}")
                continue
            for name in args.runs.split(","):
                batch = []
                for i in range(args.repeat):
                    run = boot(
                        kernel, accel, cpus + selections[name], Path(tmp) / f"{name}{i}", name
                    )
                    print(f"{name} {accel} #{i + 1}: {run.wall:.1f} s wall, {run.cpu:.1f} s cpu, "
                          f"load {run.load:.1f}, status {run.status}, {run.tests} tests; "
                          + ", ".join(f"{k} {v:.1f}" for k, v in run.phases.items()),
                          flush=True)  # fmt: skip
                    batch.append(run)
                if accel == "kvm" and any(r.used != "kvm" for r in batch):
                    notes.append("kvm not measured: the KVM guest did not start; runs fell back")
                runs += batch
                summaries.append(summary(batch))
    print(f"\nkernel {kernel}")
    print(f"{'run':<6} {'accel':<5} {'tests':>5} {'wall med':>8} {'min':>6} {'max':>6} "
          f"{'cpu':>6} {'goal':>5}  phases (median s)")  # fmt: skip
    for s in summaries:
        goal = GOALS.get(str(s["accel"]), {}).get(str(s["selection"]))
        phases = ", ".join(f"{k} {v}" for k, v in dict(s["phases"]).items())  # type: ignore[call-overload]
        print(f"{s['selection']:<6} {s['accel']:<5} {s['tests']:>5} {s['wall_median']:>8} "
              f"{s['wall_min']:>6} {s['wall_max']:>6} {s['cpu_median']:>6} "
              f"{goal if goal else '':>5}  {phases}  (load {s['load']})")  # fmt: skip
    for note in notes:
        print(note)
    if args.json:
        args.json.write_text(json.dumps(
            {"kernel": kernel, "runs": [asdict(r) for r in runs], "summaries": summaries,
             "notes": notes}, indent=1) + "\n")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
