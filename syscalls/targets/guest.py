"""What every target shares: the suite's command inside the guest, watching the guest
run, and turning how it ended into an exit status.

Inside the target the suite runs as on the host (`python -m pytest` from the repository
root, the host's own venv Python, seen through the target's view of the host's root
file system), writing into the results directory at the same path as on the host. The
host streams the target's console to the terminal and to console.log, and ends the run
when the guest writes its status, or on a kernel panic, when the suite never starts
(boot limit), when nothing moves for too long (per-test limit) or at the overall limit.
The exit status is the suite's, read from the results directory -- never the exit code
of QEMU, runsc or UML, which say little (QEMU and UML exit 0 on any power-off). When
the target failed before the suite finished it is 3, with the reason, the test(s) that
were running and what finished so far kept in junit.xml and profile.json.
"""

from __future__ import annotations

import contextlib
import os
import select
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from syscalls import kconfig, outdir, plugins
from syscalls.cache import cache_dir
from syscalls.paths import ROOT
from syscalls.targets import Options, TargetUnavailable, bytecode, console, results, timeline
from syscalls.targets.procgroup import ProcessGroup

# Directories every target mounts a fresh tmpfs on. A checkout or venv below one of them
# (a CI clone in /tmp) would be hidden by it: targets mount those again on top (kept()).
TMPFS_DIRS = ("/tmp", "/run", "/dev/shm")
TARGET_FAILED = 3  # exit status when the target died before the suite finished
NO_TESTS = 5  # pytest's status when the selection matched no test

STARTED = b"syscalls-guest: running the suite"
GUEST_PYCACHE = "/run/syscalls-pycache"  # the guest's own copy of the host's pycs
UNPACK = "-b 2048 --no-same-owner --no-same-permissions -m"  # tar's options for it
PANIC = (b"Kernel panic - not syncing", b"---[ end Kernel panic")
USAGE_EVERY = 1.0  # seconds between looks at how much the target wrote (results.usage)


@dataclass
class Limits:
    boot: float  # until the guest says the suite is starting
    test: float  # without any progress: no console output, no test event
    total: float


@dataclass
class Ending:
    kind: str  # finished | exited | panic | hang | timeout | no-start | interrupted | flood
    returncode: int | None = None
    started_after: float | None = None  # seconds from the launch to the suite's start
    why: str = ""  # for a flood: what the target wrote


def kept() -> list[Path]:
    """What the guest needs from under the targets' tmpfs mounts: this checkout, the
    Python environment running it and the cache with what was made for it (bytecode,
    parsed declarations), where they lie below one (one entry if nested)."""
    paths = dict.fromkeys((ROOT, Path(sys.prefix).resolve()))
    if cache_dir().is_dir():
        paths[cache_dir().resolve()] = None
    hidden = [p for p in paths if any(p.is_relative_to(d) for d in TMPFS_DIRS)]
    return [p for p in hidden if not any(p != q and p.is_relative_to(q) for q in hidden)]


def check_out(out: Path) -> None:
    """The results directory is the one place a guest may write on the host (everything
    else it sees is read-only, syscalls.targets.readonly): it must not hold the checkout
    or the Python environment the guest runs, nor be the root."""
    out = out.resolve()
    for what, path in (("the checkout", ROOT), ("the Python environment", Path(sys.prefix))):
        if path.resolve().is_relative_to(out):
            raise TargetUnavailable(
                f"--out {out} contains {what} ({path}), which the guest could then write; "
                "give the results a directory of their own"
            )


@dataclass(frozen=True)
class Inside:
    """Where the guest sees what the suite needs. By default at the host's own paths,
    with this Python; a root of another arch (arch_vm) has its own python3, the checkout
    mounted elsewhere and the results share at another path."""

    python: str = sys.executable
    checkout: Path = ROOT
    out: Path | None = None  # the results directory (None: the host's --out)


def names_tests(pytest_args: list[str]) -> bool:
    """Whether the arguments name test paths (suites/fs, a file::test): then no suites/."""
    return any(not a.startswith("-") and (ROOT / a.split("::")[0]).exists() for a in pytest_args)


def pytest_argv(
    opts: Options,
    target: str,
    test_timeout: float,
    inside: Inside = Inside(),
    write_through: bool = False,
) -> list[str]:
    """The guest's pytest command; `write_through`: the results share passes each write
    on to the host at once (no fsync needed for the progress log to survive a crash)."""
    out = inside.out or opts.out
    argv = [
        inside.python,
        "-m",
        "pytest",
        *([] if names_tests(opts.pytest_args) else [str(inside.checkout / "suites")]),
        f"--rootdir={inside.checkout}",
        "-q",
        "--color=no",
        f"--junitxml={out / results.JUNIT}",
        f"--profile={out / results.PROFILE}",
        f"--target={target}",
        "-p",
        plugins.EVENTS,
        f"--events={out / results.EVENTS}",
        *([] if write_through else ["--events-fsync"]),
        f"--timeout={int(test_timeout)}",
        *plugins.turned_off(opts.pytest_args),
    ]
    if opts.workers != "0":  # forked from the collected session (syscalls.runner.pool)
        argv.append(f"--workers={opts.workers}")
    if opts.platform:
        argv.append(f"--platform={opts.platform}")
    return argv + opts.pytest_args


def collection_args(opts: Options, target: str) -> list[str]:
    """pytest's arguments for collecting on the host what the guest will run (the same
    selection, options and plugins; no output files, no workers): bytecode.prepare."""
    argv = [
        *([] if names_tests(opts.pytest_args) else [str(ROOT / "suites")]),
        f"--rootdir={ROOT}",
        f"--target={target}",
        "-p",
        plugins.EVENTS,
        *plugins.turned_off(opts.pytest_args),
    ]
    if opts.platform:
        argv.append(f"--platform={opts.platform}")
    return [*argv, *opts.pytest_args, "-n", "0"]


def bytecode_job(opts: Options, target: str) -> bytecode.Job | None:
    """The host's compilation for this run's guest (syscalls.targets.bytecode), to run
    alongside the target's start; write_script's guest waits for it."""
    return bytecode.job(collection_args(opts, target), opts.out.resolve())


def kernel_config(config: Mapping[str, str] | None, out: Path, inside: Path) -> dict[str, str]:
    """The booted image's configuration written to OUT/kernel.config, and the variable
    that names it in the guest, whose results directory is `inside` (the suite then
    fails an optional syscall's ENOSYS where the image has its option:
    syscalls.enosys); nothing where the image came without a configuration."""
    if not config:
        return {}
    (out / results.KERNEL_CONFIG).write_text(kconfig.text(config))
    return {kconfig.CONFIG_ENV: str(inside / results.KERNEL_CONFIG)}


def write_script(
    opts: Options,
    target: str,
    test_timeout: float,
    time_scale: float,
    inside: Inside = Inside(),
    job: bytecode.Job | None = None,
    write_through: bool = False,
    extra_env: dict[str, str] | None = None,
) -> Path:
    """results/guest.sh: what the guest runs once its file systems are in place;
    `job` the host's compilation of its bytecode (the guest waits for it, up to a
    minute, and unpacks its pack into GUEST_PYCACHE), `write_through` as for
    pytest_argv, `extra_env` adds variables the suite reads there
    (SYSCALLS_MODULES_DIR)."""
    status = (inside.out or opts.out) / results.STATUS
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        # No TMPDIR: as on a host, `tmp` goes to /dev/shm (a tmpfs) and `disk_tmp` to
        # /tmp, which in a VM with a scratch disk is ext4 (syscalls.targets.scratch)
        "HOME": "/tmp",
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",  # the root file system is read-only
        "SYSCALLS_TARGET": target,
        "SYSCALLS_TIME_SCALE": f"{time_scale:g}",
        **(extra_env or {}),
    }
    wait = ""
    if job is not None:  # and the parsed C declarations (syscalls.cache) beside it
        env["PYTHONPYCACHEPREFIX"] = str(job.prefix)
        env["XDG_CACHE_HOME"] = str(cache_dir().parent)
        done = shlex.quote(str(job.done))
        wait = f"i=0; while [ ! -e {done} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done"
        # Its pack of the pycs pytest imports, into this memory (syscalls.targets.bytecode):
        # read in 1 MiB records, a few round trips to the host; no owner, mode or time set
        # per file (~0.3 s under TCG for 400 files, a third less than tar's defaults).
        pack, mine = shlex.quote(str(job.done.with_name(bytecode.PACK))), GUEST_PYCACHE
        wait += (
            f"\nif [ -s {pack} ] && mkdir -p {mine} && tar -x {UNPACK} -f {pack} -C {mine} "
            f"2>/dev/null; then export PYTHONPYCACHEPREFIX={mine}; fi; rm -f {pack}"
        )
    exports = "\n".join(f"export {k}={shlex.quote(v)}" for k, v in env.items())
    text = f"""#!/bin/sh
# The suite inside the {target} target; written by syscalls on the host.
{exports}
echo "{STARTED.decode()} ({target}, kernel $(uname -r)) [$(cut -d' ' -f1 /proc/uptime) s]"
cd {shlex.quote(str(inside.checkout))} || exit 1
{wait}
{shlex.join(pytest_argv(opts, target, test_timeout, inside, write_through))}
status=$?
echo "$status" > {shlex.quote(str(status))}.tmp && mv {shlex.quote(str(status))}.tmp \\
    {shlex.quote(str(status))}
sync
echo "syscalls-guest: the suite exited with status $status"
"""
    path = opts.out / results.SCRIPT
    path.write_text(text)
    path.chmod(0o755)
    return path


def supervise(
    proc: subprocess.Popen[bytes],
    out: Path,
    limits: Limits,
    echo: BinaryIO,
    before: tuple[int, int] = (0, 0),
) -> Ending:
    """Stream the target's console until it ends one way or another (see module doc).
    `before`: results.usage(out) before the target started (what --out held already)."""
    assert proc.stdout is not None
    fd: int | None = proc.stdout.fileno()
    start = time.monotonic()
    last_progress = start
    started: float | None = None  # when the suite started, seconds after `start`
    panic_at = finished_at = exited_at = None
    events_size = -1
    last_usage = start
    tail = b""
    status_path, events_path = out / results.STATUS, out / results.EVENTS
    # Bounded: the console is the kernel under test's, and may never stop (console.py)
    with console.copies(out / results.CONSOLE, echo) as (copy, terminal):
        while True:
            now = time.monotonic()
            if fd is not None:
                ready, _, _ = select.select([fd], [], [], 0.5)
                if ready:
                    chunk = os.read(fd, 65536)
                    if chunk:
                        copy.write(chunk)
                        terminal.write(chunk)
                        last_progress = now
                        window = tail + chunk
                        if started is None and STARTED in window:
                            started = time.monotonic() - start
                        if panic_at is None and any(m in window for m in PANIC):
                            panic_at = now
                        tail = window[-256:]
                    else:
                        fd = None
            else:  # the console is closed: the launcher is exiting, if it has not yet
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=0.5)  # back as soon as it has (a sleep cost 0.5 s a run)
            try:
                size = events_path.stat().st_size
            except OSError:
                size = -1
            if size != events_size:
                events_size, last_progress = size, now
            if now - last_usage >= USAGE_EVERY:  # the kernel under test may fill it
                last_usage = now
                flood = results.overflowing(out, before)
                if flood is not None:
                    return Ending("flood", None, started, flood)
            if proc.poll() is not None:
                # Drain what is left, then stop (a helper may hold the pipe open).
                exited_at = exited_at or now
                if fd is None or now - exited_at > 3:
                    if status_path.exists():
                        return Ending("finished", proc.returncode, started)
                    return Ending("panic" if panic_at else "exited", proc.returncode, started)
                continue
            if status_path.exists():
                finished_at = finished_at or now
                if now - finished_at > 30:  # the suite is done; the guest did not stop
                    return Ending("finished", None, started)
                continue
            if panic_at is not None and now - panic_at > 5:
                return Ending("panic", None, started)
            if started is None and now - start > limits.boot:
                return Ending("no-start", None, started)
            if started is not None and now - last_progress > limits.test:
                return Ending("hang", None, started)
            if now - start > limits.total:
                return Ending("timeout", None, started)


def launch(
    opts: Options,
    target: str,
    argv: list[str],
    limits: Limits,
    env: dict[str, str] | None = None,
    job: bytecode.Job | None = None,
) -> int:
    """Start the target's launcher in a process group of its own (with `job`, the
    host's compilation for the guest, alongside), watch it, kill the group whatever
    happened, and return the exit status (see the module doc)."""
    start = time.monotonic()
    echo = getattr(sys.stdout, "buffer", sys.stdout)
    before = results.usage(opts.out)  # what --out held already: not the target's
    with terminate_as_interrupt(), ProcessGroup() as group:
        start_job(group, job)
        proc = group.start(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            ending = supervise(proc, opts.out, limits, echo, before)
        except KeyboardInterrupt:
            ending = Ending("interrupted")
    return conclude(opts, target, ending, limits, time.monotonic() - start)


def start_job(group: ProcessGroup, job: bytecode.Job | None) -> None:
    """The host's compilation for the guest, in the target's process group (killed with
    it); its output is of no interest (the guest compiles whatever it misses)."""
    if job is not None:
        group.start(
            job.argv, cwd=ROOT, env=job.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP (a cancelled CI job, `timeout`, a closed terminal) end the run
    as Ctrl-C does: the target's processes killed, its state removed, results salvaged.
    Left to their default they would kill us and leave runsc's sandbox running."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    old = {s: signal.signal(s, interrupt) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


def conclude(
    opts: Options,
    target: str,
    ending: Ending,
    limits: Limits,
    elapsed: float,
) -> int:
    """The exit status, and on the terminal how the run ended and where its time went."""
    out = opts.out
    # The guest's pack, if it never unpacked it, and one a killed job was writing.
    for pack in (out / bytecode.PACK, *outdir.stale_temps(out / bytecode.PACK)):
        pack.unlink(missing_ok=True)
    status = results.read_status(out)
    where = f"syscalls: {target}"
    if status is not None:
        results.settle(out, target, status)  # what pytest did not write, from the log
        summary = ", ".join(f"{n} {o}" for o, n in sorted(results.counts(out).items()))
        print(f"{where}: suite finished in {elapsed:.0f} s, status {status}: {summary}")
        spent = timeline.read(out, ending.started_after)
        if spent is not None:
            print(f"{where}: time: {spent.summary()}")
        print(f"results: {out / results.JUNIT}  {out / results.PROFILE}")
        if status == NO_TESTS:  # our 2, as on the host (cli.cmd_run): say why
            print(f"{where}: no test matched the selection", file=sys.stderr)
        return results.exit_status(out, status)
    why = {
        "no-start": f"the suite did not start within {limits.boot:.0f} s "
        "(the kernel never reached init, or init could not mount its file systems)",
        "panic": "kernel panic",
        "hang": f"no progress for {limits.test:.0f} s (hung)",
        "timeout": f"the run exceeded its overall limit of {limits.total:.0f} s",
        "exited": f"the target stopped (exit code {ending.returncode}) "
        "before the suite wrote its status",
        "finished": "the target stopped without a status",
        "interrupted": "interrupted (Ctrl-C, SIGTERM or SIGHUP)",
        "flood": ending.why,
    }[ending.kind]
    events = results.salvage(out, target, why)
    print(f"\n{where}: run ended after {elapsed:.0f} s: {why}", file=sys.stderr)
    if events.running:
        print(f"{where}: test(s) running: {', '.join(events.running)}", file=sys.stderr)
    elif events.session is not None and not events.finished:
        print(f"{where}: no test was running (between tests)", file=sys.stderr)
    print(
        f"{where}: console log: {out / results.CONSOLE}; {len(events.ended)} finished "
        f"test(s) kept in {out / results.JUNIT} and {out / results.PROFILE}",
        file=sys.stderr,
    )
    return TARGET_FAILED
