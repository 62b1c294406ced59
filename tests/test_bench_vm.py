"""bench/vm.py's reading of `syscalls boot`'s closing lines and its medians (the boots
themselves are the benchmark, not a test)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# bench/ is scripts, not a package on sys.path: load vm.py by its path.
_spec = importlib.util.spec_from_file_location("bench_vm", ROOT / "bench" / "vm.py")
assert _spec is not None and _spec.loader is not None
bench_vm = sys.modules["bench_vm"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_vm)

STDOUT = """....
syscalls: vm: suite finished in 38 s, status 1: 1080 passed, 3 failed, 64 skipped
syscalls: vm: time: bytecode 0.7 s, boot 2.8 s, init 0.6 s, start-up 3.1 s, collect 5.0 s, tests 24.9 s, finish 0.4 s
results: /tmp/x/junit.xml  /tmp/x/profile.json
"""  # noqa: E501


def test_phases_status_and_tests_are_read_from_the_closing_lines() -> None:
    phases, status, tests = bench_vm.parse(STDOUT)
    assert status == 1 and tests == 1147
    assert phases == {"bytecode": 0.7, "boot": 2.8, "init": 0.6, "start-up": 3.1,
                      "collect": 5.0, "tests": 24.9, "finish": 0.4}  # fmt: skip
    assert bench_vm.parse("syscalls: vm: run ended after 9 s: kernel panic\n") == ({}, None, 0)


def test_a_summary_keeps_the_medians_and_the_range() -> None:
    runs = [
        bench_vm.Run("smoke", "tcg", wall, wall / 2, 1.0, 0, 183, {"boot": wall / 10}, "tcg")
        for wall in (20.0, 14.0, 16.0)
    ]
    s = bench_vm.summary(runs)
    assert (s["wall_median"], s["wall_min"], s["wall_max"], s["cpu_median"]) == (16, 14, 20, 8)
    assert s["phases"] == {"boot": 1.6} and s["tests"] == 183 and s["status"] == [0]


def test_the_smoke_selection_is_the_marker_or_a_stand_in() -> None:
    args, how = bench_vm.smoke_args()
    assert how in ("--smoke", "-m smoke", "stand-in files")
    if how == "stand-in files":
        assert args[0] == "--" and all((ROOT / f).is_file() for f in args[1:])
        assert len(args) == len(bench_vm.STAND_IN) + 1
