"""The `syscalls` command: run the suite, generate tables, list coverage, compare runs."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="syscalls", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the suite (on the running kernel by default)")
    run.add_argument("--target", default="host", help="where to run (default: host)")
    run.add_argument("--platform", help="binding table: OS/ARCH or a .toml file")
    run.add_argument(
        "--out",
        type=Path,
        default=ROOT / "results",
        help="directory for junit.xml and profile.json (default: results/)",
    )
    run.add_argument(
        "-n",
        "--workers",
        default="auto",
        help="pytest-xdist workers, or 0 for none (default: auto)",
    )
    run.add_argument(
        "--time-limit",
        type=float,
        metavar="SECONDS",
        help="vm/gvisor/uml: limit for the whole run, boot included (default: the target's)",
    )
    run.add_argument(
        "--time-scale",
        type=float,
        metavar="X",
        help="vm/gvisor/uml: stretch per-test time limits by X (default: the target's)",
    )
    run.add_argument(
        "--rump-dir",
        metavar="DIR",
        default=os.environ.get("SYSCALLS_RUMP_DIR"),
        help="--target rump: directory with librumpuser.so, librump.so, ... "
        "(NetBSD: /usr/lib; default: $SYSCALLS_RUMP_DIR)",
    )
    add_vm_arguments(run)
    add_verdict_arguments(run)
    run.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --)")
    run.set_defaults(func=cmd_run)

    boot = sub.add_parser(
        "boot",
        help="boot a kernel image under QEMU and run the suite inside it (--target vm)",
        description="Boot KERNEL_IMAGE (a bzImage, a distro vmlinuz, or a Debian "
        "linux-image .deb) under QEMU with the host root shared read-only, run the suite "
        "inside, and collect junit.xml, profile.json and console.log into --out. Exit "
        "status: the suite's; 3 when the guest panicked, hung or never started the suite.",
    )
    boot.add_argument("kernel", type=Path, metavar="KERNEL_IMAGE")
    boot.add_argument("--out", type=Path, default=ROOT / "results", help="results directory")
    boot.add_argument("--platform", help="binding table: OS/ARCH or a .toml file")
    boot.add_argument(
        "-n", "--workers", default="auto", help="pytest-xdist workers in the guest (default: 0)"
    )
    boot.add_argument("--time-limit", type=float, metavar="SECONDS", help="for the whole run")
    boot.add_argument("--time-scale", type=float, metavar="X", help="stretch per-test limits")
    add_vm_arguments(boot, kernel=False)
    add_verdict_arguments(boot)
    boot.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --)")
    boot.set_defaults(func=cmd_run, target="vm", rump_dir=None)

    tables = sub.add_parser("tables", help="generate a binding table from a kernel tree")
    tables.add_argument(
        "--from-tree",
        required=True,
        type=Path,
        metavar="DIR",
        help="kernel source tree (Linux, FreeBSD, NetBSD or OpenBSD)",
    )
    tables.add_argument("--arch", help="arch to generate for (default: x86_64 / amd64)")
    tables.add_argument("-o", "--output", required=True, type=Path, metavar="FILE")
    tables.set_defaults(func=cmd_tables)

    listing = sub.add_parser(
        "list", help="the suite's tests by area, the syscalls each calls, and coverage"
    )
    listing.add_argument("--platform", help="table to count coverage against: OS/ARCH or .toml")
    listing.add_argument("--missing", action="store_true", help="list untested syscalls too")
    listing.add_argument(
        "--suites", type=Path, default=ROOT / "suites", metavar="DIR", help=argparse.SUPPRESS
    )
    listing.set_defaults(func=cmd_list)

    compare = sub.add_parser(
        "compare",
        help="where two or more runs disagree (profiles or JUnit XML)",
        description="Show the tests that ran on several runs and answered differently, "
        "then those that ran on some only (skipped or missing elsewhere), and per syscall "
        "where the answers part. With --baseline OLD NEW: what got worse. Exit status: 0 "
        "no difference (nothing worse), 1 differences (something worse), 2 bad input.",
    )
    compare.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="profile or JUnit")
    compare.add_argument(
        "--baseline",
        action="append",
        type=Path,
        metavar="OLD",
        help="judge the one RUN against this known-good run (repeat for several: an "
        "answer counts only where they agree); exit 1 when something got worse",
    )
    compare.add_argument("--bisect", action="store_true", help="exit 125 instead of 2")
    compare.add_argument("--html", type=Path, metavar="OUT.html", help="also write HTML here")
    compare.add_argument("--all", action="store_true", help="show agreeing tests too")
    compare.add_argument(
        "--ran-everywhere",
        action="store_true",
        help="hide the tests that ran on some runs only (skipped or missing on the others)",
    )
    compare.add_argument("--width", type=int, help="terminal width (default: detected)")
    compare.set_defaults(func=cmd_compare)

    argv = sys.argv[1:] if argv is None else list(argv)
    rest: list[str] = []
    if argv[:1] == ["boot"] and "--" in argv:  # argparse cannot put "--" after KERNEL_IMAGE
        i = argv.index("--")
        argv, rest = argv[:i], argv[i + 1 :]
    args = parser.parse_args(argv)
    if rest:
        args.pytest_args = [*args.pytest_args, *rest]
    if args.command in ("run", "boot"):
        args.workers_given = any(
            a in ("-n", "--workers") or a.startswith(("-n", "--workers=")) for a in argv
        )
        return run_with_verdict(args)
    return int(args.func(args) or 0)


def add_verdict_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--baseline",
        action="append",
        type=Path,
        metavar="PROFILE",
        help="a known-good run's profile.json or junit.xml (repeatable): report what got "
        "worse, and exit 1 only then",
    )
    parser.add_argument(
        "--bisect",
        action="store_true",
        help="for `git bisect run`: exit 125 (could not test) instead of 2 or 3",
    )
    parser.add_argument(
        "--smoke", action="store_true", help="only the smoke selection (@pytest.mark.smoke)"
    )


def smoke_files() -> list[str]:
    """The suite files that hold smoke tests, found by their text: collecting only those
    keeps a --smoke run from importing the whole suite (most of its time under TCG)."""
    suites = ROOT / "suites"
    return sorted(
        str(path.relative_to(ROOT))
        for path in suites.rglob("test_*.py")
        if "pytest.mark.smoke" in path.read_text(errors="replace")
    )


def run_with_verdict(args: argparse.Namespace) -> int:
    """cmd_run, with --smoke's selection, --baseline's verdict and --bisect's status."""
    from syscalls import baseline

    args.workers_given = getattr(args, "workers_given", True)
    baselines = []
    if args.baseline:
        try:  # read first: a bad baseline must not cost a kernel boot
            baselines = baseline.load_baselines(args.baseline)
        except baseline.InputError as e:
            print(f"syscalls {args.command}: --baseline: {e}", file=sys.stderr)
            return baseline.bisect_code(2, args.bisect)
    if args.smoke:
        from syscalls.targets.guest import names_tests

        named = names_tests(args.pytest_args)
        args.pytest_args = [*args.pytest_args, "-m", "smoke", *([] if named else smoke_files())]
        if not args.workers_given:  # starting xdist workers costs more than ~180 quick tests
            args.workers = "0"
    code = int(args.func(args) or 0)
    if baselines:
        code = baseline.after_run(args.out, baselines, code)
    return baseline.bisect_code(code, args.bisect)


def add_vm_arguments(parser: argparse.ArgumentParser, kernel: bool = True) -> None:
    if kernel:
        parser.add_argument(
            "--kernel", type=Path, metavar="IMAGE", help="--target vm: the kernel image to boot"
        )
    parser.add_argument(
        "--accel",
        choices=("auto", "kvm", "tcg"),
        default="auto",
        help="vm: KVM, TCG (emulation), or auto: KVM if a guest starts under it (default)",
    )
    parser.add_argument("--append", default="", help="vm: more kernel command-line arguments")
    parser.add_argument("--memory", type=int, default=1024, metavar="MB", help="vm: guest memory")


def cmd_run(args: argparse.Namespace) -> int:
    if args.target == "rump":  # in-process: the host path below, with the rump kernel
        from syscalls.targets import rump

        try:
            rump.find_libraries(args.rump_dir)
        except rump.RumpUnavailable as e:
            print(f"syscalls: --target rump: {e}", file=sys.stderr)
            return 2
    elif args.target != "host":
        from syscalls import targets

        if args.target not in targets.TARGETS:
            known = ", ".join(targets.TARGETS)
            print(f"syscalls: unknown target {args.target!r} (known: {known})", file=sys.stderr)
            return 2
        opts = targets.Options(
            out=args.out.resolve(),
            pytest_args=args.pytest_args,
            workers=args.workers,
            platform=args.platform,
            time_limit=args.time_limit,
            time_scale=args.time_scale,
            kernel=args.kernel,
            accel=args.accel,
            append=args.append,
            memory_mb=args.memory,
        )
        return targets.run(args.target, opts)
    import pytest

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    # The whole suite unless the arguments name test paths (suites/fs, a file::test).
    named = any(
        not a.startswith("-") and (ROOT / a.split("::")[0]).exists() for a in args.pytest_args
    )
    pytest_args = [
        *([] if named else [str(ROOT / "suites")]),
        f"--rootdir={ROOT}",
        "-q",
        f"--junitxml={out / 'junit.xml'}",
        f"--profile={out / 'profile.json'}",
        f"--target={args.target}",
    ]
    if args.workers not in ("0", "1"):
        pytest_args += ["-n", args.workers]
    if args.platform:
        pytest_args.append(f"--platform={args.platform}")
    if args.target == "rump":
        pytest_args.append(f"--rump-dir={Path(args.rump_dir).resolve()}")
    pytest_args += args.pytest_args
    os.chdir(ROOT)  # conftest.py and pyproject.toml's settings live at the root
    # pytest-xdist makes pytest's base temp dir even when no test asks for one: keep it
    # ours and remove it, so a run leaves nothing behind.
    with tempfile.TemporaryDirectory(prefix="syscalls-run-") as basetemp:
        code = pytest.main([*pytest_args, f"--basetemp={basetemp}"])
    print(f"results: {out / 'junit.xml'}  {out / 'profile.json'}")
    return int(code)


def cmd_tables(args: argparse.Namespace) -> int:
    from syscalls.tables import TreeError, emit, generate
    from syscalls.tables.cmacros import CompilerMissing

    try:
        table = generate(args.from_tree, args.arch)
    except (TreeError, CompilerMissing) as e:
        print(f"syscalls tables: {e}", file=sys.stderr)
        return 2
    tree = os.path.basename(os.path.normpath(args.from_tree))
    command = [
        "syscalls",
        "tables",
        "--from-tree",
        tree,
        "--arch",
        table.arch,
        "-o",
        str(args.output),
    ]
    emit.write(table, shlex.join(command), args.output)
    print(
        f"{args.output}: {table.os}/{table.arch}: {len(table.syscalls)} syscalls, "
        f"{len(table.errno)} errno, {len(table.constants)} constants"
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from syscalls.abi import Platform, PlatformError
    from syscalls.inventory import render, scan

    try:
        platform = Platform.load(args.platform)
    except PlatformError as e:
        print(f"syscalls list: {e}", file=sys.stderr)
        return 2
    if not args.suites.is_dir():
        print(f"syscalls list: {args.suites}: no such directory", file=sys.stderr)
        return 2
    sys.stdout.write(render(scan(args.suites, platform), missing=args.missing))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from syscalls.compare import InputError, compare, label_runs, load, render_text

    if args.baseline:
        return compare_with_baseline(args)
    if len(args.runs) < 2:
        print("syscalls compare: need at least two runs to compare", file=sys.stderr)
        return 2
    try:
        runs = [load(path) for path in args.runs]
    except InputError as e:
        print(f"syscalls compare: {e}", file=sys.stderr)
        return 2
    label_runs(runs)
    comparison = compare(runs)
    everywhere = args.ran_everywhere
    sys.stdout.write(
        render_text(comparison, show_all=args.all, width=args.width, ran_everywhere=everywhere)
    )
    if args.html:
        from syscalls.report_html import render_html

        try:
            args.html.write_text(
                render_html(comparison, show_all=args.all, ran_everywhere=everywhere)
            )
        except OSError as e:
            print(f"syscalls compare: {args.html}: {e.strerror}", file=sys.stderr)
            return 2
        print(f"html: {args.html}")
    return 1 if comparison.differs(everywhere) else 0


def compare_with_baseline(args: argparse.Namespace) -> int:
    from syscalls import baseline

    if len(args.runs) != 1:
        print("syscalls compare: --baseline judges one run (give one RUN)", file=sys.stderr)
        return baseline.bisect_code(2, args.bisect)
    try:
        olds = baseline.load_baselines(args.baseline)
        new = baseline.load(args.runs[0])
    except baseline.InputError as e:
        print(f"syscalls compare: {e}", file=sys.stderr)
        return baseline.bisect_code(2, args.bisect)
    verdict = baseline.judge(olds, new)
    sys.stdout.write(baseline.render(verdict))
    return 1 if verdict.worse else 0


if __name__ == "__main__":
    sys.exit(main())
