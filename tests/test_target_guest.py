"""syscalls.targets.guest: watching a target's console, and turning how the run ended
into the exit status and message. The "targets" here are real processes (shell
scripts) that behave as a guest would: finish and write the status, panic, hang,
never start, stop without a status, leave a helper behind."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from syscalls import kconfig, outdir
from syscalls.cache import cache_dir
from syscalls.profile import Profile
from syscalls.targets import Options, bytecode, guest, results
from syscalls.targets.procgroup import ProcessGroup
from tests.target_checks import ROOT

LIMITS = guest.Limits(boot=30, test=30, total=60)
STARTED = guest.STARTED.decode()


def _supervise(out: Path, script: str, limits: guest.Limits = LIMITS) -> tuple[guest.Ending, float]:
    """Run `script` (sh) as a target whose console is watched; (how it ended, seconds)."""
    out.mkdir(exist_ok=True)
    start = time.monotonic()
    before = results.usage(out)  # as launch() takes it, before the target starts
    with ProcessGroup() as group:
        proc = group.start(
            ["sh", "-c", script],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        ending = guest.supervise(proc, out, limits, io.BytesIO(), before)
    return ending, time.monotonic() - start


def test_a_guest_that_writes_its_status_has_finished(tmp_path: Path) -> None:
    out = tmp_path / "out"
    ending, _ = _supervise(out, f"echo '{STARTED}'; echo 1 > {out}/status; exit 0")
    assert (ending.kind, ending.returncode) == ("finished", 0)
    assert ending.started_after is not None and 0 <= ending.started_after < 10
    assert STARTED in (out / results.CONSOLE).read_text()


def test_the_end_of_the_launcher_is_seen_at_once(tmp_path: Path) -> None:
    """Its console closes a moment before it exits (QEMU tearing down): the verdict
    follows its exit, not a pause of half a second after."""
    out = tmp_path / "out"
    script = f"echo '{STARTED}'; echo 0 > {out}/status; exec >&- 2>&-; sleep 0.05; exit 0"
    ending, took = _supervise(out, script)
    assert ending.kind == "finished"
    assert took < 0.4, took  # it was 0.5 s and more


def test_a_guest_that_stops_without_status_has_exited(tmp_path: Path) -> None:
    ending, _ = _supervise(tmp_path / "out", f"echo '{STARTED}'; exit 134")
    assert (ending.kind, ending.returncode) == ("exited", 134)


def test_a_panic_on_the_console_ends_the_run(tmp_path: Path) -> None:
    # The kernel prints its panic and then spins, as QEMU guests do.
    script = (
        f"echo '{STARTED}'; echo 'Kernel panic - not syncing: Attempted to kill init'; sleep 60"
    )
    ending, took = _supervise(tmp_path / "out", script)
    assert (ending.kind, ending.returncode) == ("panic", None)
    assert took < 20


def test_a_guest_that_never_starts_the_suite(tmp_path: Path) -> None:
    limits = guest.Limits(boot=1, test=30, total=60)
    ending, took = _supervise(tmp_path / "out", "echo booting; sleep 60", limits)
    assert ending == guest.Ending("no-start")  # never started: no started_after
    assert took < 10


def test_a_guest_without_progress_hangs(tmp_path: Path) -> None:
    limits = guest.Limits(boot=30, test=1.5, total=60)
    ending, took = _supervise(tmp_path / "out", f"echo '{STARTED}'; sleep 60", limits)
    assert (ending.kind, ending.returncode) == ("hang", None)
    assert took < 10


def test_progress_in_the_events_log_is_not_a_hang(tmp_path: Path) -> None:
    """A test may run long without console output while tests end in the log: only the
    overall limit stops that run."""
    out = tmp_path / "out"
    limits = guest.Limits(boot=30, test=1.5, total=4)
    script = f"echo '{STARTED}'; while :; do echo x >> {out}/events.jsonl; sleep 0.3; done"
    ending, took = _supervise(out, script, limits)
    assert (ending.kind, ending.returncode) == ("timeout", None)
    assert 4 <= took < 15


def _opts(out: Path, *pytest_args: str) -> Options:
    out.mkdir(parents=True, exist_ok=True)
    return Options(out=out, pytest_args=list(pytest_args))


def _write_events(out: Path, *lines: str) -> None:
    (out / results.EVENTS).write_text("".join(line + "\n" for line in lines))


SESSION = '{"event": "session", "platform": "linux/x86_64", "kernel": "6.1.0", "target": "uml"}'


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("no-start", "the suite did not start within 30 s"),
        ("panic", "kernel panic"),
        ("hang", "no progress for 30 s (hung)"),
        ("timeout", "the run exceeded its overall limit of 60 s"),
        ("exited", "the target stopped (exit code 134) before the suite wrote its status"),
        ("finished", "the target stopped without a status"),
        ("interrupted", "interrupted (Ctrl-C, SIGTERM or SIGHUP)"),
    ],
)
def test_conclude_without_status_is_target_failed_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, message: str
) -> None:
    out = tmp_path / "out"
    opts = _opts(out)
    _write_events(
        out,
        SESSION,
        '{"event": "start", "nodeid": "suites/a.py::t1"}',
        '{"event": "end", "nodeid": "suites/a.py::t1", "outcome": "passed", "observations": []}',
        '{"event": "start", "nodeid": "suites/a.py::t2"}',
    )
    (out / bytecode.PACK).write_bytes(b"a pack the guest never unpacked")
    outdir.temp_name(out / bytecode.PACK).write_bytes(b"half a pack: its job was killed")
    status = guest.conclude(opts, "uml", guest.Ending(kind, 134), LIMITS, 12.3)
    assert status == guest.TARGET_FAILED == 3
    assert not list(out.glob(f"*{bytecode.PACK}*"))  # 9 MB of pycs are no result
    err = capsys.readouterr().err
    assert f"syscalls: uml: run ended after 12 s: {message}" in err
    assert "test(s) running: suites/a.py::t2" in err
    assert "1 finished test(s) kept" in err
    profile = Profile.read(out / results.PROFILE)
    why = profile.meta["incomplete"]
    assert why.startswith(message)
    assert profile.tests["suites/a.py::t2"] == {
        "outcome": "failed",
        "observations": [],
        "reason": why,
    }
    assert profile.tests["suites/a.py::t1"]["outcome"] == "passed"


def test_conclude_between_tests_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    _write_events(out := _opts(out).out, SESSION)
    assert guest.conclude(_opts(out), "vm", guest.Ending("hang"), LIMITS, 1) == 3
    assert "no test was running (between tests)" in capsys.readouterr().err


@pytest.mark.parametrize("status", [0, 1, 5])
def test_conclude_with_a_status_but_no_reports_is_an_unfinished_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], status: int
) -> None:
    """A pytest that exited before writing its reports leaves them rebuilt from the
    events, the profile marked incomplete -- a run that did not finish, status 3."""
    out = tmp_path / "out"
    opts = _opts(out)
    (out / results.STATUS).write_text(f"{status}\n")
    _write_events(
        out,
        SESSION,
        '{"event": "start", "nodeid": "suites/a.py::t1"}',
        '{"event": "end", "nodeid": "suites/a.py::t1", "outcome": "passed", "observations": []}',
    )
    assert guest.conclude(opts, "uml", guest.Ending("finished", 0), LIMITS, 3) == 3
    stdout = capsys.readouterr().out
    assert f"syscalls: uml: suite finished in 3 s, status {status}: 1 passed" in stdout
    assert Profile.read(out / results.PROFILE).meta["incomplete"] == (
        f"pytest exited with status {status}"
    )


@pytest.mark.parametrize(
    ("status", "outcome", "ours"),
    [(0, "passed", 0), (1, "failed", 1), (2, "failed", 1), (2, "passed", 3), (4, "", 2),
     (5, "", 2), (3, "passed", 3)],
)  # fmt: skip
def test_conclude_maps_the_guests_pytest_status_onto_ours(
    tmp_path: Path, status: int, outcome: str, ours: int
) -> None:
    """pytest's 2 (interrupted; or -x after a failure), 3, 4 and 5 mean other things
    than ours (syscalls.exitcodes) and never leave `syscalls run --target` as they are."""
    out = tmp_path / "out"
    opts = _opts(out)
    (out / results.STATUS).write_text(f"{status}\n")
    tests = {"suites/a.py::t1": {"outcome": outcome, "observations": []}} if outcome else {}
    Profile(platform="linux/x86_64", kernel="6.1.0", target="uml", tests=tests).write(
        out / results.PROFILE
    )
    results.write_junit(out / results.JUNIT, tests, "")
    assert guest.conclude(opts, "uml", guest.Ending("finished", 0), LIMITS, 3) == ours


def test_launch_kills_a_hung_target_and_its_setsid_helper(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole way, with a launcher that starts a helper in a session of its own (as
    runsc does) and then hangs: status 3, and neither is left running."""
    out = tmp_path / "out"
    opts = _opts(out)
    pids = tmp_path / "pids"
    helper = (
        f"import os, time; os.setsid(); open({str(pids)!r}, 'w').write(str(os.getpid())); "
        "time.sleep(300)"
    )
    script = f"{sys.executable} -c \"{helper}\" & echo '{STARTED}'; sleep 300"
    status = guest.launch(opts, "fake", ["sh", "-c", script], guest.Limits(30, 1.5, 60))
    assert status == 3
    assert "no progress for 2 s (hung)" in capsys.readouterr().err
    pid = int(pids.read_text())
    assert not os.path.exists(f"/proc/{pid}"), "the setsid helper survived (or is a zombie)"


def test_the_guest_script_runs_the_suite_and_writes_the_status(tmp_path: Path) -> None:
    """guest.sh as a target runs it, here straight on the host: the suite's status, its
    reports and the events end up in the results directory."""
    out = tmp_path / "out"
    opts = _opts(out, "suites/misc/test_uname.py")
    opts.workers = "0"
    script = guest.write_script(opts, "uml", 60, 2.0)
    assert guest.names_tests(opts.pytest_args) and not guest.names_tests(["-k", "uname"])
    text = script.read_text()
    assert "export SYSCALLS_TARGET=uml" in text and "export SYSCALLS_TIME_SCALE=2" in text
    p = subprocess.run(["sh", str(script)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    assert f"{STARTED} (uml, kernel {os.uname().release})" in p.stdout
    assert results.read_status(out) == 0
    profile = Profile.read(out / results.PROFILE)
    assert profile.target == "uml" and profile.tests
    assert all(t.startswith("suites/misc/test_uname.py::") for t in profile.tests)
    events = results.read_events(out / results.EVENTS)
    assert events.finished and set(events.ended) == set(profile.tests)
    assert (out / results.JUNIT).exists()


def test_the_guest_script_waits_for_the_hosts_bytecode_and_runs_on_it(tmp_path: Path) -> None:
    """With a compilation job the guest waits for its `done` file before it starts
    Python, and runs with the job's bytecode and the host's cache."""
    out = tmp_path / "out"
    opts = _opts(out, "suites/misc/test_uname.py")
    opts.workers = "0"
    job = bytecode.Job(tmp_path / "pycache", ["true"], {}, out / bytecode.DONE)
    text = guest.write_script(opts, "uml", 60, 2.0, job=job).read_text()
    assert f"export PYTHONPYCACHEPREFIX={tmp_path / 'pycache'}" in text
    assert f"export XDG_CACHE_HOME={cache_dir().parent}" in text
    assert text.index(str(job.done)) < text.index(" -m pytest ")
    written: list[float] = []

    def finish() -> None:
        job.done.write_text("1.0\n")
        written.append(time.clock_gettime(time.CLOCK_BOOTTIME))

    timer = threading.Timer(2.0, finish)
    timer.start()
    try:
        p = subprocess.run(["sh", str(out / results.SCRIPT)], capture_output=True, text=True,
                           timeout=120)  # fmt: skip
    finally:
        timer.cancel()
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    session = results.read_events(out / results.EVENTS).session
    assert session is not None and written
    # pytest's Python started after the file was there (process start: 1/100 s ticks).
    assert session["python_start"] >= written[0] - 0.02


def test_the_guest_script_exports_the_extra_environment(tmp_path: Path) -> None:
    opts = _opts(tmp_path / "out", "suites/misc/test_uname.py")
    extra = {"SYSCALLS_MODULES_DIR": "/lib/modules/x y"}
    text = guest.write_script(opts, "vm", 60, 1.0, extra_env=extra).read_text()
    assert "export SYSCALLS_MODULES_DIR='/lib/modules/x y'" in text


def test_the_images_configuration_goes_to_the_results_for_the_guests_verdicts(
    tmp_path: Path,
) -> None:
    config = {"CONFIG_FUTEX": "y", "CONFIG_KEXEC": "n"}
    env = guest.kernel_config(config, tmp_path, Path("/results"))
    assert env == {"SYSCALLS_KERNEL_CONFIG": "/results/kernel.config"}
    text = (tmp_path / "kernel.config").read_text()
    assert text == "CONFIG_FUTEX=y\n# CONFIG_KEXEC is not set\n"
    assert kconfig.parse(text) == config
    assert guest.kernel_config(None, tmp_path / "none", Path("/results")) == {}


def test_pytest_argv_runs_the_whole_suite_unless_tests_are_named(tmp_path: Path) -> None:
    whole = guest.pytest_argv(_opts(tmp_path, "-k", "futex"), "gvisor", 300)
    assert str(ROOT / "suites") in whole and whole[-2:] == ["-k", "futex"]
    assert "--target=gvisor" in whole and "--timeout=300" in whole
    assert "no:logging" in whole and "no:hypothesispytest" in whole  # as on the host
    collect = guest.collection_args(_opts(tmp_path, "-k", "futex"), "gvisor")
    assert "no:logging" in collect  # the host compiles what the guest will import
    assert "--workers=auto" in whole
    named = guest.pytest_argv(_opts(tmp_path, "suites/fs::x"), "gvisor", 300)
    assert str(ROOT / "suites") not in named


LAUNCHER = """
import sys
from pathlib import Path
from syscalls.targets import Options, guest
out, script = Path(sys.argv[1]), sys.argv[2]
out.mkdir(exist_ok=True)
sys.exit(guest.launch(Options(out=out), "fake", ["sh", "-c", script], guest.Limits(60, 60, 120)))
"""


def test_sigterm_ends_the_run_as_ctrl_c_does(tmp_path: Path) -> None:
    """`syscalls run` killed politely (a cancelled CI job, `timeout`) still kills the
    target and its setsid helper, and says what was running, with status 3."""
    out, pids = tmp_path / "out", tmp_path / "pids"
    helper = (
        f"import os, time; os.setsid(); open({str(pids)!r}, 'w').write(str(os.getpid())); "
        "time.sleep(300)"
    )
    script = f"{sys.executable} -c \"{helper}\" & echo '{STARTED}'; sleep 300"
    proc = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, str(out), script],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not (pids.exists() and pids.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    pid = int(pids.read_text())
    proc.terminate()
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 3, stdout + stderr
    assert "interrupted (Ctrl-C, SIGTERM or SIGHUP)" in stderr
    assert not os.path.exists(f"/proc/{pid}"), "the setsid helper survived (or is a zombie)"


@pytest.mark.parametrize(
    ("writes", "named"),
    [
        ("head -c 3000000 /dev/zero > {out}/junk", "more than 1 MiB"),
        ("i=0; while [ $i -lt 60 ]; do : > {out}/f$i; i=$((i+1)); done", "more than 20 files"),
    ],
    ids=["bytes", "files"],
)
def test_a_target_that_floods_the_results_directory_is_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writes: str, named: str
) -> None:
    """The kernel under test writes the results directory through its share: past what
    a run writes (1 GiB, 10,000 entries; here 1 MiB and 20), the run ends, saying so."""
    monkeypatch.setattr(results, "USAGE_LIMIT", 1 << 20)
    monkeypatch.setattr(results, "ENTRIES_LIMIT", 20)
    out = tmp_path / "out"
    script = f"echo '{STARTED}'; {writes.format(out=out)}; sleep 60"
    ending, took = _supervise(out, script)
    assert ending.kind == "flood" and named in ending.why
    assert took < 20


def test_what_the_results_directory_held_before_is_not_the_targets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(results, "ENTRIES_LIMIT", 20)
    out = tmp_path / "out"
    out.mkdir()
    for i in range(50):  # --out with other things in it
        (out / f"earlier{i}").touch()
    script = f"echo '{STARTED}'; : > {out}/one; : > {out}/two; echo 0 > {out}/status"
    ending, _ = _supervise(out, script)
    assert ending.kind == "finished"
