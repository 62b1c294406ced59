"""The `syscalls` command line: run and tables, as a user types them."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def syscalls(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "syscalls", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_run_writes_junit_and_profile_for_the_named_tests(tmp_path: Path) -> None:
    out = tmp_path / "out"
    p = syscalls(
        "run", "-n", "0", "--out", str(out), "--", "suites/fs/test_openat.py", cwd=tmp_path
    )  # from anywhere: the suite is found from the package
    assert p.returncode == 0, p.stdout[-2000:]
    profile = json.loads((out / "profile.json").read_text())
    assert profile["tests"]
    assert all(k.startswith("suites/fs/test_openat.py::") for k in profile["tests"])
    assert (out / "junit.xml").read_text().startswith("<?xml")
    assert "results by area" in p.stdout


def test_run_with_an_unknown_target_is_a_usage_error(tmp_path: Path) -> None:
    p = syscalls("run", "--target", "nonsense", "--out", str(tmp_path))
    assert p.returncode == 2
    assert "nonsense" in p.stderr


def test_tables_from_a_directory_that_is_no_kernel_tree(tmp_path: Path) -> None:
    p = syscalls("tables", "--from-tree", str(tmp_path), "-o", str(tmp_path / "t.toml"))
    assert p.returncode == 2
    assert "not a kernel source tree" in p.stderr
    assert not (tmp_path / "t.toml").exists()


@pytest.mark.parametrize(
    ("argv", "bad"),
    [
        (["--bogus"], "unknown option --bogus"),
        (["run", "--bogus"], "unknown option --bogus"),
        (["compare", "--frob", "a.json", "b.json"], "unknown option --frob"),
        (["tables", "--from-tree", "x", "-o", "y", "stray"], "unexpected 'stray'"),
        (["frob"], "invalid choice: 'frob'"),
        ([], "a command is needed: run, boot, tables, list, compare"),
    ],
)
def test_a_usage_error_is_one_line_naming_what_is_wrong(argv: list[str], bad: str) -> None:
    p = syscalls(*argv)
    assert p.returncode == 2
    assert p.stdout == ""
    [line] = p.stderr.splitlines()
    assert line.startswith("syscalls") and bad in line


def test_help_lists_the_exit_statuses() -> None:
    p = syscalls("--help")
    assert p.returncode == 0
    for code in ("0  all passed", "1  a test failed", "2  could not run", "3  the run did"):
        assert code in p.stdout


def test_run_takes_a_relative_out_from_where_it_was_typed(tmp_path: Path) -> None:
    # The run changes directory to the suite's root: --out must not follow it there.
    p = syscalls("run", "-n", "0", "--out", "mine", "--", "suites/fs/test_getcwd.py", cwd=tmp_path)
    assert p.returncode == 0, p.stdout[-2000:]
    assert (tmp_path / "mine" / "junit.xml").is_file()
    assert (tmp_path / "mine" / "profile.json").is_file()
    assert not (ROOT / "mine").exists()


@pytest.mark.parametrize(
    ("args", "off"),
    [
        ([], ["hypothesispytest", "logging"]),
        (["-k", "openat"], ["hypothesispytest", "logging"]),
        (["-o", "junit_logging=all"], ["hypothesispytest", "logging"]),  # JUnit's, not logging's
        (["--log-level=DEBUG"], ["hypothesispytest"]),
        (["-o", "log_cli=true"], ["hypothesispytest"]),
        (["-p", "logging"], ["hypothesispytest"]),
        (["--hypothesis-show-statistics"], ["logging"]),
    ],
)
def test_run_turns_off_the_plugins_the_suites_do_not_use_unless_asked(
    args: list[str], off: list[str]
) -> None:
    from syscalls.plugins import turned_off

    assert turned_off(args) == [x for name in off for x in ("-p", f"no:{name}")]


def test_run_with_log_options_still_accepts_them(tmp_path: Path) -> None:
    p = syscalls(
        "run", "-n", "0", "--out", str(tmp_path), "--", "suites/fs/test_openat.py",
        "--log-level=INFO", "-o", "log_cli=false",
    )  # fmt: skip
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
