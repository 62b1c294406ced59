#!/usr/bin/env python3
"""Mutation testing of the kernel: how many small, realistic syscall regressions the
suite catches. Run through `ci/mutants` (not part of .ci/run: it builds a kernel and
boots it once per mutant).

    ci/mutants                          build, baseline, every mutant; table in --out
    ci/mutants --only 1,7,21            some mutants
    ci/mutants --selection files        per mutant only the test files meant to catch it
                                        (default: the whole suite, ~1.5 min a boot)
    ci/mutants --selection smoke        per mutant the smoke selection: what it catches
    ci/mutants --only 7 --baseline results/mutants/baseline/profile.json   reuse a baseline
    ci/mutants --list                   the mutants, without building anything
    ci/mutants --apply-only --tree DIR  put the mutants into a tree and stop

The mutants live in ci/mutants.toml, each switched on by the boot parameter
`syscalls_mutant=ID`, so ONE kernel build (linux-source-6.1, tinyconfig plus
`syscalls kconfig`) serves all of them, and the same image booted without the
parameter is the unmutated kernel: the baseline (the whole suite, once). Each mutant is
booted under `syscalls boot --append syscalls_mutant=ID --baseline BASELINE`, and the
tests that verdict calls worse caught it: one that passed and now fails, errors or never
ran (the kernel died), or a passing test whose syscall answered differently. It is
caught on purpose when one of them is in the files the catalogue names for it, by
accident when only other tests noticed. The console must say the mutant was switched
on, or the run does not count.

Writes into --out (default results/mutants/): mutants.md (the table, the detection
rate and the timings), mutants.json, and per run its `syscalls boot` results directory.
Exit status: 0 done; 1 the detection rate is below --require; 2 bad input (catalogue,
tree, a mutant that no longer applies, a build that failed, a baseline that did not
finish); 3 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: the syscalls package beside it

from syscalls import baseline as regressions  # noqa: E402
from syscalls import kconfig  # noqa: E402
from syscalls.runs import InputError, Run, load  # noqa: E402

CATALOGUE = ROOT / "ci" / "mutants.toml"
TARBALL = Path("/usr/src/linux-source-6.1.tar.xz")
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "syscalls"
DEFAULT_TREE = CACHE / "mutants" / "linux-6.1"
STASH = ".syscalls-mutants"  # in the tree: the pristine copy of every file we edit
UNPACKED = ".syscalls-unpacked"  # stamp: the tarball was unpacked completely
TOKEN = re.compile(r"\bMUTANT\b")
SWITCHED_ON = "syscalls_mutant={id}: mutant switched on"
ARCH = "x86_64"
IMAGE = Path("arch/x86/boot/bzImage")
STOPS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # each ends the run, cleaning up


class MutantsError(Exception):
    """Bad catalogue, tree or build; the message is one line."""


@dataclass(frozen=True)
class Edit:
    file: str
    find: str
    replace: str


@dataclass(frozen=True)
class Mutant:
    id: int
    name: str
    area: str
    breaks: str
    tests: tuple[str, ...]
    edits: tuple[Edit, ...]

    def selection(self, mode: str) -> tuple[str, ...]:
        """pytest paths to run with this mutant on: its test files, their directories,
        or () for the whole suite (or the smoke selection, which boot's --smoke picks)."""
        if mode == "files":
            return self.tests
        if mode == "area":
            return tuple(sorted({str(Path(t).parent) for t in self.tests}))
        return ()

    def meant_for(self, nodeid: str) -> bool:
        return nodeid.split("::")[0] in self.tests


@dataclass(frozen=True)
class Switch:
    """The boot parameter: a header declaring it, and its parser appended to a file."""

    header: str
    header_text: str
    file: str
    text: str


@dataclass(frozen=True)
class Catalogue:
    switch: Switch
    mutants: tuple[Mutant, ...]


def _field(table: Mapping, key: str, kind: type, where: str):
    value = table.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) or value in ("", [], 0):
        raise MutantsError(f"{where}: {key!r} missing or not a {kind.__name__}")
    return value


def load_catalogue(path: Path = CATALOGUE) -> Catalogue:
    try:
        data = tomllib.loads(path.read_text())
    except OSError as e:
        raise MutantsError(f"{path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise MutantsError(f"{path}: {e}") from None
    sw = data.get("boot_parameter")
    if not isinstance(sw, dict):
        raise MutantsError(f"{path}: no [boot_parameter] table")
    where = f"{path}: [boot_parameter]"
    switch = Switch(*(_field(sw, k, str, where) for k in ("header", "header_text", "file", "text")))
    mutants: list[Mutant] = []
    for i, m in enumerate(data.get("mutant", [])):
        where = f"{path}: mutant #{i + 1}"
        ident = _field(m, "id", int, where)
        where = f"{path}: mutant {ident}"
        edits = []
        for e in _field(m, "edit", list, where):
            edit = Edit(*(_field(e, k, str, f"{where} edit") for k in ("file", "find", "replace")))
            if not TOKEN.search(edit.replace):
                raise MutantsError(f"{where}: an edit of {edit.file} never says MUTANT")
            edits.append(edit)
        tests = tuple(_field(m, "tests", list, where))
        if missing := [t for t in tests if not (ROOT / t).is_file()]:
            raise MutantsError(f"{where}: no such test file {missing[0]}")
        mutants.append(
            Mutant(
                id=ident,
                name=_field(m, "name", str, where),
                area=_field(m, "area", str, where),
                breaks=_field(m, "breaks", str, where),
                tests=tests,
                edits=tuple(edits),
            )
        )
    if not mutants:
        raise MutantsError(f"{path}: no [[mutant]]")
    for key in ("id", "name"):
        seen: set = set()
        for m in mutants:
            if getattr(m, key) in seen:
                raise MutantsError(f"{path}: two mutants with {key} {getattr(m, key)!r}")
            seen.add(getattr(m, key))
    if any(m.id < 1 for m in mutants):
        raise MutantsError(f"{path}: ids start at 1 (0 is the unmutated kernel)")
    return Catalogue(switch, tuple(sorted(mutants, key=lambda m: m.id)))


# --- sources -------------------------------------------------------------------------


def _include(text: str, header: str) -> str:
    """The text with `#include <header>` after its first #include line."""
    line = f"#include <{header.removeprefix('include/')}>\n"
    i = text.find("#include")
    if i < 0:
        return line + text
    end = text.index("\n", i) + 1
    return text[:end] + line + text[end:]


def edited_files(catalogue: Catalogue) -> list[str]:
    files = dict.fromkeys(e.file for m in catalogue.mutants for e in m.edits)
    files[catalogue.switch.file] = None
    return list(files)


def mutated_sources(catalogue: Catalogue, originals: Mapping[str, str]) -> dict[str, str]:
    """Every file the catalogue changes (and the switch's header), as it must read: the
    edits applied in id order, each of them to a text in which its `find` occurs once."""
    sw = catalogue.switch
    texts = dict(originals)
    for m in catalogue.mutants:
        for e in m.edits:
            n = texts[e.file].count(e.find)
            if n != 1:
                state = "not found" if n == 0 else f"found {n} times"
                raise MutantsError(f"mutant {m.id} ({m.name}): its text in {e.file} is {state}")
            switched = TOKEN.sub(f"syscalls_mutant_is({m.id})", e.replace)
            texts[e.file] = texts[e.file].replace(e.find, switched)
    for file in {e.file for m in catalogue.mutants for e in m.edits} - {sw.file}:
        texts[file] = _include(texts[file], sw.header)
    texts[sw.file] = texts[sw.file] + sw.text
    texts[sw.header] = sw.header_text.lstrip("\n")
    return texts


def apply(catalogue: Catalogue, tree: Path) -> list[str]:
    """Put the catalogue's mutants into `tree`, keeping each edited file's pristine copy
    in tree/.syscalls-mutants (files no longer edited go back to it). Only files whose
    text changes are written, so make rebuilds only those. Returns the files written."""
    stash = tree / STASH
    wanted = edited_files(catalogue)
    originals: dict[str, str] = {}
    for file in wanted:
        kept = stash / file
        if not kept.is_file():
            source = tree / file
            if not source.is_file():
                raise MutantsError(f"{tree}: no {file} (not a linux-source-6.1 tree?)")
            text = source.read_text()
            if "syscalls_mutant" in text:
                raise MutantsError(f"{source}: already mutated, and no pristine copy kept")
            kept.parent.mkdir(parents=True, exist_ok=True)
            kept.write_text(text)
        originals[file] = kept.read_text()
    texts = mutated_sources(catalogue, originals)
    for kept in sorted(p for p in stash.rglob("*") if p.is_file()) if stash.is_dir() else []:
        file = str(kept.relative_to(stash))
        if file not in wanted:  # a mutant removed from the catalogue: back to pristine
            texts[file] = kept.read_text()
            kept.unlink()
    written = []
    for file, text in texts.items():
        path = tree / file
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
            written.append(file)
    return written


# --- build ---------------------------------------------------------------------------


def unpack(tree: Path, tarball: Path = TARBALL) -> None:
    if (tree / UNPACKED).is_file():
        return
    if not tarball.is_file():
        raise MutantsError(f"{tarball} missing (ci/setup installs linux-source-6.1)")
    print(f"ci/mutants: unpacking {tarball} into {tree}", flush=True)
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir(parents=True)
    subprocess.run(
        ["tar", "-xJf", str(tarball), "-C", str(tree), "--strip-components=1"], check=True
    )
    (tree / UNPACKED).touch()


def build(tree: Path, log: Path) -> Path:
    """tinyconfig + the `syscalls kconfig` fragment, then bzImage; its path."""
    with log.open("a") as out:

        def make(*args: str) -> None:
            cmd = ["make", "-C", str(tree), f"ARCH={ARCH}", *args]
            if run_group(cmd, stdout=out, stderr=subprocess.STDOUT) != 0:
                raise MutantsError(f"`{' '.join(cmd)}` failed; see {log}")

        make("-s", "tinyconfig")
        dropped = kconfig.merge(tree, ARCH)
        if dropped:
            raise MutantsError(f"{tree}: olddefconfig dropped {' '.join(dropped)}")
        make("-s", f"-j{os.cpu_count() or 1}", "bzImage")
    return tree / IMAGE


def run_group(cmd: Sequence[str], **kwargs) -> int:
    """Run cmd in its own process group; the group is killed if we are interrupted, so a
    build or a QEMU never outlives this script. An interrupt that comes while the child
    is being started is held until its pid is known."""
    held: list[int] = []
    main = threading.current_thread() is threading.main_thread()
    saved = {s: signal.signal(s, lambda n, _: held.append(n)) for s in STOPS} if main else {}
    try:
        proc = subprocess.Popen(cmd, start_new_session=True, **kwargs)
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)
    try:
        if held:
            raise KeyboardInterrupt
        return proc.wait()
    except BaseException:
        # SIGINT first: `syscalls boot` then stops its QEMU (in a process group of its
        # own) and keeps what finished; a SIGTERM'd boot leaves its QEMU running.
        # Then SIGTERM and SIGKILL for whatever of the group is left (a shell's
        # background jobs ignore SIGINT), until the group is empty.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=20)
        raise


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


# --- runs and verdicts ---------------------------------------------------------------


@dataclass
class Boot:
    out: Path
    code: int
    seconds: float


def boot(
    image: Path,
    out: Path,
    mutant: int,
    selection: Sequence[str],
    extra: Sequence[str],
    baseline: Path | None = None,
) -> Boot:
    """`syscalls boot` with the mutant switched on (0: none), results into `out`, judged
    against the baseline profile when one is given (its verdict in boot.log)."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    cmd = [sys.executable, "-m", "syscalls", "boot", str(image), "--out", str(out), *extra]
    if mutant:
        cmd.append(f"--append=syscalls_mutant={mutant}")
    if baseline is not None:
        cmd.append(f"--baseline={baseline}")
    cmd += ["--", *selection]
    start = time.monotonic()
    with (out / "boot.log").open("w") as log:
        code = run_group(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    return Boot(out, code, time.monotonic() - start)


@dataclass
class Catch:
    """One test that got worse with the mutant on."""

    nodeid: str
    before: str
    after: str
    answer: str = ""  # the answers that changed: "openat=EEXIST → openat=ok"


@dataclass
class Verdict:
    mutant: int
    name: str
    area: str
    breaks: str
    status: str  # caught | by accident | missed | not run
    note: str = ""
    catches: list[Catch] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def caught(self) -> bool:
        return self.status in ("caught", "by accident")


CAUGHT, ACCIDENT, MISSED, NOT_RUN = "caught", "by accident", "missed", "not run"


def judge(m: Mutant, baseline: Run, result: Boot) -> Verdict:
    """What `syscalls boot --baseline` calls worse in this mutant's run (a test that
    passed and fails, errors or is missing, a changed answer in a passing test), and
    whether a test meant for the mutant is among them."""
    v = Verdict(m.id, m.name, m.area, m.breaks, MISSED, seconds=result.seconds)
    console = result.out / "console.log"
    text = console.read_text(errors="replace") if console.is_file() else ""
    if SWITCHED_ON.format(id=m.id) not in text:
        v.status, v.note = NOT_RUN, "the console never said the mutant was switched on"
        return v
    try:
        run = load(result.out / "profile.json")
    except InputError as e:
        v.status, v.note = NOT_RUN, f"no results: {e}"
        return v
    if result.code == 3 and not run.tests:
        v.status, v.note = NOT_RUN, "the suite never started: the mutant breaks boot or the runner"
        return v
    worse = regressions.judge([baseline], run).of(regressions.WORSE)
    v.catches = [
        Catch(c.nodeid, c.old, c.new, "; ".join(str(a) for a in c.answers[:2])) for c in worse
    ]
    v.catches.sort(key=lambda c: not m.meant_for(c.nodeid))  # the tests meant for it first
    if result.code == 3:
        v.note = "the run did not finish (panic, hang or time limit): see console.log"
    if v.catches:
        v.status = CAUGHT if any(m.meant_for(c.nodeid) for c in v.catches) else ACCIDENT
    return v


# --- report --------------------------------------------------------------------------


def _short(nodeid: str) -> str:
    return nodeid.removeprefix("suites/")


def table(verdicts: Sequence[Verdict]) -> str:
    lines = [
        "| id | area | mutant | what it breaks | caught? "
        "| by which tests (outcome: the answers that changed) |",
        "|---:|---|---|---|---|---|",
    ]
    for v in verdicts:
        shown = [
            _short(c.nodeid) + (f" ({c.after}: {c.answer})" if c.answer else f" ({c.after})")
            for c in v.catches[:3]
        ]
        if len(v.catches) > 3:
            shown.append(f"and {len(v.catches) - 3} more")
        by = "; ".join(shown) or v.note or "—"
        status = v.status + (" (run did not finish)" if v.note and v.catches else "")
        cells = (str(v.mutant), v.area, f"`{v.name}`", v.breaks, status, by)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def summary(verdicts: Sequence[Verdict]) -> str:
    n = len(verdicts)
    counts = {s: sum(v.status == s for v in verdicts) for s in (CAUGHT, ACCIDENT, MISSED, NOT_RUN)}
    caught = counts[CAUGHT] + counts[ACCIDENT]
    rate = 100.0 * caught / n if n else 0.0
    parts = ", ".join(f"{k} {c}" for k, c in counts.items())
    return f"{caught} of {n} mutants caught ({rate:.0f}%): {parts}"


def rate(verdicts: Sequence[Verdict]) -> float:
    return 100.0 * sum(v.caught for v in verdicts) / len(verdicts) if verdicts else 0.0


def write_report(
    out: Path, verdicts: Sequence[Verdict], timings: Mapping[str, float], settings: Mapping
) -> Path:
    lines = [
        "# Kernel mutants: what the suite catches",
        "",
        f"Kernel: linux-source-6.1, tinyconfig + `syscalls kconfig`, one build with every "
        f"mutant behind `syscalls_mutant=ID`. Selection per mutant: {settings['selection']}. "
        f"Baseline: the same image without the parameter.",
        "",
        *(
            []
            if len(verdicts) == settings.get("of", len(verdicts))
            else [f"Partial: {len(verdicts)} of the {settings['of']} mutants run so far.", ""]
        ),
        summary(verdicts),
        "",
        table(verdicts),
        "Timings (wall clock, seconds): " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()),
        "",
    ]
    report = out / "mutants.md"
    report.write_text("\n".join(lines))
    data = {
        "settings": dict(settings),
        "timings": dict(timings),
        "summary": summary(verdicts),
        "mutants": [asdict(v) for v in verdicts],
    }
    (out / "mutants.json").write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    return report


# --- main ----------------------------------------------------------------------------


def _ids(text: str) -> set[int]:
    try:
        return {int(x) for x in text.split(",") if x.strip()}
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of mutant ids: {text!r}") from None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="ci/mutants", description=__doc__.split("\n\n")[0])
    p.add_argument("--catalogue", type=Path, default=CATALOGUE, help=argparse.SUPPRESS)
    p.add_argument("--tree", type=Path, default=DEFAULT_TREE, help=f"build tree ({DEFAULT_TREE})")
    p.add_argument("--out", type=Path, default=ROOT / "results" / "mutants")
    p.add_argument("--only", type=_ids, metavar="ID,ID", help="just these mutants")
    p.add_argument(
        "--selection",
        choices=("full", "files", "area", "smoke"),
        default="full",
        help="per mutant: the whole suite (default), its test files, their directories, "
        "or the smoke selection (syscalls boot --smoke)",
    )
    p.add_argument("--no-build", action="store_true", help="boot the tree's existing bzImage")
    p.add_argument(
        "--baseline",
        type=Path,
        metavar="PROFILE",
        help="a profile of this image without any mutant, from an earlier run (default: run it)",
    )
    p.add_argument("--apply-only", action="store_true", help="mutate the tree and stop")
    p.add_argument("--list", action="store_true", help="list the mutants and stop")
    p.add_argument("--accel", default="tcg", choices=("auto", "kvm", "tcg"))
    p.add_argument(
        "--time-limit",
        type=float,
        default=600,
        metavar="SECONDS",
        help="per mutant's boot, passed to syscalls boot: a mutant that hangs a test "
        "(a blocking write that should not block) ends there (default: 600)",
    )
    p.add_argument("--require", type=float, metavar="PCT", help="exit 1 below this rate")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    for s in STOPS[1:]:  # like ^C: the running build or QEMU group is killed on the way out
        signal.signal(s, _interrupted)
    try:
        return _main(args)
    except MutantsError as e:
        print(f"ci/mutants: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ci/mutants: interrupted", file=sys.stderr)
        return 3


def _main(args: argparse.Namespace) -> int:
    catalogue = load_catalogue(args.catalogue)
    mutants = [m for m in catalogue.mutants if args.only is None or m.id in args.only]
    if args.only and (unknown := args.only - {m.id for m in mutants}):
        raise MutantsError(f"no mutant with id {min(unknown)}")
    if args.list:
        for m in mutants:
            print(f"{m.id:3} {m.area:9} {m.name:40} {m.breaks}")
        return 0
    tree = args.tree.resolve()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    timings: dict[str, float] = {}
    unpack(tree)
    written = apply(catalogue, tree)  # always the whole catalogue: one build for all
    print(f"ci/mutants: {len(catalogue.mutants)} mutants in {tree} ({len(written)} files changed)")
    if args.apply_only:
        return 0
    image = tree / IMAGE
    if not args.no_build:
        t = time.monotonic()
        print("ci/mutants: building (tinyconfig + syscalls kconfig)", flush=True)
        image = build(tree, out / "build.log")
        timings["build"] = time.monotonic() - t
    if not image.is_file():
        raise MutantsError(f"{image}: no kernel image (build without --no-build)")
    extra = [f"--accel={args.accel}", f"--time-limit={args.time_limit:g}"]
    # One baseline: the whole suite on the image without the parameter; each mutant's
    # run is judged on the tests it selected.
    if args.baseline is None:
        result = boot(image, out / "baseline", 0, (), extra)
        timings["baseline"] = result.seconds
        if result.code not in (0, 1):
            raise MutantsError(f"the baseline run did not finish (exit {result.code})")
        print(f"ci/mutants: baseline: exit {result.code} in {result.seconds:.0f} s", flush=True)
    try:
        base_profile = args.baseline or result.out / "profile.json"
        baseline = load(base_profile)
    except InputError as e:
        raise MutantsError(f"no baseline: {e}") from None
    settings = {"selection": args.selection, "accel": args.accel, "tree": str(tree)}
    verdicts: list[Verdict] = []
    for m in mutants:
        selection = m.selection(args.selection)
        smoke = ["--smoke"] if args.selection == "smoke" else []
        result = boot(
            image, out / f"mutant-{m.id:02}", m.id, selection, [*extra, *smoke], base_profile
        )
        v = judge(m, baseline, result)
        verdicts.append(v)
        by = ", ".join(_short(c.nodeid) for c in v.catches[:2]) or v.note
        print(f"ci/mutants: {m.id:3} {m.name}: {v.status} in {v.seconds:.0f} s  {by}", flush=True)
        timings["mutants"] = sum(v.seconds for v in verdicts)
        timings["total"] = time.monotonic() - started
        # after each mutant: an interrupted run keeps the table of what it finished
        report = write_report(out, verdicts, timings, {**settings, "of": len(mutants)})
    print(summary(verdicts))
    print(f"ci/mutants: table in {report}")
    if args.require is not None and rate(verdicts) < args.require:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
