"""Bad input to the `syscalls` command, file argument by file argument: one clear line
on stderr naming the file and what is wrong, exit status 2 (README: exit status), no
traceback, nothing started and nothing left behind. Commands run in-process through
syscalls.cli.main, as the console script calls it; plain pytest in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from syscalls.cli import main

ROOT = Path(__file__).resolve().parent.parent
X86_64 = ROOT / "platforms" / "linux" / "x86_64.toml"


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run `syscalls ARGV`; its one line on stderr, after checking status 2 and that
    nothing was printed on stdout."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2, (code, out[-1000:], err[-2000:])
    assert len(lines) == 1 and "Traceback" not in err, err
    assert out == "", out[-1000:]  # nothing was run, compared or written
    return lines[0]


def bad_tables(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Each bad table of issue 9, with what its message must say."""
    made: dict[str, tuple[Path, str]] = {}

    def make(name: str, text: str, says: str) -> None:
        (tmp_path / name).mkdir()
        path = tmp_path / name / "t.toml"
        path.write_text(text)
        made[name] = (path, says)

    good = X86_64.read_text()
    head = '[platform]\nos = "linux"\narch = "x86_64"\n'
    make("os5", good.replace('os = "linux"', "os = 5", 1), "[platform] os must be")
    make("no_syscalls", head + "[errno]\nENOENT = 2\n", "no [syscalls]")
    make("string_number", good.replace("\nread = 0\n", '\nread = "0"\n', 1), "[syscalls] read must")
    make("bad_c", good.replace(head, head + 'cdef = ["bad.h"]\n', 1), "bad.h")
    (tmp_path / "bad_c" / "bad.h").write_text("struct oops { int x ;\n")
    make("bad_sibling", good, "t.h:2: duplicate declaration of struct stat")
    redeclared = "struct mine { int x; };\nstruct stat { int x; };\n"
    (tmp_path / "bad_sibling" / "t.h").write_text(redeclared)
    return made


CASES = ["os5", "no_syscalls", "string_number", "bad_c", "bad_sibling"]


@pytest.mark.parametrize("case", CASES)
def test_list_with_a_bad_table(case: str, tmp_path: Path, capsys) -> None:
    path, says = bad_tables(tmp_path)[case]
    line = refused(capsys, "list", "--platform", str(path))
    assert line.startswith(f"syscalls list: {path}") and says in line


@pytest.mark.parametrize("case", CASES)
def test_run_with_a_bad_table_runs_nothing(case: str, tmp_path: Path, capsys) -> None:
    path, says = bad_tables(tmp_path)[case]
    out = tmp_path / "out"
    argv = ["run", "-n", "0", "--out", str(out), "--platform", str(path), "suites/fs/test_dup.py"]
    line = refused(capsys, *argv)
    assert line.startswith(f"syscalls run: --platform: {path}") and says in line
    assert not (out / "junit.xml").exists() and not (out / "profile.json").exists()


def test_boot_with_a_bad_table_boots_nothing(tmp_path: Path, capsys) -> None:
    path, says = bad_tables(tmp_path)["string_number"]
    image = tmp_path / "bzImage"  # never looked at: the table is checked first
    line = refused(capsys, "boot", str(image), "--out", str(tmp_path), "--platform", str(path))
    assert line.startswith(f"syscalls boot: --platform: {path}") and says in line


@pytest.mark.parametrize("case", CASES)
def test_plain_pytest_with_a_bad_table_is_a_usage_error(case: str, tmp_path: Path) -> None:
    path, says = bad_tables(tmp_path)[case]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", f"--platform={path}", "suites/fs/test_dup.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 4  # pytest's own usage error
    assert "INTERNALERROR" not in proc.stdout + proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert proc.stderr.startswith(f"ERROR: {path}") and says in proc.stderr


# -- syscalls tables -------------------------------------------------------------------

TREE = Path("/var/tmp/linux-source-6.1")  # refused before it is read: it need not exist


@pytest.fixture
def world_tmp() -> Iterator[Path]:
    """A directory every user can reach (tmp_path is root's own, mode 0700)."""
    path = Path(tempfile.mkdtemp(prefix="syscalls-validation-"))
    path.chmod(0o755)
    yield path
    for p in (path, *path.rglob("*")):
        if p.is_dir() and not p.is_symlink():
            p.chmod(0o755)
    shutil.rmtree(path)


def as_user(*argv: str) -> subprocess.CompletedProcess[str]:
    """`syscalls ARGV` as an unprivileged user (nobody, when this is root), for what
    permissions refuse: root's writes are refused by nothing but a read-only mount."""
    prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    return subprocess.run(
        [*(prefix if os.geteuid() == 0 else []), sys.executable, "-m", "syscalls", *argv],
        cwd=ROOT,
        env={**os.environ, "HOME": "/tmp"},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def one_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("output", "says"),
    [
        ("missing/dir/t.toml", "missing/dir: no such directory"),
        ("dir.toml", "dir.toml: is a directory"),
        ("file/t.toml", "file: not a directory"),
        ("fifo.toml", "fifo.toml: not a regular file"),  # /dev/full too: never replaced
    ],
)
def test_tables_output_that_cannot_be_written(output: str, says: str, tmp_path: Path, capsys):
    (tmp_path / "dir.toml").mkdir()
    (tmp_path / "file").write_text("")
    os.mkfifo(tmp_path / "fifo.toml")
    before = sorted(p.name for p in tmp_path.iterdir())
    line = refused(capsys, "tables", "--from-tree", str(TREE), "-o", str(tmp_path / output))
    assert line.startswith("syscalls tables: ") and says in line
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no .tmp left


def test_tables_into_a_directory_this_user_cannot_write(world_tmp: Path) -> None:
    (world_tmp / "ro").mkdir(mode=0o555)
    line = one_line(as_user("tables", "--from-tree", str(TREE), "-o", f"{world_tmp}/ro/t.toml"))
    assert line == f"syscalls tables: {world_tmp}/ro: cannot write here (permission denied)"
    assert list((world_tmp / "ro").iterdir()) == []


def test_tables_from_a_tree_that_is_a_file_or_unreadable(world_tmp: Path, capsys) -> None:
    (world_tmp / "file").write_text("")
    line = refused(capsys, "tables", "--from-tree", f"{world_tmp}/file", "-o", f"{world_tmp}/t")
    assert line == f"syscalls tables: {world_tmp}/file: not a directory"
    (world_tmp / "locked").mkdir(mode=0o700)  # root's: nobody may look inside
    if os.geteuid() != 0:
        (world_tmp / "locked").chmod(0)
    (world_tmp / "out").mkdir()
    (world_tmp / "out").chmod(0o777)
    proc = as_user("tables", "--from-tree", f"{world_tmp}/locked", "-o", f"{world_tmp}/out/t")
    assert one_line(proc).startswith(f"syscalls tables: {world_tmp}/locked/")
    assert proc.stderr.strip().endswith("Permission denied")


# -- syscalls compare --html -----------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "says"), [("missing/c.html", "missing: no such directory"), ("dir", "is a directory")]
)
def test_compare_html_that_cannot_be_written_stops_before_comparing(
    html: str, says: str, tmp_path: Path, capsys
) -> None:
    profile = tmp_path / "p.json"
    doc = {"format": 1, "platform": "linux/x86_64", "kernel": "6.1", "tests": {}}
    profile.write_text(json.dumps(doc))
    (tmp_path / "dir").mkdir()
    line = refused(capsys, "compare", str(profile), str(profile), "--html", str(tmp_path / html))
    assert line.startswith("syscalls compare: ") and says in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "p.json"]


# -- plain pytest: --junitxml and --profile ----------------------------------------------


@pytest.mark.parametrize("option", ["--junitxml", "--profile"])
def test_pytest_results_that_cannot_be_written_are_refused_before_any_test(
    option: str, tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", f"{option}={tmp_path}/file/sub/r.xml", "suites/fs"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 4, proc.stdout[-2000:]  # pytest's usage error, no test run
    assert proc.stderr.strip() == f"ERROR: {option}: {tmp_path}/file: not a directory"
    assert "passed" not in proc.stdout


def test_pytest_results_in_a_directory_this_user_cannot_write(world_tmp: Path) -> None:
    (world_tmp / "ro").mkdir(mode=0o555)
    prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    proc = subprocess.run(
        [
            *(prefix if os.geteuid() == 0 else []),
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            f"--junitxml={world_tmp}/ro/new/j.xml",
            "suites/fs/test_dup.py",
        ],
        cwd=ROOT,
        env={**os.environ, "HOME": "/tmp"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 4, proc.stdout[-2000:]
    assert (
        proc.stderr.strip()
        == f"ERROR: --junitxml: {world_tmp}/ro: cannot write here (permission denied)"
    )


# -- relative paths: the user's, not the checkout's ----------------------------------------


def test_relative_out_ktap_and_table_are_taken_from_where_the_user_is(tmp_path: Path) -> None:
    shutil.copy(X86_64, tmp_path / "mine.toml")
    argv = ["-n", "0", "--out", "res", "--ktap", "k.ktap", "--platform", "mine.toml"]
    proc = subprocess.run(
        [sys.executable, "-m", "syscalls", "run", *argv, "--", "suites/fs/test_dup.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert (tmp_path / "res" / "profile.json").is_file() and (tmp_path / "k.ktap").is_file()
    assert not (ROOT / "res").exists() and not (ROOT / "k.ktap").exists()


# -- syscalls kconfig --check, --merge -------------------------------------------------


def test_kconfig_check_of_a_file_that_is_no_config(tmp_path: Path, capsys) -> None:
    config = tmp_path / "config"
    config.write_bytes(b"CONFIG_X=y\n\xff\xfe\x00")
    line = refused(capsys, "kconfig", "--check", str(config))
    assert (
        line == f"syscalls kconfig: {config}: not a kernel configuration (not UTF-8 text, byte 11)"
    )


def test_kconfig_check_of_a_config_this_user_cannot_read(world_tmp: Path) -> None:
    (world_tmp / "config").write_text("CONFIG_X=y\n")
    (world_tmp / "config").chmod(0o600 if os.geteuid() == 0 else 0)  # root's own
    line = one_line(as_user("kconfig", "--check", f"{world_tmp}/config"))
    assert line == f"syscalls kconfig: {world_tmp}/config: Permission denied"


def test_kconfig_merge_into_a_config_this_user_cannot_write(world_tmp: Path) -> None:
    tree = world_tmp / "tree"  # make is never reached: the merge cannot be written
    tree.mkdir()
    (tree / "Makefile").write_text("olddefconfig:\n")
    (tree / ".config").write_text("CONFIG_X=y\n")
    (tree / ".config").chmod(0o444)
    tree.chmod(0o555)
    line = one_line(as_user("kconfig", "--merge", str(tree)))
    assert line == f"syscalls kconfig: {tree}: cannot write here (permission denied)"
    assert (tree / ".config").read_text() == "CONFIG_X=y\n"


# -- option values ---------------------------------------------------------------------


@pytest.mark.parametrize("value", ["-5", "0", "nan", "inf", "1e400", "ten"])
@pytest.mark.parametrize("option", ["--time-limit", "--time-scale"])
@pytest.mark.parametrize("command", ["run", "boot"])
def test_a_time_that_is_not_a_positive_number(
    command: str, option: str, value: str, tmp_path: Path, capsys
) -> None:
    """A negative --time-limit ended a host run at once as unfinished (status 3), nan
    never ended a target's; each would have cost a kernel boot first."""
    image = [str(tmp_path / "bzImage")] if command == "boot" else []  # never looked at
    argv = [command, *image, "--out", str(tmp_path / "out"), option, value]
    with pytest.raises(SystemExit) as stopped:  # argparse's error, before anything runs
        main([*argv, "suites/fs/test_dup.py"])
    out, err = capsys.readouterr()
    assert stopped.value.code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"syscalls {command}: argument {option}: ") and repr(value) in err


@pytest.mark.parametrize(
    ("variable", "value"),
    [("PYTEST_TIMEOUT", v) for v in ("abc", "inf", "nan", "-1")]
    + [("SYSCALLS_TIME_SCALE", v) for v in ("abc", "0", "-2", "nan", "inf")],
)
def test_a_run_refuses_an_environment_variable_it_reads_that_is_not_a_number(
    variable: str, value: str, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PYTEST_TIMEOUT=inf failed every test, nan each at once, abc ended the run as an
    internal error (status 3); SYSCALLS_TIME_SCALE=0 or nan failed ten tests of openat
    alone (every child's wait spent at once), abc failed pytest's conftest import."""
    monkeypatch.setenv(variable, value)
    out = tmp_path / "out"
    line = refused(capsys, "run", "--out", str(out), "--", "suites/fs/test_dup.py")
    assert line.startswith(f"syscalls: {variable}={value!r}: must be"), line
    assert not out.exists()


@pytest.mark.parametrize("value", ["abc", "-1", "", "1e3", "AUTO"])
@pytest.mark.parametrize("command", [["run", "--target", "gvisor"], ["boot", "bzImage"]])
def test_a_worker_count_that_is_not_one(command: list[str], value: str, tmp_path: Path, capsys):
    """Refused here, not by the guest's pytest once the target was up (status 3)."""
    with pytest.raises(SystemExit) as stopped:
        main([*command, "--out", str(tmp_path / "out"), "-n", value, "suites/fs/test_dup.py"])
    out, err = capsys.readouterr()
    assert stopped.value.code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"syscalls {command[0]}: argument -n/--workers: ") and repr(value) in err


@pytest.mark.parametrize(
    ("option", "value"),
    [("--cpus", v) for v in ("0", "-2", "65", "1.5", "two", "")]
    + [("--memory", v) for v in ("0", "-512", "64", "1.5", "1G", str(1 << 21))],
)
@pytest.mark.parametrize("command", [["run", "--target", "vm"], ["boot", "bzImage"]])
def test_a_vcpu_count_or_memory_size_that_is_not_one(
    command: list[str], option: str, value: str, tmp_path: Path, capsys
):
    """Refused before a kernel is looked at: QEMU would have said so only once started,
    and --memory 0 read as the default."""
    with pytest.raises(SystemExit) as stopped:
        main([*command, "--out", str(tmp_path / "out"), option, value, "suites/fs/test_dup.py"])
    out, err = capsys.readouterr()
    assert stopped.value.code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"syscalls {command[0]}: argument {option}: ") and repr(value) in err
