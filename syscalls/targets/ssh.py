"""--target ssh://[user@]host[:port]: the suite on a machine you can log in to (a FreeBSD,
NetBSD or OpenBSD box, an arm64 board, another Linux), results brought home.

Three ssh sessions, each with the user's own client, keys, agent and config
(`ssh -o BatchMode=yes`: no prompt, no password ever asked or kept):

1. probe: `/bin/sh -s` reads syscalls/targets/ssh_probe.py's script: uname, and the
   Python interpreters with cffi and pytest (no pytest-xdist: the workers are
   forked). The table follows uname
   (freebsd/amd64, linux/aarch64) unless --platform names one.
2. copy: a gzipped tar of syscalls/, suites/, platforms/, conftest.py and pyproject.toml
   (not the checkout, not .venv) unpacked by the remote's tar into a private directory
   made by mktemp under its $TMPDIR (mode 0700).
3. run: the remote's Python runs the copied syscalls/targets/ssh_remote.py, which
   installs what is missing with pip when the probe found pip (into a venv in the
   private directory that sees the interpreter's own packages too), runs pytest,
   relays its console and progress events as they come, sends junit.xml and
   profile.json at the end, and removes the private directory whatever happened (see
   ssh_remote's doc: the end of the connection is its signal to stop).

The terminal shows pytest's progress as for the other targets; OUT receives console.log,
events.jsonl, junit.xml, profile.json and status. A refused login, no usable Python or
modules, or no table for the machine end with one line and status 2; a lost connection,
a hang (nothing new for the per-test limit: pytest's `--timeout N` among the pytest
arguments, else TEST_TIMEOUT), the overall --time-limit, Ctrl-C or SIGTERM end with one
line and status 3, with junit.xml and profile.json rebuilt from the events that arrived
(syscalls.targets.results). When the runner could not confirm the removal, one more
session removes the directory.

Why not execnet (pytest-xdist's transport for its own `--tx ssh=` gateways, installed
here with it)? It was evaluated, and each point it would have to carry, it does not:
- What the remote needs: execnet sends its own source and needs only a Python, as this
  does; but its spec runs `python` unless told, and finding a usable interpreter with
  the suite's modules needs a probe in plain sh before any Python runs anyway.
- Error reporting: ssh's stderr goes straight to our terminal; a refused login (ssh
  exit 255) becomes `HostNotFound(host)`, any other early death (no python there: 127)
  an EOFError swallowed during bootstrap; the reason ("Permission denied (publickey)",
  "Host key verification failed") never reaches the one line a user needs.
- Streaming and files: channels carry Python objects well, but a byte-exact console
  stream, a progress log and result files need a protocol on top either way; its rsync
  helper was deprecated by pytest-xdist 3.0.2 ("will be removed in pytest-xdist 4.0").
- A dead connection: the remote gateway interrupts its own execution (SIGINT, then
  os._exit after 15 s), but nothing ends pytest's process tree or removes the files;
  that logic is ours in any case, and here it lives in one small stdlib script.
- Timeouts, options, BSDs: execnet has no time limit on making a gateway and passes
  `ssh=` options split on spaces; the plain ssh client takes the user's config, `-o`
  options verbatim, ConnectTimeout/ServerAlive, and runs anywhere OpenSSH does.
So the transport is the ssh client itself: stdin, stdout and stderr of one session,
framed by ssh_remote, with tar for the copy.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import re
import select
import shlex
import subprocess
import sys
import tarfile
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from syscalls import paths
from syscalls.abi import Platform, PlatformError
from syscalls.targets import Options, TargetUnavailable, console, results, ssh_probe, ssh_remote
from syscalls.targets.guest import (
    TARGET_FAILED,
    Ending,
    Inside,
    Limits,
    pytest_argv,
    terminate_as_interrupt,
)
from syscalls.targets.procgroup import ProcessGroup

NAME = "ssh"
TEST_TIMEOUT = 120.0  # per test, as pyproject's pytest timeout
TIME_LIMIT = 3600.0
SESSION_LIMIT = 120.0  # the probe, copy and clean-up sessions, each
HEARTBEAT = 5.0  # the host writes a byte this often ...
LOST = 60.0  # ... and the runner gives up on the host after this long without one
GRACE = 15.0  # for the runner's clean-up and last frames once it is asked to stop
COPIED = tuple(paths.layout())  # syscalls/, suites/, platforms/, conftest.py, pyproject.toml
INSTALLED_COPY = f"syscalls/{paths.INSTALLED_DIR}"  # the suite again, in an installed package
RUNNER = "syscalls/targets/ssh_remote.py"
RESULTS = (results.JUNIT, results.PROFILE)
# Options the user's own (--ssh-option, $SYSCALLS_SSH, ~/.ssh/config) come before, so
# that theirs win (ssh takes the first value it sees), BatchMode excepted.
DEFAULTS = ("ConnectTimeout=20", "ServerAliveInterval=15", "ServerAliveCountMax=4")
SAFE = re.compile(r"/[A-Za-z0-9_./+-]*")  # paths every login shell takes unquoted
# The copy: a private directory, the tarball unpacked into it, or nothing left when the
# stream breaks off (tar fails on a truncated archive).
COPY = (
    "/bin/sh -c 'umask 077 && "
    'd=$(mktemp -d "${TMPDIR:-/tmp}/syscalls-ssh.XXXXXXXX") && '
    'echo "syscalls-ssh-dir $d" && cd "$d" && tar xzf - || { cd / && rm -rf "$d"; exit 1; }\''
)


@dataclass(frozen=True)
class Destination:
    host: str
    user: str | None = None
    port: int | None = None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = f"{self.user}@" if self.user else ""
        return f"{user}{host}" + (f":{self.port}" if self.port else "")


def destination(text: str) -> Destination:
    """ssh://[user@]host[:port] (host may be an alias from ~/.ssh/config, or [v6])."""
    form = "expected ssh://[user@]host[:port]"
    url = urllib.parse.urlsplit(text)
    if url.scheme != "ssh" or not url.hostname:
        raise ValueError(f"{text!r}: {form}")
    if url.password is not None:
        raise ValueError(f"{text!r}: no passwords here; log in with a key or ssh-agent")
    if url.path not in ("", "/") or url.query or url.fragment:
        raise ValueError(f"{text!r}: {form}, without a path")
    try:
        port = url.port
    except ValueError:
        raise ValueError(f"{text!r}: the port is not a number from 1 to 65535") from None
    return Destination(url.hostname, url.username or None, port or None)


def ssh_argv(dest: Destination, options: list[str], environ: dict[str, str]) -> list[str]:
    """The ssh command up to the host; the remote command is appended to it."""
    for option in options:
        if option.startswith("-") or not re.match(r"[A-Za-z]+[ =]", option):
            raise ValueError(
                f"--ssh-option {option!r}: expected an ssh_config option, Key=Value "
                "(e.g. IdentityFile=~/.ssh/lab); other ssh arguments go in $SYSCALLS_SSH"
            )
    argv = [*shlex.split(environ.get("SYSCALLS_SSH") or "ssh"), "-o", "BatchMode=yes"]
    for option in [*options, *DEFAULTS]:
        argv += ["-o", option]
    argv += ["-T", "-x", "-a", "-o", "ClearAllForwardings=yes"]
    if dest.port:
        argv += ["-p", str(dest.port)]
    if dest.user:
        argv += ["-l", dest.user]
    return [*argv, "--", dest.host]


# What ssh says when it cannot log in, and what to do about it.
_HINTS = {
    "Permission denied": "no password is asked here: use a key or ssh-agent "
    "(--ssh-option IdentityFile=...)",
    "Host key verification failed": "the host is not in known_hosts or its key changed: "
    "log in once with ssh, or --ssh-option StrictHostKeyChecking=accept-new",
    "Too many authentication failures": "--ssh-option IdentitiesOnly=yes with the right "
    "IdentityFile",
}
_NOISE = ("Warning: Permanently added", "@@@@", "Pseudo-terminal will not be allocated")


def ssh_error(stderr: bytes | str) -> str:
    """The one line of ssh's stderr that says why, with a hint where there is one."""
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith(_NOISE)] or ["ssh said nothing"]
    for phrase, hint in _HINTS.items():
        for line in lines:
            if phrase in line:
                return f"{line.rstrip('.')} ({hint})"
    return lines[-1].rstrip(".")


def test_limit(pytest_args: list[str], scale: float) -> float:
    """The per-test limit: `--timeout N` among the pytest arguments, else TEST_TIMEOUT."""
    limit = TEST_TIMEOUT * scale
    for i, arg in enumerate(pytest_args):
        value = arg.partition("=")[2] if arg.startswith("--timeout=") else None
        if arg == "--timeout" and i + 1 < len(pytest_args):
            value = pytest_args[i + 1]
        if value is not None:
            with contextlib.suppress(ValueError):  # pytest says what is wrong with it
                limit = float(value)
    return limit


def without_timeout(argv: list[str]) -> list[str]:
    """pytest arguments without --timeout (a remote without pytest-timeout rejects it)."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--timeout":
            skip = True
        elif not arg.startswith("--timeout="):
            kept.append(arg)
    return kept


def bundle(extra: dict[str, Path]) -> bytes:
    """A gzipped tar of what the suite needs (COPIED) and `extra` (name in tar -> file)."""

    def clean(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        if "__pycache__" in info.name.split("/") or info.name.endswith(".pyc"):
            return None
        if info.name == INSTALLED_COPY or info.name.startswith(f"{INSTALLED_COPY}/"):
            return None
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz", format=tarfile.USTAR_FORMAT) as tar:
        for name, path in paths.layout().items():
            tar.add(path, arcname=name, filter=clean)
        for name, path in extra.items():
            tar.add(path, arcname=name, filter=clean)
    return data.getvalue()


class OutOfTime(Exception):
    """The run's overall limit passed during a short session."""


class Session:
    """The ssh command for one destination, and its short sessions (each within
    SESSION_LIMIT and the run's overall deadline)."""

    def __init__(self, dest: Destination, argv: list[str], deadline: float) -> None:
        self.dest = dest
        self.argv = argv
        self.deadline = deadline  # time.monotonic() at which the run's limit passes

    def call(self, command: str, data: bytes = b"") -> subprocess.CompletedProcess[bytes]:
        left = self.deadline - time.monotonic()
        with ProcessGroup() as group:
            proc = group.start(
                [*self.argv, command],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            try:
                out, err = proc.communicate(data, timeout=max(0.1, min(SESSION_LIMIT, left)))
            except subprocess.TimeoutExpired:
                if left < SESSION_LIMIT:
                    raise OutOfTime from None
                raise TargetUnavailable(
                    f"{self.dest}: no answer within {SESSION_LIMIT:.0f} s"
                ) from None
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def probe(self) -> ssh_probe.Remote:
        p = self.call("/bin/sh -s", ssh_probe.script(ssh_probe.wanted()).encode())
        if p.returncode == 255:
            raise TargetUnavailable(f"cannot log in to {self.dest}: {ssh_error(p.stderr)}")
        try:
            return ssh_probe.parse(p.stdout.decode(errors="replace"))
        except ssh_probe.ProbeError as e:
            said = f"; ssh: {ssh_error(p.stderr)}" if p.stderr.strip() else ""
            raise TargetUnavailable(
                f"{self.dest} did not run the probe with /bin/sh (a forced command?): {e}{said}"
            ) from None

    def copy(self, tarball: bytes) -> str:
        """Unpack `tarball` into a new private directory there; returns its path."""
        p = self.call(COPY, tarball)
        said = p.stdout.decode(errors="replace").splitlines()  # a login may chatter first
        mark = "syscalls-ssh-dir "
        private = next((line[len(mark) :] for line in said if line.startswith(mark)), "")
        if p.returncode != 0:
            if SAFE.fullmatch(private):
                self.remove(private)
            raise TargetUnavailable(
                f"copying the suite to {self.dest} failed: {ssh_error(p.stderr)}"
            )
        if not SAFE.fullmatch(private):
            raise TargetUnavailable(
                f"{self.dest}: the private directory {private!r} has characters a login "
                "shell would need quoted (set TMPDIR there)"
            )
        return private

    def remove(self, private: str) -> str:
        """rm -rf the private directory; "" when done, else why not."""
        assert SAFE.fullmatch(private) and "/syscalls-ssh." in private
        self.deadline = max(self.deadline, time.monotonic() + SESSION_LIMIT)  # cleaning up
        try:
            p = self.call(f"rm -rf {private}")
        except (TargetUnavailable, OutOfTime):
            return f"no answer within {SESSION_LIMIT:.0f} s"
        return "" if p.returncode == 0 else ssh_error(p.stderr)


class Stream:
    """The run session's output: frames into OUT and onto the terminal."""

    def __init__(self, out: Path, echo: console.Sink) -> None:
        self.out = out
        self.echo = echo
        self.decoder = ssh_remote.Decoder()
        self.console = (out / results.CONSOLE).open("ab")
        self.events = (out / results.EVENTS).open("ab")
        self.status: int | None = None
        self.unavailable: str | None = None
        self.gone: str | None = None  # "" when the runner removed its directory
        self.stderr = b""
        self.progress = time.monotonic()
        self.started = False  # a test has started: from then on, the per-test limit
        self.garbled = ""  # what was wrong with the runner's output

    def close(self) -> None:
        self.console.close()
        self.events.close()

    def note(self, text: str) -> None:
        """A line of ours, on the terminal and in console.log."""
        line = f"syscalls: {NAME}: {text}\n".encode()
        self.show(line)

    def show(self, data: bytes) -> None:
        self.console.write(data)
        self.console.flush()
        self.echo.write(data)
        self.echo.flush()

    def feed(self, data: bytes) -> None:
        for kind, payload in self.decoder.feed(data):
            if kind == ssh_remote.OUTPUT:
                self.show(payload)
                self.progress = time.monotonic()
            elif kind == ssh_remote.EVENT:
                self.events.write(payload + b"\n")
                self.events.flush()
                self.progress = time.monotonic()
                self.started = self.started or b'"event": "start"' in payload
            elif kind == ssh_remote.FILE:
                name, _, content = payload.partition(b"\0")
                if name.decode() in RESULTS:
                    tmp = self.out / (name.decode() + ".tmp")
                    tmp.write_bytes(content)
                    tmp.replace(self.out / name.decode())
            elif kind == ssh_remote.STATUS:
                if not payload.isdigit():
                    raise ssh_remote.Garbled(f"a status of {payload[:20]!r}")
                self.status = int(payload)
                (self.out / results.STATUS).write_text(f"{self.status}\n")
            elif kind == ssh_remote.UNAVAILABLE:
                self.unavailable = payload.decode(errors="replace")
            elif kind == ssh_remote.GONE:
                self.gone = payload.decode(errors="replace")

    def feed_stderr(self, data: bytes) -> None:
        """ssh's own messages (and a dying runner's): kept for the reason, and logged."""
        self.stderr = (self.stderr + data)[-8192:]
        self.console.write(data)
        self.console.flush()

    def watch(self, proc: subprocess.Popen[bytes], limits: Limits, start: float) -> Ending:
        """Relay until the runner is done (its status and its directory gone), ssh
        exits, or a limit passes."""
        assert proc.stdout is not None and proc.stderr is not None and proc.stdin is not None
        fds = {proc.stdout.fileno(): self.feed, proc.stderr.fileno(): self.feed_stderr}
        beat = 0.0
        self.progress = time.monotonic()
        done_at: float | None = None
        while True:
            now = time.monotonic()
            if fds:
                ready, _, _ = select.select(list(fds), [], [], 0.5)
                for fd in ready:
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        del fds[fd]
                        continue
                    try:
                        fds[fd](chunk)
                    except ssh_remote.Garbled as e:
                        self.garbled = str(e)
                        return Ending("garbled")
            elif proc.poll() is not None:
                return Ending("finished" if self.done() else "exited", proc.returncode)
            else:
                time.sleep(0.2)
            if now >= beat:
                beat = now + HEARTBEAT
                try:
                    proc.stdin.write(b".")
                    proc.stdin.flush()
                except (BrokenPipeError, ValueError):
                    pass
            if self.done():
                done_at = done_at or now
                if self.gone is not None or now - done_at > GRACE:
                    return Ending("finished")
                continue
            if now - self.progress > (limits.test if self.started else limits.boot):
                return Ending("hang" if self.started else "no-start")
            if now - start > limits.total:
                return Ending("timeout")

    def done(self) -> bool:
        return self.status is not None or self.unavailable is not None

    def wind_down(self, proc: subprocess.Popen[bytes]) -> None:
        """Close the runner's stdin (its cue to stop and clean up) and take the frames it
        still sends, until ssh exits or GRACE passes."""
        assert proc.stdout is not None and proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
        deadline = time.monotonic() + GRACE
        fd = proc.stdout.fileno()
        while not self.garbled and self.gone is None and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                try:
                    self.feed(chunk)
                except ssh_remote.Garbled:
                    break
            elif proc.poll() is not None:
                break


def settings(opts: Options, private: str, choice: ssh_probe.Choice, limit: float) -> dict:
    """What the runner needs to know (the JSON line on its stdin)."""
    inside = Inside(choice.python.path, Path(private), Path(private) / "results")
    argv = pytest_argv(opts, NAME, limit, inside)[1:]  # the runner's own Python runs it
    if "pytest_timeout" not in choice.python.modules:
        argv = without_timeout(argv)  # the host's limit still holds
    return {
        "argv": argv,
        "env": {
            "SYSCALLS_TARGET": NAME,
            "SYSCALLS_TIME_SCALE": f"{opts.time_scale or 1.0:g}",
            "PYTHONDONTWRITEBYTECODE": "1",
        },
        "install": choice.install,
        "events": f"results/{results.EVENTS}",
        "results": list(RESULTS),
        "deadline": (opts.time_limit or TIME_LIMIT) + 2 * GRACE,
        "lost": LOST,
    }


def table(opts: Options, remote: ssh_probe.Remote, python: ssh_probe.Python) -> tuple[str, dict]:
    """The --platform for the remote and the files to copy for it: the one named, or
    the one for the remote's uname; checked here, so that a missing one stops early."""
    spec = opts.platform or remote.table(python)
    try:
        platform = Platform.load(spec)
    except PlatformError as e:
        raise TargetUnavailable(f"{e} (the remote is {remote.sysname} {remote.machine})") from None
    if spec.endswith(".toml"):  # a table of the user's own: it travels along
        name = f"tables/{Path(spec).name}"
        return name, {name: Path(spec)}
    return platform.name, {}


def run(opts: Options) -> int:
    try:
        dest = destination(opts.destination or "")
        argv = ssh_argv(dest, opts.ssh_options, dict(os.environ))
    except ValueError as e:
        raise TargetUnavailable(str(e)) from None
    results.clear(opts.out)
    scale = opts.time_scale or 1.0
    limit = test_limit(opts.pytest_args, scale)
    # No progress for twice the per-test limit (a minute more at most) is a hang: a
    # remote pytest-timeout, where there is one, has had its chance first.
    limits = Limits(SESSION_LIMIT, limit + min(limit, 60.0), opts.time_limit or TIME_LIMIT)
    stream = Stream(opts.out, console.Printable(getattr(sys.stdout, "buffer", sys.stdout)))
    start = time.monotonic()
    session = Session(dest, argv, start + limits.total)
    private = ""
    ending = Ending("interrupted")
    try:
        with terminate_as_interrupt():
            try:
                remote = session.probe()
                choice = ssh_probe.choose(remote, str(dest))
                if not SAFE.fullmatch(choice.python.path):
                    raise TargetUnavailable(
                        f"{dest}: {choice.python.path!r} has characters a login shell would "
                        "need quoted (name another with $SYSCALLS_SSH_PYTHON)"
                    )
                platform, extra = table(opts, remote, choice.python)
                stream.note(
                    f"{dest}: {remote.sysname} {remote.machine}, {choice.python.path} "
                    f"{choice.python.release}, table {platform}"
                )
                tarball = bundle(extra)
                private = session.copy(tarball)
                stream.note(f"suite copied into {dest}:{private} ({len(tarball) // 1024} KiB)")
                runner_opts = dataclasses.replace(
                    opts, platform=f"{private}/{platform}" if extra else platform
                )
                ending = launch(session, stream, runner_opts, private, choice, limit, limits, start)
            except ssh_probe.Missing as e:
                raise TargetUnavailable(str(e)) from None
            except OutOfTime:
                ending = Ending("timeout")
            except KeyboardInterrupt:
                ending = Ending("interrupted")
    finally:
        stream.close()
        if private and stream.gone is None:  # the runner did not say it removed it
            failed = session.remove(private)
            stream.gone = f"{private} may remain ({failed})" if failed else ""
    if stream.unavailable is not None:  # pip could not install what the probe found missing
        packages = ssh_probe.hint(remote.sysname, choice.python.version, choice.install)
        raise TargetUnavailable(f"{dest}: {stream.unavailable}; to install: {packages}")
    return conclude(opts, dest, stream, ending, limits, time.monotonic() - start)


def launch(
    session: Session,
    stream: Stream,
    opts: Options,
    private: str,
    choice: ssh_probe.Choice,
    limit: float,
    limits: Limits,
    start: float,
) -> Ending:
    """The run session: start the runner, send its settings, watch it, wind it down."""
    line = (json.dumps(settings(opts, private, choice, limit)) + "\n").encode()
    with ProcessGroup() as group:
        proc = group.start(
            [*session.argv, f"{choice.python.path} -u {private}/{RUNNER}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):  # ssh ended at once: watch() says why
            proc.stdin.write(line)
            proc.stdin.flush()
        try:
            ending = stream.watch(proc, limits, start)
        except KeyboardInterrupt:
            ending = Ending("interrupted")
        with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C: stop waiting
            stream.wind_down(proc)
        proc.poll()
        if ending.kind == "exited":
            ending = Ending("exited", proc.returncode)
    return ending


def conclude(
    opts: Options, dest: Destination, stream: Stream, ending: Ending, limits: Limits, elapsed: float
) -> int:
    """The exit status; a finished run's summary, or one line saying why it ended."""
    out = opts.out
    where = f"syscalls: {NAME} {dest}"
    if stream.status is not None:
        results.settle(out, NAME, stream.status)  # what pytest did not write, from the log
        summary = ", ".join(f"{n} {o}" for o, n in sorted(results.counts(out).items()))
        print(f"{where}: suite finished in {elapsed:.0f} s, status {stream.status}: {summary}")
        print(f"results: {out / results.JUNIT}  {out / results.PROFILE}")
        return results.exit_status(out, stream.status)
    said = ssh_error(stream.stderr)
    why = {
        "hang": f"no progress for {limits.test:g} s (hung)",
        "no-start": f"no test started within {limits.boot:g} s",
        "timeout": f"the run exceeded its overall limit of {limits.total:g} s",
        "interrupted": "interrupted (Ctrl-C, SIGTERM or SIGHUP)",
        "exited": f"the connection was lost ({said})"
        if ending.returncode == 255
        else f"the runner stopped (exit status {ending.returncode}: {said})",
        "finished": "the runner ended without the suite's status",
        "garbled": f"the runner's output could not be read ({stream.garbled})",
    }[ending.kind]
    events = results.salvage(out, NAME, why)
    line = f"{where}: {why} after {elapsed:.0f} s"
    if events.running:
        line += f"; running: {', '.join(events.running)}"
    line += f"; {len(events.ended)} finished test(s) kept in {out}"
    if stream.gone:
        line += f"; on the remote: {stream.gone}"
    print(line, file=sys.stderr)
    return TARGET_FAILED
