"""Helpers for the tests that run the suite in a real target: the run, its JUnit."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from syscalls.profile import Profile
from syscalls.targets import vm_kernel

ROOT = Path(__file__).resolve().parent.parent


def run_target(
    target: str,
    out: Path,
    *pytest_args: str,
    kernel: Path | None = None,
    options: Sequence[str] = (),
    time_limit: float = 600,
    cwd: Path = ROOT,
    syscalls: Sequence[str | Path] = (sys.executable, "-m", "syscalls"),
) -> subprocess.CompletedProcess[str]:
    """`syscalls run --target TARGET`, or with `kernel` `syscalls boot KERNEL` (target
    vm); `options` go before the `--` (e.g. --accel tcg, --append ...); `syscalls` is
    the command (default: this checkout's, with this Python)."""
    if kernel is not None:
        assert target == "vm", "a kernel image is booted by the vm target"
        command = ["boot", str(kernel)]
    else:
        command = ["run", "--target", target]
    argv = [*map(str, syscalls), *command, "--out", str(out)]
    argv += ["--time-limit", f"{time_limit:g}", *options, "--", *pytest_args]
    with subprocess.Popen(
        argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=time_limit + 300)
        except BaseException:
            # Timed out, or the test was (pytest-timeout, Ctrl-C): SIGTERM first, which
            # `syscalls run` turns into a clean stop (target killed, its state removed);
            # subprocess's own SIGKILL would leave runsc's sandbox and state behind.
            proc.terminate()
            try:
                proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            raise
    return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)


def junit_outcomes(path: Path) -> dict[str, str]:
    """testcase (classname::name) -> passed, failed, error or skipped."""
    outcomes = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        kind = {"failure": "failed", "error": "error", "skipped": "skipped"}
        outcomes[f"{case.get('classname')}::{case.get('name')}"] = (
            kind[kinds[0]] if kinds else "passed"
        )
    return outcomes


# tests/fault_plugin.py's victims: a test made to fail, and one that hangs, in the guest.
FAIL = "suites/ipc/test_pipe.py::test_pipe_lseek_is_espipe"
HANG = "suites/fs/test_openat.py::test_openat_excl_on_existing_file_is_eexist"
FAULTS = ["-p", "tests.fault_plugin"]


@dataclass
class Finished:
    """A run of SUBSET with FAIL made to fail, and what the host held before it."""

    p: subprocess.CompletedProcess[str]
    out: Path
    before: set[str]  # host_leftovers before the run


def run_subset_with_a_failure(target: str, out: Path) -> Finished:
    before = host_leftovers(target)
    p = run_target(target, out, *SUBSET_FILES, "-k", SUBSET, *FAULTS, f"--fail-at={FAIL}")
    return Finished(p, out, before)


# A representative slice: files, pipes, futex waits, fork/wait; a few dozen tests.
SUBSET = "openat or pipe or futex or fork"
# The files most of SUBSET's tests live in. Naming them spares a slow target (the VM
# under TCG) collecting the whole suite, which costs it tens of seconds.
SUBSET_FILES = [
    "suites/fs/test_openat.py",
    "suites/ipc/test_pipe.py",
    "suites/sync/test_futex_wait_wake.py",
    "suites/proc/test_fork.py",
]


def check_complete_run(p: subprocess.CompletedProcess[str], out: Path, target: str) -> Profile:
    """A finished run: results parse, agree with each other and with the exit status."""
    junit = junit_outcomes(out / "junit.xml")
    profile = Profile.read(out / "profile.json")
    bad = [k for k, v in junit.items() if v in ("failed", "error")]
    assert p.returncode == (1 if bad else 0), p.stdout[-3000:] + p.stderr[-3000:]
    assert (out / "status").read_text().strip() == str(p.returncode)
    assert profile.target == target
    assert len(profile.tests) == len(junit) > 0
    passed = [k for k, v in profile.tests.items() if v["outcome"] == "passed"]
    assert len(passed) == list(junit.values()).count("passed") > 0
    return profile


def need(binary: str, package: str) -> None:
    """Skip without `binary`; as root (ci/setup installs it) its absence is a failure."""
    if shutil.which(binary) is None:
        if os.geteuid() == 0:
            pytest.fail(f"{binary} missing: ci/setup should have installed {package}")
        pytest.skip(f"{binary} missing (run ci/setup as root to install {package})")


@functools.cache
def _uml_unavailable() -> str | None:
    """Why --target uml cannot run on this host (it says so with status 2), or None."""
    with tempfile.TemporaryDirectory(prefix="syscalls-uml-probe-") as tmp:
        p = run_target(
            "uml",
            Path(tmp) / "out",
            "suites/misc/test_uname.py::test_uname_release_matches_os_uname",
        )
    if p.returncode != 2:
        return None
    return (p.stderr.strip().splitlines() or [f"{p.stdout[-2000:]}status 2, nothing said"])[-1]


def need_uml() -> None:
    """linux.uml and busybox installed (see need), and UML able to run on this host
    (where it cannot save its processes' FP registers, even in FXSAVE format, it says
    so with status 2; skip then)."""
    need("linux.uml", "user-mode-linux")
    need("busybox", "busybox-static")
    why = _uml_unavailable()
    if why is not None:
        pytest.skip(why)


def cloud_deb() -> Path:
    """Debian's cloud kernel package, downloaded once into the cache; skip without it,
    and as root (ci/setup fetches it) fail."""
    try:
        return vm_kernel.debian_package("cloud")
    except vm_kernel.KernelError as e:
        if os.geteuid() == 0:
            pytest.fail(f"the Debian cloud kernel is not available: {e} (ci/setup fetches it)")
        pytest.skip(f"the Debian cloud kernel is not available: {e}")


def cloud_kernel() -> vm_kernel.KernelImage:
    """Debian's cloud kernel package, resolved; its image is the package itself, as a
    user would boot it."""
    need("qemu-system-x86_64", "qemu-system-x86")
    need("busybox", "busybox-static")
    deb = cloud_deb()
    kernel = vm_kernel.resolve(deb)
    if os.geteuid() != 0 and kernel.shares() == ["virtiofs"]:
        pytest.skip(f"{kernel.release} shares the host root only over virtiofs (needs root)")
    kernel.image = deb
    return kernel


def collected(*pytest_args: str) -> set[str]:
    """The test ids pytest collects on the host for this selection."""
    p = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", *pytest_args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return {line for line in p.stdout.splitlines() if "::" in line}


def check_guest_kernel(out: Path, profile: Profile, target: str) -> str:
    """The kernel the suite ran on is the target's (as the guest shell's `uname -r`
    printed it on the console), not the host's; returns that release."""
    console = (out / "console.log").read_text(errors="replace")
    found = re.search(rf"syscalls-guest: running the suite \({target}, kernel (\S+)\)", console)
    assert found, console[-2000:]
    assert profile.kernel == found.group(1) != os.uname().release
    return profile.kernel


def check_time_limited_run(
    p: subprocess.CompletedProcess[str], out: Path, target: str, limit: float, hung: str
) -> Profile:
    """A run stopped at its overall limit while `hung` was running: status 3, that test
    named and failed with the reason, the tests that finished before it kept."""
    log = p.stdout[-2000:] + p.stderr[-2000:]
    assert p.returncode == 3, log
    assert not (out / "status").exists()
    assert f"exceeded its overall limit of {limit:g} s" in p.stderr, log
    assert f"running: {hung}" in p.stderr, log
    profile = Profile.read(out / "profile.json")  # rebuilt from the progress log
    assert profile.target == target
    assert "overall limit" in profile.meta["incomplete"]
    assert profile.tests[hung]["outcome"] == "failed"
    assert "overall limit" in profile.tests[hung]["reason"]
    passed = [t for t, e in profile.tests.items() if e["outcome"] == "passed"]
    assert passed, "tests that finished before the limit are kept"
    junit = junit_outcomes(out / "junit.xml")
    assert ET.parse(out / "junit.xml").getroot().get("name", "").startswith("incomplete run")
    assert len(junit) == len(profile.tests)
    assert list(junit.values()).count("passed") == len(passed)
    return profile


# What a gvisor or uml run could leave behind on the host: its launcher's processes
# (runsc and its sandbox and gofer, which run as "exe"; linux.uml and its helpers) and
# its private directory /tmp/syscalls-TARGET-XXXX (runsc's state, UML's uml_dir).
COMMANDS = {"gvisor": ("runsc", "exe"), "uml": ("linux.uml",)}
RUNSC_DEFAULT_ROOT = Path("/var/run/runsc")


def _processes() -> list[tuple[int, str, str, list[str]]]:
    """(pid, comm, state, argv) of every process."""
    found = []
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
            argv = Path(f"/proc/{name}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        state = stat[stat.rindex(")") + 2]
        found.append((int(name), comm, state, [os.fsdecode(a) for a in argv if a]))
    return found


def host_leftovers(target: str) -> set[str]:
    """What a finished gvisor/uml run left: processes of a run whose private directory
    is gone, zombies of the target's commands, private directories no process uses, and
    runsc state in its default root. Runs still going (another test's) are not counted."""
    private = re.compile(rf"(/\S*?/syscalls-{target}-[^/\s]+)")
    in_use: set[str] = set()
    found: set[str] = set()
    for pid, comm, state, argv in _processes():
        dirs = {m.group(1) for a in argv if (m := private.search(a))}
        if state == "Z" and comm in COMMANDS[target]:
            found.add(f"zombie {pid} ({comm})")
        elif any(not Path(d).exists() for d in dirs):
            found.add(f"process {pid} ({comm}) of a finished run: {' '.join(argv)[:200]}")
        in_use |= dirs
    tmp = Path(tempfile.gettempdir())
    found |= {f"directory {d}" for d in map(str, tmp.glob(f"syscalls-{target}-*"))} - {
        f"directory {d}" for d in in_use
    }
    if target == "gvisor" and RUNSC_DEFAULT_ROOT.is_dir():
        found |= {f"runsc state {p}" for p in RUNSC_DEFAULT_ROOT.iterdir()}
    return found


def check_nothing_left(target: str, before: set[str], settle: float = 5.0) -> None:
    """Nothing new in host_leftovers(target) since `before` (a zombie or a process of
    another test's run that is just ending gets `settle` seconds to go away)."""
    deadline = time.monotonic() + settle
    while (new := host_leftovers(target) - before) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not new, f"left behind by the {target} run: {sorted(new)}"
