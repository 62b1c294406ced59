"""--target vm (`syscalls boot IMAGE`): the suite inside a real kernel under QEMU.

These boot Debian's cloud 6.1 kernel (the package ci/setup downloads) under TCG, the
emulation every machine has, with a representative subset of the suite. A TCG boot
with the guest's Python start-up costs ~15-20 s on 2 cores, so one boot is shared by
the checks on a finished run; two more cover a kernel that never reaches init and a
run cut by its overall limit. Fast checks of the parts (initramfs, images, QEMU's
command line) are in test_target_vm_parts.py.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from syscalls.profile import Profile
from syscalls.targets import vm_kernel
from tests.target_checks import (
    FAIL,
    FAULTS,
    HANG,
    ROOT,
    SUBSET,
    SUBSET_FILES,
    check_complete_run,
    check_guest_kernel,
    check_time_limited_run,
    cloud_kernel,
    collected,
    junit_outcomes,
    run_target,
)

pytestmark = pytest.mark.slow

FAULTS_SERIAL = ["-n", "0", *FAULTS]


@pytest.fixture(scope="module")
def image() -> vm_kernel.KernelImage:
    return cloud_kernel()


@dataclass
class Run:
    p: subprocess.CompletedProcess[str]
    out: Path
    seconds: float
    first_end: float | None  # seconds until the first test had ended in the guest

    @property
    def log(self) -> str:
        return self.p.stdout[-3000:] + self.p.stderr[-3000:]


def boot(
    image: vm_kernel.KernelImage,
    out: Path,
    *args: str,
    options: tuple[str, ...] = (),
    time_limit: float = 600,
) -> Run:
    """`syscalls boot` under TCG; afterwards nothing of it may be left running."""
    start = time.monotonic()
    first_end: list[float] = []
    done = threading.Event()

    def watch() -> None:  # the progress log, as the host's supervisor reads it
        while not done.wait(0.25):
            with contextlib.suppress(OSError):
                if '"event": "end"' in (out / "events.jsonl").read_text(errors="replace"):
                    first_end.append(time.monotonic() - start)
                    return

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        p = run_target(
            "vm",
            out,
            *args,
            kernel=image.image,
            options=("--accel", "tcg", *options),
            time_limit=time_limit,
        )
    finally:
        done.set()
        watcher.join()
    run = Run(p, out, time.monotonic() - start, first_end[0] if first_end else None)
    assert not leftovers(out), run.log
    return run


def leftovers(out: Path) -> list[str]:
    """QEMU or virtiofsd processes still running for this results directory."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(str(out).encode() in arg for arg in argv):
            found.append(f"{pid}: {b' '.join(argv)[:200]!r}")
    return found


@pytest.fixture(scope="module")
def subset_run(image: vm_kernel.KernelImage, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """One boot: SUBSET's main files, with one test made to fail inside the guest."""
    out = tmp_path_factory.mktemp("vm") / "subset"
    return boot(image, out, *SUBSET_FILES, "-k", SUBSET, *FAULTS_SERIAL, f"--fail-at={FAIL}")


def test_vm_runs_the_suite_and_the_results_come_back(
    subset_run: Run, image: vm_kernel.KernelImage
) -> None:
    p, out = subset_run.p, subset_run.out
    profile = check_complete_run(p, out, "vm")
    # The guest's kernel (the release in the image's header) answered the suite.
    assert check_guest_kernel(out, profile, "vm") == image.release, subset_run.log
    assert image.release.endswith("-cloud-amd64")
    assert set(profile.tests) == collected(*SUBSET_FILES, "-k", SUBSET)
    outcomes = [t["outcome"] for t in profile.tests.values()]
    assert outcomes.count("passed") > len(outcomes) * 3 // 4, subset_run.log
    console = (out / "console.log").read_text(errors="replace")
    assert "-accel tcg" in console.splitlines()[0]  # the QEMU command line comes first
    # virtiofsd got its sockets made for it: no pid file of theirs left in /run/virtiofsd.
    sockets = re.findall(r"path=(\S+\.sock)", console.splitlines()[0])
    assert len(sockets) == 2, console.splitlines()[0]
    for sock in sockets:
        assert not Path("/run/virtiofsd", sock.replace("/", ".") + ".pid").exists()
    assert f"syscalls-guest: running the suite (vm, kernel {image.release})" in console
    # The guest's /tmp (disk_tmp's) is ext4 on a disk of its own (syscalls.targets.scratch)
    assert "virtio-blk-pci,drive=scratch" in console.splitlines()[0]
    assert "syscalls-init: /tmp is ext4 on the scratch disk /dev/vda" in console, subset_run.log
    assert "syscalls: vm: suite finished" in p.stdout


def test_vm_exit_status_is_the_suites_not_qemus(subset_run: Run) -> None:
    """QEMU exits 0 on the guest's power-off; the one failed test makes the status 1."""
    p, out = subset_run.p, subset_run.out
    assert p.returncode == 1, subset_run.log
    assert (out / "status").read_text().strip() == "1"
    junit = junit_outcomes(out / "junit.xml")
    failed = [k for k, v in junit.items() if v in ("failed", "error")]
    assert failed == ["suites.ipc.test_pipe::test_pipe_lseek_is_espipe"], subset_run.log
    assert Profile.read(out / "profile.json").tests[FAIL]["outcome"] == "failed"


def test_vm_kernel_that_never_reaches_init_is_status_3(
    image: vm_kernel.KernelImage, tmp_path: Path
) -> None:
    out = tmp_path / "noinit"
    # No /no-such-init in the initramfs and no root= to fall back on: the kernel panics
    # ("VFS: Unable to mount root fs"), and QEMU exits on the reboot (-no-reboot).
    run = boot(image, out, "suites/fs/test_openat.py", options=("--append=rdinit=/no-such-init",))
    assert run.p.returncode == 3, run.log
    assert "run ended after" in run.p.stderr and "kernel panic" in run.p.stderr, run.log
    assert f"console log: {out / 'console.log'}" in run.p.stderr
    console = (out / "console.log").read_text(errors="replace")
    assert "Kernel panic" in console and "syscalls-init: started" not in console
    assert not (out / "status").exists()
    profile = Profile.read(out / "profile.json")
    assert profile.meta["incomplete"] == "kernel panic"
    assert profile.tests == {}
    assert ET.parse(out / "junit.xml").getroot().get("name") == "incomplete run: kernel panic"
    assert run.seconds < 60, "a panic ends the run at once, not at a time limit"


def test_vm_run_over_its_time_limit_keeps_what_finished(
    subset_run: Run, image: vm_kernel.KernelImage, tmp_path: Path
) -> None:
    out = tmp_path / "limit"
    # HANG, the third test of test_openat.py, holds this run until the limit cuts it;
    # the limit leaves room for the boot and the two tests before it, timed on the
    # shared run (the same boot, under the same load).
    assert subset_run.first_end is not None, subset_run.log
    limit = round(1.5 * subset_run.first_end + 10)
    run = boot(
        image,
        out,
        "suites/fs/test_openat.py",
        *FAULTS_SERIAL,
        f"--hang-at={HANG}",
        time_limit=limit,
    )
    profile = check_time_limited_run(run.p, out, "vm", limit, HANG)
    assert "syscalls-guest: running the suite" in (out / "console.log").read_text()
    passed = {t for t, e in profile.tests.items() if e["outcome"] == "passed"}
    assert passed <= collected("suites/fs/test_openat.py")


def test_vm_stopped_by_sigterm_kills_qemu_and_keeps_what_finished(
    image: vm_kernel.KernelImage, tmp_path: Path
) -> None:
    """A cancelled CI job or `timeout` sends SIGTERM: QEMU and virtiofsd go with the
    run, the test that was running is named and failed, the finished ones kept."""
    out = tmp_path / "term"
    argv = [sys.executable, "-m", "syscalls", "boot", str(image.image), "--accel", "tcg",
            "--out", str(out), "--", "suites/fs/test_openat.py", *FAULTS_SERIAL,
            f"--hang-at={HANG}"]  # fmt: skip
    with subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        deadline = time.monotonic() + 600
        while f'"nodeid": "{HANG}"' not in _read(out / "events.jsonl"):
            if proc.poll() is not None:  # ended before the test it waits for: say why
                stdout, stderr = proc.communicate()
                pytest.fail(
                    f"syscalls boot ended ({proc.returncode}) before {HANG} began:\n"
                    f"{stderr[-3000:]}\n{_read(out / 'console.log')[-3000:]}"
                )
            assert time.monotonic() < deadline, _read(out / "console.log")
            time.sleep(0.5)
        proc.terminate()
        try:
            stdout, stderr = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:  # QEMU left running holds its pipes open
            proc.kill()
            pytest.fail(f"still running 60 s after SIGTERM: {leftovers(out)}")
    assert proc.returncode == 3, stdout[-2000:] + stderr[-2000:]
    assert "interrupted (Ctrl-C, SIGTERM or SIGHUP)" in stderr
    assert f"running: {HANG}" in stderr
    assert not leftovers(out)
    profile = Profile.read(out / "profile.json")
    assert profile.tests[HANG]["outcome"] == "failed"
    assert any(e["outcome"] == "passed" for e in profile.tests.values())


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
