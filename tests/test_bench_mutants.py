"""ci/mutants (bench/mutants.py): the catalogue of kernel mutants, putting them into a
tree, and judging a run against the baseline -- without building or booting a kernel."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from syscalls.profile import Profile

ROOT = Path(__file__).resolve().parent.parent
REAL_TREE = Path("/var/tmp/linux-source-6.1")  # read-only: only read here
TARBALL = Path("/usr/src/linux-source-6.1.tar.xz")

_spec = importlib.util.spec_from_file_location("bench_mutants", ROOT / "bench" / "mutants.py")
mutants = importlib.util.module_from_spec(_spec)
sys.modules["bench_mutants"] = mutants  # dataclasses look their module up
_spec.loader.exec_module(mutants)

# The syscall families the issue asks mutants for.
AREAS = {
    "open", "read", "lseek", "mmap", "munmap", "futex", "epoll", "pipe", "dup", "fcntl",
    "getdents", "wait", "signals", "ptrace", "clocks",
}  # fmt: skip


@pytest.fixture(scope="module")
def catalogue():
    return mutants.load_catalogue()


def test_catalogue_has_at_least_25_mutants_over_every_family(catalogue) -> None:
    assert len(catalogue.mutants) >= 25
    assert {m.area for m in catalogue.mutants} >= AREAS
    assert all(m.tests and m.edits and m.breaks for m in catalogue.mutants)


# --- the real tree: every mutant still applies to linux-source-6.1 ---------------------


@pytest.fixture(scope="module")
def real_sources(catalogue, tmp_path_factory) -> dict[str, str]:
    files = mutants.edited_files(catalogue)
    if REAL_TREE.is_dir():
        return {f: (REAL_TREE / f).read_text() for f in files}
    if not TARBALL.is_file():
        pytest.skip(f"{TARBALL} missing (Debian package linux-source-6.1; ci/setup installs it)")
    dest = tmp_path_factory.mktemp("linux")
    members = [f"linux-source-6.1/{f}" for f in files]
    subprocess.run(["tar", "-xJf", str(TARBALL), "-C", str(dest), *members], check=True)
    return {f: (dest / "linux-source-6.1" / f).read_text() for f in files}


def test_every_mutant_applies_to_linux_6_1_behind_its_own_switch(catalogue, real_sources) -> None:
    texts = mutants.mutated_sources(catalogue, real_sources)
    for m in catalogue.mutants:
        for e in m.edits:
            assert f"syscalls_mutant_is({m.id})" in texts[e.file], (m.id, e.file)
            assert "#include <linux/syscalls_mutant.h>" in texts[e.file]
    assert '__setup("syscalls_mutant="' in texts[catalogue.switch.file]
    assert "extern int syscalls_mutant;" in texts[catalogue.switch.header]
    assert not any(mutants.TOKEN.search(t) for t in texts.values())  # every MUTANT replaced


# --- a sample tree ---------------------------------------------------------------------

SWITCH = """
[boot_parameter]
header = "include/linux/syscalls_mutant.h"
header_text = "extern int syscalls_mutant;\\n"
file = "init/main.c"
text = "int syscalls_mutant;\\n"
"""

MUTANT = """
[[mutant]]
id = {id}
name = "m{id}"
area = "open"
breaks = "something"
tests = ["suites/fs/test_openat.py"]
[[mutant.edit]]
file = "fs/a.c"
find = "{find}"
replace = "{replace}"
"""


def _catalogue(tmp_path: Path, *bodies: str):
    path = tmp_path / "mutants.toml"
    path.write_text(SWITCH + "".join(bodies))
    return mutants.load_catalogue(path)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    t = tmp_path / "tree"
    (t / "fs").mkdir(parents=True)
    (t / "init").mkdir()
    (t / "include" / "linux").mkdir(parents=True)
    (t / "fs" / "a.c").write_text("#include <x.h>\nint f(void)\n{\n\treturn -EINVAL;\n}\n")
    (t / "init" / "main.c").write_text("#include <y.h>\n")
    return t


def test_apply_switches_each_edit_on_its_id_and_keeps_the_pristine_file(
    tmp_path: Path, tree: Path
) -> None:
    cat = _catalogue(tmp_path, MUTANT.format(id=7, find="return -EINVAL;",
                                             replace="return MUTANT ? 0 : -EINVAL;"))  # fmt: skip
    written = mutants.apply(cat, tree)
    assert sorted(written) == ["fs/a.c", "include/linux/syscalls_mutant.h", "init/main.c"]
    assert (tree / "fs/a.c").read_text() == (
        "#include <x.h>\n#include <linux/syscalls_mutant.h>\n"
        "int f(void)\n{\n\treturn syscalls_mutant_is(7) ? 0 : -EINVAL;\n}\n"
    )
    assert (tree / "init/main.c").read_text() == "#include <y.h>\nint syscalls_mutant;\n"
    assert (tree / mutants.STASH / "fs/a.c").read_text().endswith("\treturn -EINVAL;\n}\n")
    assert mutants.apply(cat, tree) == []  # nothing to rewrite: make rebuilds nothing


def test_apply_restores_a_file_no_mutant_edits_any_more(tmp_path: Path, tree: Path) -> None:
    pristine = (tree / "fs/a.c").read_text()
    mutants.apply(_catalogue(tmp_path, MUTANT.format(id=1, find="-EINVAL", replace="MUTANT")), tree)
    assert (tree / "fs/a.c").read_text() != pristine
    # the catalogue changes: its only mutant now edits init/main.c
    moved = MUTANT.format(id=1, find="<y.h>", replace="<y.h> /* MUTANT */")
    written = mutants.apply(_catalogue(tmp_path, moved.replace("fs/a.c", "init/main.c")), tree)
    assert sorted(written) == ["fs/a.c", "init/main.c"]
    assert (tree / "fs/a.c").read_text() == pristine
    assert not (tree / mutants.STASH / "fs/a.c").exists()
    assert (tree / "init/main.c").read_text() == (
        "#include <y.h> /* syscalls_mutant_is(1) */\nint syscalls_mutant;\n"
    )


@pytest.mark.parametrize(
    ("find", "message"),
    [("nowhere", "is not found"), ("return", "found 2 times")],
)
def test_a_mutant_whose_text_is_not_there_once_is_named(
    tmp_path: Path, tree: Path, find: str, message: str
) -> None:
    (tree / "fs/a.c").write_text("return 1; return 2;\n")
    cat = _catalogue(tmp_path, MUTANT.format(id=3, find=find, replace="MUTANT"))
    with pytest.raises(mutants.MutantsError, match=r"mutant 3 \(m3\): its text in fs/a.c"):
        mutants.apply(cat, tree)


def test_an_already_mutated_tree_without_pristine_copies_is_refused(
    tmp_path: Path, tree: Path
) -> None:
    (tree / "fs/a.c").write_text("syscalls_mutant_is(1)\n")
    cat = _catalogue(tmp_path, MUTANT.format(id=1, find="x", replace="MUTANT"))
    with pytest.raises(mutants.MutantsError, match="already mutated"):
        mutants.apply(cat, tree)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (MUTANT.format(id=1, find="a", replace="b"), "never says MUTANT"),
        (MUTANT.format(id=0, find="a", replace="MUTANT"), "'id' missing"),
        (MUTANT.format(id=1, find="a", replace="MUTANT") * 2, "two mutants with id 1"),
        (MUTANT.format(id=1, find="a", replace="MUTANT").replace("test_openat", "nope"),
         "no such test file"),
        ("[[mutant]\n", "mutants.toml"),
        ("", "no \\[\\[mutant\\]\\]"),
    ],
)  # fmt: skip
def test_bad_catalogues_are_refused_in_one_line(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(mutants.MutantsError, match=message):
        _catalogue(tmp_path, body)


# --- verdicts --------------------------------------------------------------------------

OPEN = "suites/fs/test_openat.py::test_openat_excl_on_existing_file_is_eexist"
PIPE = "suites/ipc/test_pipe.py::test_pipe_carries_bytes_in_order"
SKIP = "suites/fs/test_openat.py::test_openat_as_root_ignores_mode_bits"


def _profile(path: Path, tests: dict[str, tuple[str, list[str]]], selected=None) -> Path:
    profile = Profile("linux/x86_64", "6.1.0", "vm")
    for nodeid, (outcome, observations) in tests.items():
        profile.add(nodeid, outcome, observations)
    if selected is not None:
        profile.meta["selected"] = list(selected)
    profile.write(path)
    return path


@pytest.fixture
def baseline(tmp_path: Path):
    return mutants.load(_profile(tmp_path / "base" / "profile.json", {
        OPEN: ("passed", ["openat=ok", "openat=EEXIST"]),
        PIPE: ("passed", ["pipe2=ok"]),
        SKIP: ("skipped", []),
    }))  # fmt: skip


def _boot(tmp_path: Path, mutant: int, tests: dict, code=1, on=True, selected=None):
    out = tmp_path / f"m{mutant}"
    _profile(out / "profile.json", tests, selected)
    said = mutants.SWITCHED_ON.format(id=mutant) if on else "booted"
    (out / "console.log").write_text(f"[    0.1] {said}\n")
    return mutants.Boot(out, code, 12.5)


def _mutant(ident: int, tests=("suites/fs/test_openat.py",)):
    return mutants.Mutant(ident, f"m{ident}", "open", "breaks", tuple(tests), ())


def test_a_test_meant_for_the_mutant_that_fails_catches_it_and_shows_the_answer(
    tmp_path: Path, baseline
) -> None:
    boot = _boot(tmp_path, 1, {
        OPEN: ("failed", ["openat=ok", "openat=ok"]),
        PIPE: ("passed", ["pipe2=ok"]),
        SKIP: ("skipped", []),
    })  # fmt: skip
    v = mutants.judge(_mutant(1), baseline, boot)
    assert v.status == "caught" and v.caught
    assert [(c.nodeid, c.after, c.answer) for c in v.catches] == [
        (OPEN, "failed", "openat=EEXIST → openat=ok")
    ]


def test_only_other_tests_failing_is_a_catch_by_accident(tmp_path: Path, baseline) -> None:
    boot = _boot(tmp_path, 2, {OPEN: ("passed", ["openat=ok", "openat=EEXIST"]),
                               PIPE: ("failed", ["pipe2=EINVAL"])})  # fmt: skip
    v = mutants.judge(_mutant(2), baseline, boot)
    assert v.status == "by accident" and v.caught


def test_all_passing_is_missed_and_a_silent_console_is_not_run(tmp_path: Path, baseline) -> None:
    same = {OPEN: ("passed", ["openat=ok", "openat=EEXIST"]), PIPE: ("passed", ["pipe2=ok"])}
    assert mutants.judge(_mutant(3), baseline, _boot(tmp_path, 3, same, 0)).status == "missed"
    v = mutants.judge(_mutant(4), baseline, _boot(tmp_path, 4, same, 1, on=False))
    assert v.status == "not run" and not v.caught


def test_a_run_cut_short_counts_the_tests_it_never_reached(tmp_path: Path, baseline) -> None:
    boot = _boot(tmp_path, 5, {OPEN: ("failed", ["openat=ok"])}, code=3)
    v = mutants.judge(_mutant(5), baseline, boot)
    assert [(c.nodeid, c.after) for c in v.catches] == [(OPEN, "failed"), (PIPE, "missing")]
    assert "did not finish" in v.note
    # ...but only those it set out to run
    boot = _boot(tmp_path, 6, {OPEN: ("failed", ["openat=ok"])}, code=3, selected=[OPEN])
    assert [c.nodeid for c in mutants.judge(_mutant(6), baseline, boot).catches] == [OPEN]


def test_a_mutant_that_stops_the_suite_from_starting_is_not_run(tmp_path: Path, baseline) -> None:
    v = mutants.judge(_mutant(8), baseline, _boot(tmp_path, 8, {}, code=3))
    assert v.status == "not run" and not v.caught
    assert "breaks boot or the runner" in v.note


def test_a_changed_answer_in_a_test_that_still_passes_is_a_catch(tmp_path: Path, baseline) -> None:
    boot = _boot(tmp_path, 7, {OPEN: ("passed", ["openat=ok", "openat=EEXIST"]),
                               PIPE: ("passed", ["pipe2=EINVAL"])})  # fmt: skip
    v = mutants.judge(_mutant(7, ("suites/ipc/test_pipe.py",)), baseline, boot)
    assert v.status == "caught"
    assert [(c.after, c.answer) for c in v.catches] == [("passed", "pipe2=ok → pipe2=EINVAL")]


def test_report_has_the_table_rate_and_timings(tmp_path: Path, baseline) -> None:
    caught = mutants.judge(_mutant(1), baseline, _boot(tmp_path, 1, {OPEN: ("failed", [])}))
    same = {OPEN: ("passed", ["openat=ok", "openat=EEXIST"]), PIPE: ("passed", ["pipe2=ok"])}
    missed = mutants.judge(_mutant(2), baseline, _boot(tmp_path, 2, same, 0))
    report = mutants.write_report(
        tmp_path, [caught, missed], {"build": 360.0, "total": 500.4}, {"selection": "full"}
    )
    text = report.read_text()
    assert "1 of 2 mutants caught (50%): caught 1, by accident 0, missed 1, not run 0" in text
    assert "| 1 | open | `m1` | breaks | caught | fs/test_openat.py::" in text
    assert "| 2 | open | `m2` | breaks | missed | — |" in text
    assert "build 360, total 500" in text
    assert "Partial" not in text
    data = json.loads((tmp_path / "mutants.json").read_text())
    assert [m["status"] for m in data["mutants"]] == ["caught", "missed"]
    mutants.write_report(tmp_path, [caught], {}, {"selection": "full", "of": 2})
    assert "Partial: 1 of the 2 mutants run so far." in report.read_text()


def test_selection_modes() -> None:
    m = _mutant(1, ("suites/fs/test_openat.py", "suites/fs/test_dup.py", "suites/ipc/test_pipe.py"))
    assert m.selection("full") == m.selection("smoke") == ()  # smoke: boot's --smoke picks
    assert m.selection("area") == ("suites/fs", "suites/ipc")
    assert m.selection("files") == m.tests


def test_ci_mutants_lists_without_building_and_refuses_unknown_ids() -> None:
    p = subprocess.run([str(ROOT / "ci" / "mutants"), "--list"], capture_output=True, text=True)
    assert p.returncode == 0
    assert len(p.stdout.splitlines()) == len(mutants.load_catalogue().mutants)
    p = subprocess.run([sys.executable, str(ROOT / "bench" / "mutants.py"), "--only", "999",
                        "--list"], capture_output=True, text=True)  # fmt: skip
    assert p.returncode == 2
    assert p.stderr == "ci/mutants: no mutant with id 999\n"


def test_missing_tarball_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(mutants.MutantsError, match=r"none\.tar\.xz missing \(ci/setup"):
        mutants.unpack(tmp_path / "tree", tmp_path / "none.tar.xz")


def test_an_interrupted_run_leaves_no_process_of_its_group(tmp_path: Path) -> None:
    """A build or a QEMU run by ci/mutants dies with it: the whole process group."""
    pidfile = tmp_path / "pid"
    cmd = ["sh", "-c", f"sleep 60 & echo $! > {pidfile}; wait"]

    def interrupt() -> None:
        deadline = time.monotonic() + 10
        while not pidfile.is_file() or not pidfile.read_text().strip():
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)

    # SIGINT as an interactive Python has it, whatever this process inherited (a shell's
    # background job ignores it).
    saved = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Thread(target=interrupt, daemon=True).start()
        with pytest.raises(KeyboardInterrupt):
            mutants.run_group(cmd)
    finally:
        signal.signal(signal.SIGINT, saved)
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 10
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def test_boot_switches_the_mutant_on_and_judges_against_the_baseline(
    tmp_path: Path, monkeypatch
) -> None:
    seen: list[list[str]] = []
    monkeypatch.setattr(mutants, "run_group", lambda cmd, **_: seen.append(cmd) or 1)
    image, base = tmp_path / "bzImage", tmp_path / "base.json"
    result = mutants.boot(image, tmp_path / "m7", 7, ("suites/fs",), ["--accel=tcg"], base)
    assert result.code == 1 and (tmp_path / "m7" / "boot.log").is_file()
    mutants.boot(image, tmp_path / "b", 0, (), ["--accel=tcg"])
    with_mutant, baseline = seen
    assert with_mutant[with_mutant.index("boot") + 1] == str(image)
    assert "--append=syscalls_mutant=7" in with_mutant
    assert f"--baseline={base}" in with_mutant
    assert with_mutant[with_mutant.index("--") :] == ["--", "suites/fs"]
    assert not any(a.startswith(("--append", "--baseline")) for a in baseline)
    assert baseline[-1] == "--"  # the whole suite
