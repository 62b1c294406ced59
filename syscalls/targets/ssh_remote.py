"""The remote half of --target ssh: it runs on the remote machine with the remote's own
Python, as a script from the private directory the host copied the suite into
(DIR/syscalls/targets/ssh_remote.py), and uses the standard library alone, so that it
can say what is missing before anything else is imported. The host imports this module
too, for the wire format.

Wire format. stdin: one JSON line (the run's settings, see `run`), then a byte now and
then (a heartbeat) until the host closes it. stdout: MAGIC, then frames of a kind byte,
a 4-byte big-endian length and the payload:

    o  console output (pytest's stdout and stderr, pip's)
    e  one progress event: a line of syscalls.targets.events, without its newline
    f  a result file: its name, NUL, its content
    x  the suite's exit status (ASCII digits)
    u  the suite cannot run there: one line saying why (the host then exits 2)
    g  the private directory is gone ("") or what of it could not be removed

What the login prints before MAGIC (a motd, a chatty shell rc) is console output.

Lifetime. The runner ends the suite -- pytest and every process below it -- and removes
the private directory when pytest is done, and also when stdin reaches end of file (the
host closed it, or the connection died and sshd closed the pipe), when no heartbeat came
for `lost` seconds (a network that went silent, which sshd may not notice for hours),
when its `deadline` passes, or on SIGHUP, SIGTERM or SIGINT. Processes that left
pytest's process group are found through the parent links (/proc, or `ps` on the BSDs)
and frozen with SIGSTOP before SIGKILL, so none can fork away meanwhile; on Linux and
FreeBSD the runner is also their reaper (orphans are re-parented to it).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

MAGIC = b"\0syscalls-ssh-runner 1\n"
HEADER = struct.Struct(">cI")
LARGEST = 1 << 28  # a bigger frame means the stream is garbled (or hostile)
OUTPUT, EVENT, FILE, STATUS, UNAVAILABLE, GONE = b"o", b"e", b"f", b"x", b"u", b"g"
KINDS = (OUTPUT, EVENT, FILE, STATUS, UNAVAILABLE, GONE)


def frame(kind: bytes, payload: bytes) -> bytes:
    return HEADER.pack(kind, len(payload)) + payload


class Garbled(ValueError):
    """The byte stream is not frames (the host reads the runner; the runner is not trusted)."""


class Decoder:
    """Frames from a byte stream fed in pieces; bytes before MAGIC come back as OUTPUT."""

    def __init__(self) -> None:
        self.buffer = b""
        self.synced = False

    def feed(self, data: bytes) -> Iterator[tuple[bytes, bytes]]:
        self.buffer += data
        if not self.synced:
            at = self.buffer.find(MAGIC)
            if at < 0:
                # Keep what could be the start of MAGIC; the rest is the login's chatter.
                keep = len(MAGIC) - 1
                chatter, self.buffer = self.buffer[:-keep], self.buffer[-keep:]
                if chatter:
                    yield OUTPUT, chatter
                return
            if at:
                yield OUTPUT, self.buffer[:at]
            self.buffer = self.buffer[at + len(MAGIC) :]
            self.synced = True
        while len(self.buffer) >= HEADER.size:
            kind, size = HEADER.unpack_from(self.buffer)
            if kind not in KINDS or size > LARGEST:
                raise Garbled(f"a frame of kind {kind!r} and {size} bytes")
            if len(self.buffer) < HEADER.size + size:
                return
            payload = self.buffer[HEADER.size : HEADER.size + size]
            self.buffer = self.buffer[HEADER.size + size :]
            yield kind, payload


class Writer:
    """Frames to the host; a connection that is gone makes writing a no-op."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.lock = threading.Lock()
        self.broken = False

    def send(self, kind: bytes, payload: bytes = b"") -> None:
        self.write(frame(kind, payload))

    def write(self, data: bytes) -> None:
        with self.lock:
            if self.broken:
                return
            try:
                self.stream.write(data)
                self.stream.flush()
            except (BrokenPipeError, ConnectionError, ValueError):
                self.broken = True


class Host:
    """Watches stdin: why the host is gone (EOF, silence), or None while it is there."""

    def __init__(self, lost_after: float) -> None:
        self.lost_after = lost_after
        self.last = time.monotonic()
        self.closed = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(0, 4096)
            except OSError:
                data = b""
            if not data:
                self.closed = True
                return
            self.last = time.monotonic()

    def gone(self) -> str | None:
        if self.closed:
            return "the host closed the connection"
        if time.monotonic() - self.last > self.lost_after:
            return f"no word from the host for {self.lost_after:.0f} s"
        return None


def become_reaper() -> None:
    """Orphans of the suite's processes are re-parented to us (Linux, FreeBSD)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        if sys.platform.startswith("linux"):
            libc.prctl.argtypes = [ctypes.c_int, *[ctypes.c_ulong] * 4]
            libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
        elif sys.platform.startswith("freebsd"):
            libc.procctl.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int, ctypes.c_void_p]
            libc.procctl(0, os.getpid(), 2, None)  # P_PID, PROC_REAP_ACQUIRE


def parents() -> dict[int, int]:
    """pid -> parent pid of every process we can see."""
    table: dict[int, int] = {}
    if sys.platform.startswith("linux"):  # /proc: no process of our own needed
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    with open(f"/proc/{name}/stat", "rb") as f:
                        stat = f.read()
                except OSError:
                    continue
                table[int(name)] = int(stat.rpartition(b")")[2].split()[1])
        return table
    ps = subprocess.Popen(
        ["ps", "-A", "-o", "pid=", "-o", "ppid="], stdout=subprocess.PIPE, text=True
    )
    listing, _ = ps.communicate()
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) == 2 and all(f.isdigit() for f in fields):
            table[int(fields[0])] = int(fields[1])
    table.pop(ps.pid, None)  # ps itself, reaped by now: its pid may be anyone's next
    return table


def descendants(root: int) -> set[int]:
    table = parents()
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, ppid in table.items() if ppid in frontier} - found
        found |= frontier
    return found


def end_tree(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGKILL pytest's group and every process below us, then reap them."""
    if proc is not None:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
    frozen: set[int] = set()
    for _ in range(50):  # until a pass finds nothing new (each takes a fresh look)
        new = descendants(os.getpid()) - frozen
        if not new:
            break
        for pid in new:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGSTOP)
        frozen |= new
    for pid in frozen:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    if proc is not None:
        proc.wait()
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


def remove(path: Path) -> str:
    """Remove the private directory; "" when it is gone, else what stayed and why."""

    def retry(function: object, name: str, exc: object) -> None:
        # A test may leave a directory without write or search permission.
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(name), 0o700)
        with contextlib.suppress(OSError):
            os.chmod(name, 0o700)
        with contextlib.suppress(OSError):
            if os.path.isdir(name) and not os.path.islink(name):
                shutil.rmtree(name, ignore_errors=True)
            else:
                os.unlink(name)

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=retry)
    else:
        shutil.rmtree(path, onerror=retry)
    if not os.path.lexists(path):
        return ""
    left = sum(1 for _ in path.rglob("*"))
    return f"{path}: {left} entries could not be removed"


class Events:
    """New complete lines of the events file, as pytest appends them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""

    def new_lines(self) -> list[bytes]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return []
        self.offset += len(data)
        *lines, self.partial = (self.partial + data).split(b"\n")
        return [line for line in lines if line]


def venv(private: Path) -> tuple[str, str]:
    """A venv for the run, in the private directory, that also sees every package this
    interpreter sees (a .pth file lists its sys.path: a venv's --system-site-packages
    would show only the base installation's); (its python, "") or ("", why not)."""
    where = private / "venv"
    made = subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(where)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        said = (made.stderr.strip().splitlines() or ["no message"])[-1]
        return "", f"could not make a venv for pip: {said}"
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    site = where / "lib" / version / "site-packages"
    seen = [p for p in sys.path[1:] if p and os.path.isdir(p)]  # [0]: this script's dir
    (site / "_syscalls_base.pth").write_text("".join(f"{p}\n" for p in seen))
    return str(where / "bin" / "python"), ""


def install(packages: list[str], private: Path, out: Writer, host: Host) -> tuple[str, str]:
    """pip install `packages` into a venv of the run's own (see venv): (the venv's
    python, "") when done, else ("", why not, one line)."""
    out.send(OUTPUT, f"syscalls-remote: installing {', '.join(packages)} with pip\n".encode())
    python, why = venv(private)
    if why:
        return "", why
    argv = [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
    argv += ["--progress-bar", "off", "--retries", "1", "--timeout", "15", *packages]
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert proc.stdout is not None
    last = ""
    for line in proc.stdout:
        out.send(OUTPUT, line)
        if line.strip():
            last = line.decode(errors="replace").strip()
        if host.gone():
            end_tree(proc)
            return "", "the host went away during pip install"
    if proc.wait() != 0:
        return "", f"pip could not install {', '.join(packages)}: {last}"
    return python, ""


def run(settings: dict, out: Writer, host: Host, private: Path) -> None:
    """Set up, run pytest while relaying its console and events, send the results.
    settings: argv (pytest's, after the interpreter), env (added to ours), install (pip
    names, usually none), events (a path in the private directory), results (names in
    its results/), deadline and lost (seconds: for the whole run, without a heartbeat)."""
    deadline = time.monotonic() + settings["deadline"]
    env = {**os.environ, **settings["env"], "TMPDIR": str(private / "tmp")}
    (private / "tmp").mkdir(exist_ok=True)
    (private / "results").mkdir(exist_ok=True)
    python = sys.executable
    if settings["install"]:
        python, why = install(settings["install"], private, out, host)
        if why:
            out.send(UNAVAILABLE, why.encode())
            return
    events = Events(private / settings["events"])
    proc = subprocess.Popen(
        [python, *settings["argv"]],
        cwd=private,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own group: killed as one
    )
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], 0.2)
            chunk = os.read(fd, 65536) if ready else b""
            if chunk:
                out.send(OUTPUT, chunk)
            for line in events.new_lines():
                out.send(EVENT, line)
            if host.gone() or time.monotonic() > deadline:
                return
            # Done at end of file, or once pytest has exited and the pipe is drained (a
            # process it left behind may hold the pipe open: it is ended below).
            if (ready and not chunk) or (not ready and proc.poll() is not None):
                break
        status = proc.wait()
        for line in events.new_lines():
            out.send(EVENT, line)
        for name in settings["results"]:
            with contextlib.suppress(OSError):
                out.send(FILE, name.encode() + b"\0" + (private / "results" / name).read_bytes())
        out.send(STATUS, str(status).encode())
    finally:
        end_tree(proc)
        proc.stdout.close()


def main() -> int:
    # DIR/syscalls/targets/ssh_remote.py: the private directory is three levels up.
    private = Path(__file__).resolve().parents[2]
    out = Writer(sys.stdout.buffer)
    out.write(MAGIC)
    become_reaper()

    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    for s in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
        signal.signal(s, interrupted)
    try:
        line = sys.stdin.buffer.readline()
        settings = json.loads(line) if line.strip() else None
        if settings is not None:
            run(settings, out, Host(settings["lost"]), private)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not stop cleanup
        end_tree(None)
        out.send(GONE, remove(private).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
