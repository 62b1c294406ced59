"""The `syscalls` command: run the suite, generate tables, list coverage, compare runs,
and the kernel config fragment for a kernel to boot under it."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shlex
import sys
import time
from pathlib import Path
from typing import NoReturn

from syscalls import exitcodes, outdir, plugins
from syscalls.paths import ROOT, default_out, redirect_bytecode
from syscalls.targets import results
from syscalls.targets.results import JUNIT, PROFILE
from syscalls.tempdirs import own_dir, removed_tree

RESULTS = (JUNIT, PROFILE)


class Parser(argparse.ArgumentParser):
    """argparse, with usage errors as one line that names the bad argument (status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(exitcodes.CANNOT_RUN, f"{self.prog}: {message} (see {self.prog} --help)\n")


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="syscalls", description=__doc__, epilog=EXIT_STATUS)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    sub = parser.add_subparsers(dest="command", parser_class=Parser)

    run = sub.add_parser("run", help="run the suite (on the running kernel by default)")
    run.add_argument(
        "--target",
        default="host",
        help="where to run: host (default), vm, gvisor, uml, rump, ssh://[user@]host[:port]",
    )
    run.add_argument("--platform", help="binding table: OS/ARCH or a .toml file")
    run.add_argument(
        "--out",
        type=Path,
        default=default_out(),
        help="directory for junit.xml and profile.json (default: results/ in a checkout, "
        "else in the current directory)",
    )
    run.add_argument(
        "-n",
        "--workers",
        default="auto",
        type=workers,
        help="workers forked from the collected session (syscalls.runner.pool), or 0 for "
        "one (default: auto, one per CPU and one more)",
    )
    run.add_argument(
        "--time-limit",
        type=positive,
        metavar="SECONDS",
        help="vm/gvisor/uml/ssh: limit for the whole run, boot included (default: the target's)",
    )
    run.add_argument(
        "--time-scale",
        type=positive,
        metavar="X",
        help="vm/gvisor/uml/ssh: stretch per-test time limits by X (default: the target's)",
    )
    run.add_argument(
        "--rump-dir",
        metavar="DIR",
        help="--target rump: directory with librumpuser.so, librump.so, ... (NetBSD: "
        "/usr/lib; default: $SYSCALLS_RUMP_DIR, else ../shared/rump/lib beside the checkout)",
    )
    add_vm_arguments(run)
    run.add_argument(
        "--ssh-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="--target ssh: an ssh -o option, e.g. IdentityFile=~/.ssh/lab (repeatable; "
        "$SYSCALLS_SSH: the ssh command itself, default ssh)",
    )
    add_verdict_arguments(run)
    add_ktap_argument(run)
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
    boot.add_argument("--out", type=Path, default=default_out(), help="results directory")
    boot.add_argument("--platform", help="binding table: OS/ARCH or a .toml file")
    boot.add_argument(
        "-n",
        "--workers",
        default="auto",
        type=workers,
        help="workers in the guest, forked from its collected session, or 0 for none "
        "(default: auto, the guest's CPUs and one more)",
    )
    boot.add_argument("--time-limit", type=positive, metavar="SECONDS", help="for the whole run")
    boot.add_argument("--time-scale", type=positive, metavar="X", help="stretch per-test limits")
    add_vm_arguments(boot, kernel=False)
    add_verdict_arguments(boot)
    add_ktap_argument(boot)
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
    tables.add_argument(
        "--values-from",
        type=Path,
        metavar="TABLE",
        help="BSD tree holding only syscalls.master: take errno values and constants from "
        "this earlier table of the same OS and arch (its header says so)",
    )
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
    compare.add_argument("--width", type=columns, help="terminal width (default: detected)")
    compare.set_defaults(func=cmd_compare)

    kconfig = sub.add_parser(
        "kconfig",
        help="the kernel config fragment `syscalls boot` needs; merge it into a tree",
        description="Print the kernel configuration fragment a kernel needs to boot under "
        "`syscalls boot` and run the whole suite. --merge DIR merges it into DIR/.config "
        "(a kernel tree or an O= build directory, after e.g. `make tinyconfig`) and runs "
        "`make olddefconfig`; --check names what a .config (or a config file) lacks. "
        "Exit status: 0 every option is in, 1 some requested option did not survive "
        "(named on stderr), 2 bad input (no tree, no .config, make failed).",
    )
    action = kconfig.add_mutually_exclusive_group()
    action.add_argument("--merge", type=Path, metavar="DIR", help="merge into DIR/.config")
    action.add_argument("--check", type=Path, metavar="CONFIG", help="a .config, or its dir")
    kconfig.add_argument("--arch", default="x86_64", help="ARCH for make (default: x86_64)")
    kconfig.set_defaults(func=cmd_kconfig)

    argv = sys.argv[1:] if argv is None else list(argv)
    rest: list[str] = []
    if argv[:1] == ["boot"] and "--" in argv:  # argparse cannot put "--" after KERNEL_IMAGE
        i = argv.index("--")
        argv, rest = argv[:i], argv[i + 1 :]
    args, unknown = parser.parse_known_args(argv)
    command = sub.choices.get(args.command or "", parser)
    if unknown:  # named, in one line (argparse would first complain of a missing command)
        bad = unknown[0]
        command.error(f"unknown option {bad}" if bad.startswith("-") else f"unexpected {bad!r}")
    if args.command is None:
        parser.error(f"a command is needed: {', '.join(sub.choices)}")
    if rest:
        args.pytest_args = [*args.pytest_args, *rest]
    if args.command in ("run", "boot"):
        args.out = args.out.absolute()  # the run changes directory to the suite's ROOT
        return run_with_verdict(args)
    return int(args.func(args) or 0)


EXIT_STATUS = """exit status (every command):
  0  all passed or skipped (compare: the runs agree)
  1  a test failed (compare: the runs differ, or a test is missing from one)
  2  could not run: usage error, bad input, --out unwritable or in use, target unavailable
  3  the run did not finish: target panic/hang, --time-limit, SIGINT/SIGTERM, internal
     error; finished tests kept, the profile marked incomplete"""


def workers(text: str) -> str:
    """-n/--workers: auto, or a number (0: none), checked here: a target's pytest refused
    a bad one only once the guest was up (status 3, the previous results gone)."""
    try:
        good = text == "auto" or int(text) >= 0
    except ValueError:
        good = False
    if not good:
        raise argparse.ArgumentTypeError(f"expected a number of workers or auto, not {text!r}")
    return text


def _whole(text: str, low: int, high: int, what: str) -> int:
    """An option's whole number from low to high, or argparse's error naming `what`."""
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"expected {what} from {low} to {high}, not {text!r}")
    return value


def vcpus(text: str) -> int:
    """--cpus: checked before QEMU starts, which would refuse it only then."""
    from syscalls.targets.vm import MAX_CPUS

    return _whole(text, 1, MAX_CPUS, "vCPUs")


MEMORY_MB = (128, 1 << 20)  # --memory: a guest smaller than this does not run the suite


def megabytes(text: str) -> int:
    """--memory: 0 or a negative size reached QEMU (or read as "the default")."""
    return _whole(text, *MEMORY_MB, "MiB")


def columns(text: str) -> int:
    """compare --width: the table is padded to it, so 10**9 was gigabytes of spaces."""
    from syscalls.compare import MAX_WIDTH

    return _whole(text, 1, MAX_WIDTH, "columns")


def positive(text: str) -> float:
    """--time-limit, --time-scale: a positive, finite number. A negative limit ended a run
    at once as unfinished, nan never, and 0 meant the target's own without saying so."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text!r}")
    return value


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

    absolute_paths(args)
    if args.platform:  # a bad table must not cost a kernel boot or a suite's collection
        from syscalls.abi import PlatformError
        from syscalls.kernel import load_checked

        try:
            load_checked(args.platform)
        except PlatformError as e:
            print(f"syscalls {args.command}: --platform: {e}", file=sys.stderr)
            return baseline.bisect_code(2, args.bisect)
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
        # pytest's --smoke (syscalls.collection): -m smoke's tests, others never collected
        args.pytest_args = [*args.pytest_args, "--smoke", *([] if named else smoke_files())]
    from syscalls import ktap

    dest = getattr(args, "ktap", None)
    problem = ktap.unwritable(dest) if dest else ""
    if problem:  # before the run: a bad path must not cost a kernel boot
        print(f"syscalls {args.command}: --ktap: {problem}", file=sys.stderr)
        return baseline.bisect_code(2, args.bisect)
    started = time.time_ns()
    # --ktap -: standard output is the KTAP document's alone; all else goes to stderr.
    with ktap.stdout_to_stderr() if dest == "-" else contextlib.nullcontext():
        code = int(args.func(args) or 0)
        if baselines:
            code = baseline.after_run(args.out, baselines, code)
    if dest:
        code = write_ktap(args, dest, started, code)
    return baseline.bisect_code(code, args.bisect)


def write_ktap(args: argparse.Namespace, dest: str, started: int, code: int) -> int:
    """The run's results (OUT/profile.json, and junit.xml for what only it records) as
    KTAP to `dest`; the status stays the run's unless the KTAP cannot be written."""
    from syscalls import ktap
    from syscalls.compare import InputError
    from syscalls.userfiles import OutputError

    profile, junit = args.out / "profile.json", args.out / "junit.xml"
    if not ktap.written_since(profile, started):  # none, or an earlier run's: no KTAP
        print(f"syscalls {args.command}: --ktap: the run left no results", file=sys.stderr)
        return code
    try:
        text = ktap.from_results(profile, junit if ktap.written_since(junit, started) else None)
        ktap.write(text, dest)
    except (InputError, OutputError) as e:  # each names its file
        print(f"syscalls {args.command}: --ktap: {e}", file=sys.stderr)
        return code if code not in (0, 1) else 2
    if dest != "-":
        print(f"ktap: {dest}")
    return code


def absolute_paths(args: argparse.Namespace) -> None:
    """The files a user named, from the directory they were named in: the run itself
    works from the suite's ROOT (cmd_run's chdir), where a relative --ktap, --kernel or
    --platform table would be somewhere else (or not found); main() does --out."""
    if getattr(args, "kernel", None) is not None:
        args.kernel = Path(os.path.abspath(args.kernel))
    if args.platform and args.platform.endswith(".toml"):
        args.platform = os.path.abspath(args.platform)
    if getattr(args, "ktap", None) not in (None, "-"):
        args.ktap = os.path.abspath(args.ktap)


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
    parser.add_argument(
        "--memory",
        type=megabytes,
        metavar="MB",
        help="vm: guest memory (default: 1024, and 256 more for each vCPU past 2)",
    )
    parser.add_argument(
        "--cpus",
        type=vcpus,
        metavar="N",
        help="vm: the guest's vCPUs (default: one per host CPU this command may use, "
        "at most 16); the guest runs a worker per vCPU and one more",
    )


def add_ktap_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ktap",
        metavar="FILE",
        help="also write the results as KTAP (the kernel's test format) to FILE, or to "
        "standard output with '-' (all other output then goes to standard error)",
    )


def environment_problem() -> str | None:
    """What is wrong with the environment variables a run here reads, or None.
    PYTEST_TIMEOUT=inf failed every test (the worker died arming the timer), nan failed
    each at once ("exceeded nan s"), abc ended the run as an internal error (exit 3);
    SYSCALLS_TIME_SCALE=abc made pytest's conftest fail to import."""
    text = os.environ.get("PYTEST_TIMEOUT")
    if text is not None:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value >= 0):
            return f"PYTEST_TIMEOUT={text!r}: must be a number of seconds (0: no limit)"
    try:  # read as syscalls.child is imported (already, in-process: read again)
        from syscalls import child

        child.time_scale(os.environ.get("SYSCALLS_TIME_SCALE"))
    except ValueError as e:
        return str(e)
    return None


def cmd_run(args: argparse.Namespace) -> int:
    rump_dir: Path | None = None
    destination: str | None = None
    if args.target in ("host", "rump"):  # read by this run's pytest; a target sets its own
        problem = environment_problem()
        if problem is not None:
            print(f"syscalls: {problem}", file=sys.stderr)
            return exitcodes.CANNOT_RUN
    if args.target == "rump":  # in-process: the host path below, with the rump kernel
        from syscalls.targets import rump

        try:  # --rump-dir, $SYSCALLS_RUMP_DIR or ../shared/rump/lib: one lookup, rump's
            rump_dir = rump.find_libraries(args.rump_dir)[0].parent.resolve()
        except rump.RumpUnavailable as e:  # its messages name --rump-dir or the target
            prefix = "" if str(e).startswith("--") else "--target rump: "
            print(f"syscalls: {prefix}{e}", file=sys.stderr)
            return exitcodes.CANNOT_RUN
    elif args.target != "host":
        from syscalls import targets

        if args.target == "ssh" or args.target.startswith("ssh://"):
            args.target, destination = "ssh", args.target
        if args.target not in targets.TARGETS:
            known = ", ".join(targets.TARGETS)
            print(f"syscalls: unknown target {args.target!r} (known: {known})", file=sys.stderr)
            return exitcodes.CANNOT_RUN
    # Refused before anything runs if unwritable or in use; the previous run's results go.
    try:
        with outdir.claim(args.out.resolve(), RESULTS) as out:
            if args.target in ("host", "rump"):
                return run_here(args, out, rump_dir)
            from syscalls import targets

            opts = targets.Options(
                out=out,
                pytest_args=args.pytest_args,
                workers=args.workers,
                platform=args.platform,
                time_limit=args.time_limit,
                time_scale=args.time_scale,
                kernel=args.kernel,
                accel=args.accel,
                append=args.append,
                memory_mb=args.memory,
                cpus=args.cpus,
                destination=destination,
                ssh_options=getattr(args, "ssh_option", []),
            )
            return targets.run(args.target, opts)
    except outdir.OutDirError as e:
        print(f"syscalls: {e}", file=sys.stderr)
        return exitcodes.CANNOT_RUN


def run_here(args: argparse.Namespace, out: Path, rump_dir: Path | None) -> int:
    """The suite in pytest in a child of this process (syscalls.runner.supervisor: it
    outlives a module that crashes at import), its tests in workers forked from the
    collected session (one for -n 0): the controller outlives any test, so a crash or a
    hang costs that test only."""
    import pytest

    from syscalls.runner import supervisor
    from syscalls.runner.status import STATUS_BASE, running_in

    # The whole suite unless the arguments name test paths (suites/fs, a file::test).
    named = any(
        not a.startswith("-") and (ROOT / a.split("::")[0]).exists() for a in args.pytest_args
    )
    junit, profile = (out / name for name in RESULTS)
    pytest_args = [
        *([] if named else [str(ROOT / "suites")]),
        f"--rootdir={ROOT}",
        "-q",
        f"--junitxml={junit}",
        f"--profile={profile}",
        f"--target={args.target}",
    ]
    workers = "1" if args.workers == "0" else args.workers
    # A rump kernel is threads in this process, which a fork does not take along: each
    # of xdist's workers starts its own instead.
    pytest_args += ["-n", workers] if rump_dir is not None else [f"--workers={workers}"]
    if args.time_limit:
        pytest_args.append(f"--time-limit={args.time_limit:g}")
    if args.platform:
        pytest_args.append(f"--platform={args.platform}")
    pytest_args += plugins.turned_off(args.pytest_args)
    if rump_dir is not None:
        pytest_args.append(f"--rump-dir={rump_dir}")
    pytest_args += args.pytest_args
    os.chdir(ROOT)  # conftest.py and pyproject.toml's settings live at the root
    redirect_bytecode()  # an installed suite is not written to
    # pytest-xdist makes pytest's base temp dir even when no test asks for one: keep it
    # ours and remove it, so a run leaves nothing behind (one SIGKILLed: the next run).
    own = own_dir("syscalls-run-")
    try:
        basetemp = os.path.join(own, "pytest")  # pytest empties it: the owner's note is above
        # Each test's end, as it comes: a controller that dies (a test's SIGKILL to its
        # parent) takes its reports along, and the results are rebuilt from this log.
        events = Path(own) / results.EVENTS
        argv = [*pytest_args, f"--basetemp={basetemp}", "-p", plugins.EVENTS, f"--events={events}"]
        os.environ[STATUS_BASE] = own  # the workers' status records: where each one was
        try:
            code, end = supervisor.run(argv, Path(own))
        finally:
            os.environ.pop(STATUS_BASE, None)
        if end.incomplete and not any(p.exists() for p in (junit, profile)):
            with contextlib.suppress(OSError):  # the controller died, and its reports
                running = running_in(Path(own))  # the log knows what ended
                results.salvage(out, args.target, end.incomplete, events, running)
    finally:
        removed_tree(Path(own))
    written = [str(p) for p in (junit, profile) if p.exists()]
    if written:
        print(f"results: {'  '.join(written)}")
    if end.incomplete:
        kept = "finished tests kept in the results" if written else "no results written"
        print(f"syscalls: the run did not finish: {end.incomplete}; {kept}", file=sys.stderr)
    elif code == pytest.ExitCode.NO_TESTS_COLLECTED:
        print("syscalls: no test matched the selection", file=sys.stderr)
    elif code == pytest.ExitCode.USAGE_ERROR:
        print("syscalls: pytest refused the arguments (see above)", file=sys.stderr)
    return exitcodes.from_pytest(int(code), incomplete=bool(end.incomplete), failed=end.failed)


def cmd_tables(args: argparse.Namespace) -> int:
    from syscalls.tables import TreeError, carry_values, emit, generate
    from syscalls.tables.cmacros import CompilerMissing

    try:
        emit.check_output(args.output)  # before the work: -o is as often wrong as the tree
        table = generate(args.from_tree, args.arch)
        if args.values_from is not None:
            table = carry_values(table, args.values_from)
        emit.check(table, args.from_tree)
    except (TreeError, CompilerMissing, emit.OutputError) as e:
        print(f"syscalls tables: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a file of the tree this user cannot read
        print(f"syscalls tables: {e.filename or args.from_tree}: {e.strerror}", file=sys.stderr)
        return 2
    tree = os.path.basename(os.path.normpath(args.from_tree))
    command = [
        "syscalls",
        "tables",
        "--from-tree",
        tree,
        "--arch",
        table.arch,
        *(["--values-from", str(args.values_from)] if args.values_from else []),
        "-o",
        str(args.output),
    ]
    try:
        emit.write(table, shlex.join(command), args.output)
    except emit.OutputError as e:
        print(f"syscalls tables: {e}", file=sys.stderr)
        return 2
    print(
        f"{args.output}: {table.os}/{table.arch}: {len(table.syscalls)} syscalls, "
        f"{len(table.errno)} errno, {len(table.constants)} constants"
    )
    return 0


def cmd_kconfig(args: argparse.Namespace) -> int:
    from syscalls import kconfig

    if args.merge is None and args.check is None:
        sys.stdout.write(kconfig.fragment())
        return 0
    try:
        if args.merge is not None:
            missing = kconfig.merge(args.merge, args.arch)
        else:
            missing = kconfig.check(args.check)
    except kconfig.KconfigError as e:
        print(f"syscalls kconfig: {e}", file=sys.stderr)
        return 2
    where = kconfig.config_path(args.merge or args.check)
    if missing:
        verb = "dropped by make olddefconfig" if args.merge else "lacks"
        print(f"syscalls kconfig: {where}: {verb}: {' '.join(missing)}", file=sys.stderr)
        return 1
    print(f"{where}: every option of the fragment is in")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from syscalls.abi import PlatformError
    from syscalls.inventory import render, scan
    from syscalls.kernel import load_checked

    try:
        platform = load_checked(args.platform)
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
    from syscalls.userfiles import OutputError, check_output, write_output

    if args.baseline:
        return compare_with_baseline(args)
    if len(args.runs) < 2:
        print("syscalls compare: need at least two runs to compare", file=sys.stderr)
        return 2
    try:
        if args.html:  # before the work, as every output
            check_output(args.html)
        runs = [load(path) for path in args.runs]
    except (InputError, OutputError) as e:
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

        page = render_html(comparison, show_all=args.all, ran_everywhere=everywhere)
        try:
            write_output(args.html, page.encode())
        except OutputError as e:
            print(f"syscalls compare: {e}", file=sys.stderr)
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
