"""Helpers for the tests of the runner: `syscalls run` or pytest in a session of its own
(so a hung run is killed whole, daemons aside), survivors found by an environment
marker, and the results read back."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from syscalls.profile import Profile
from tests.target_checks import junit_outcomes

ROOT = Path(__file__).resolve().parent.parent
FILE = "suites/fs/test_openat.py"  # a real suite file of quick tests
A = f"{FILE}::test_openat_missing_file_is_enoent"
B = f"{FILE}::test_openat_excl_on_existing_file_is_eexist"
C = f"{FILE}::test_openat_nofollow_on_symlink_is_eloop"


def marked(marker: str) -> list[str]:
    """Processes whose environment holds `marker` ("pid comm")."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if marker.encode() in (proc / "environ").read_bytes():
                    found.append(f"{proc.name} {(proc / 'comm').read_text().strip()}")
            except OSError:
                continue
    return found


def kill_marked(marker: str) -> None:
    for entry in marked(marker):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(int(entry.split()[0]), signal.SIGKILL)


@dataclass
class Run:
    p: subprocess.CompletedProcess[str]
    out: Path
    seconds: float
    survivors: list[str] = field(default_factory=list)  # marked processes after the run

    @property
    def log(self) -> str:
        return self.p.stdout[-4000:] + self.p.stderr[-3000:]

    def profile(self) -> Profile:
        return Profile.read(self.out / "profile.json")

    def junit(self) -> dict[str, str]:
        return junit_outcomes(self.out / "junit.xml")


def junit_id(nodeid: str) -> str:
    """A nodeid as junit_outcomes names it (classname::name)."""
    module, _, name = nodeid.partition("::")
    return f"{module.removesuffix('.py').replace('/', '.')}::{name}"


# Starts the command with SIGINT as asked, whatever this process has (a shell's background
# job, .ci/run's too, ignores it): at its default (Python's KeyboardInterrupt), ignored,
# or blocked with SIGTERM (a mask survives exec).
_SIGINT = {
    "SIG_DFL": "signal.signal(signal.SIGINT, signal.SIG_DFL)",
    "SIG_IGN": "signal.signal(signal.SIGINT, signal.SIG_IGN)",
    "blocked": "signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})",
}
_EXEC = "import os, signal, sys; {}; os.execv(sys.argv[1], sys.argv[1:])"


class Started:
    """A command in a session of its own, with the fault plugin armed and a marker;
    `sigint`: its SIGINT at the start (SIG_DFL, SIG_IGN or blocked)."""

    def __init__(
        self, argv: Sequence[str], out: Path, faults: dict[str, str], sigint: str = "SIG_DFL"
    ) -> None:
        self.out = out
        self.marker = f"runner-test-{uuid.uuid4()}"
        self.started_dir = out.parent / f"{out.name}.started"
        self.started_dir.mkdir(parents=True, exist_ok=True)
        # The run's own temporary files (its status directory, pytest's base) go where
        # this test's go: a run killed on purpose leaves nothing in the real /tmp.
        tmpdir = out.parent / f"{out.name}.tmp"
        tmpdir.mkdir(parents=True, exist_ok=True)
        tmpdir.chmod(0o1777)
        env = {
            **os.environ,
            "TMPDIR": str(tmpdir),
            "SYSCALLS_RUNNER_FAULTS": "1",
            "SYSCALLS_RUNNER_FAULTS_STARTED": str(self.started_dir),
            "SYSCALLS_RUNNER_MARK": self.marker,
        }
        self.argv = [*argv, *(f"--fault={nodeid}={kind}" for nodeid, kind in faults.items())]
        self.start = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _EXEC.format(_SIGINT[sigint]), *self.argv],
            cwd=ROOT,  # for -p tests.runner_faults
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def wait_for_fault(self, kind: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not (self.started_dir / kind).exists():
            assert self.proc.poll() is None, "the run ended before the fault began"
            assert time.monotonic() < deadline, f"fault {kind} never began"
            time.sleep(0.05)

    def finish(self, timeout: float = 90) -> Run:
        """Wait for the end (killing the whole session if it takes longer than timeout:
        that is a hung run), then kill whatever the run left."""
        try:
            stdout, stderr = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            kill_marked(self.marker)
            stdout, stderr = self.proc.communicate()
            stderr += f"\n[runner_checks: killed after {timeout} s: the run hung]"
        seconds = time.monotonic() - self.start
        time.sleep(0.2)  # a SIGKILLed process leaves /proc a moment later
        survivors = marked(self.marker)
        kill_marked(self.marker)
        p = subprocess.CompletedProcess(self.argv, self.proc.returncode, stdout, stderr)
        return Run(p, self.out, seconds, survivors)


def syscalls_run(
    out: Path,
    *pytest_args: str,
    options: Sequence[str] = (),
    faults: dict[str, str] | None = None,
    sigint: str = "SIG_DFL",
) -> Started:
    """`syscalls run --out OUT OPTIONS -- FILE PYTEST_ARGS` with tests.runner_faults."""
    argv = [sys.executable, "-m", "syscalls", "run", "--out", str(out), *options, "--", FILE]
    return Started([*argv, "-p", "tests.runner_faults", *pytest_args], out, faults or {}, sigint)


def pytest_run(
    out: Path, *pytest_args: str, faults: dict[str, str] | None = None, sigint: str = "SIG_DFL"
) -> Started:
    """Plain pytest on FILE as .ci/run calls it, junit.xml and profile.json into OUT."""
    argv = [
        sys.executable,
        "-m",
        "pytest",
        FILE,
        "-q",
        "-p",
        "tests.runner_faults",
        f"--junitxml={out / 'junit.xml'}",
        f"--profile={out / 'profile.json'}",
        *pytest_args,
    ]
    return Started(argv, out, faults or {}, sigint)


def pytest_in(
    directory: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120, **popen
) -> subprocess.CompletedProcess[str]:
    """Plain pytest with the runner's plugin, on test files written into `directory` (its
    rootdir and working directory), the checkout importable; `env` adds variables and
    `popen` goes to subprocess.run (preexec_fn)."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p",
         "syscalls.runner.plugin", f"--rootdir={directory}", *args],
        cwd=directory, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True, text=True, timeout=timeout, check=False, **popen,
    )  # fmt: skip


def in_a_worker(
    directory: Path, name: str, source: str, *args: str, **kwargs: Any
) -> tuple[subprocess.CompletedProcess[str], dict[str, ET.Element]]:
    """`source` as test module `name` in `directory`, run by pytest_in in one forked
    worker (and `args`): the process, and its JUnit testcases by test name."""
    (directory / name).write_text(source)
    junit = directory / "junit.xml"
    p = pytest_in(directory, "--workers", "1", f"--junitxml={junit}", *args, name, **kwargs)
    return p, junit_cases(junit)


def junit_cases(junit: Path) -> dict[str, ET.Element]:
    """The testcase elements of a JUnit XML file, by test name."""
    return {c.get("name", ""): c for c in ET.parse(junit).getroot().iter("testcase")}


def junit_message(case: ET.Element, kind: str = "error") -> str | None:
    """The message of a testcase's <error> (or, `kind`, <failure>); None without one."""
    found = case.find(kind)
    return None if found is None else found.get("message") or ""


def clean(case: ET.Element) -> bool:
    """A testcase with neither an error nor a failure."""
    return case.find("error") is None and case.find("failure") is None
