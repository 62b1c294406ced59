"""syscalls.targets.ssh_remote: the wire format, and the runner run for real as the
remote runs it (a script in a private directory, its settings on stdin), with a stand-in
for pytest: what it relays, and that it ends the process tree and removes the directory
on every way a run ends (done, the host gone, silence, deadline, SIGTERM)."""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from syscalls.targets import ssh_remote
from syscalls.targets.ssh_remote import (
    EVENT,
    FILE,
    GONE,
    MAGIC,
    OUTPUT,
    STATUS,
    UNAVAILABLE,
    Decoder,
    Events,
    Garbled,
    frame,
)

FRAMES = [(OUTPUT, b"hello\n"), (EVENT, b'{"event": "start"}'), (FILE, b"junit.xml\0<x/>")]


def test_frames_survive_any_split_and_chatter_before_magic_is_output() -> None:
    stream = b"Last login: yesterday\n" + MAGIC + b"".join(frame(k, p) for k, p in FRAMES)
    for cut in range(1, len(stream)):
        decoder = Decoder()
        got = [*decoder.feed(stream[:cut]), *decoder.feed(stream[cut:])]
        chatter = b"".join(p for k, p in got if k == OUTPUT and p != b"hello\n")
        assert chatter == b"Last login: yesterday\n", cut
        assert [f for f in got if f[1] != chatter and f in FRAMES] == FRAMES, cut


def test_a_stream_that_is_not_frames_is_garbled() -> None:
    with pytest.raises(Garbled, match="kind b'z'"):
        list(Decoder().feed(MAGIC + b"z\0\0\0\1!"))
    with pytest.raises(Garbled, match="bytes"):
        list(Decoder().feed(MAGIC + b"o\xff\xff\xff\xff"))


def test_events_come_as_complete_lines(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    events = Events(path)
    assert events.new_lines() == []  # not there yet
    path.write_bytes(b'{"a": 1}\n{"b"')
    assert events.new_lines() == [b'{"a": 1}']
    with path.open("ab") as f:
        f.write(b": 2}\n")
    assert events.new_lines() == [b'{"b": 2}']


@pytest.mark.parametrize("system", ["linux", "freebsd"])  # /proc, or ps(1) as on the BSDs
def test_parents_are_read_from_proc_or_ps(system: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", system)
    with subprocess.Popen(["sleep", "30"]) as child:
        table = ssh_remote.parents()
        below = ssh_remote.descendants(os.getppid())
        child.kill()
    assert table[os.getpid()] == os.getppid()
    assert table[child.pid] == os.getpid()
    assert below >= {os.getpid(), child.pid}


def test_remove_takes_directories_without_permission_too(tmp_path: Path) -> None:
    private = tmp_path / "private"
    (private / "a" / "b").mkdir(parents=True)
    (private / "a" / "b" / "f").write_text("x")
    (private / "a").chmod(0o500)
    (private / "a" / "b").chmod(0)
    assert ssh_remote.remove(private) == ""
    assert not private.exists()


# -- the runner, for real ----------------------------------------------------------------

# A stand-in for pytest: writes a progress event, prints, waits for `release` to exist
# (or forever, with a child in a session of its own), writes the results, exits 1.
PYTEST = textwrap.dedent(
    """
    import os, subprocess, sys, time
    mode = sys.argv[1]
    with open("results/events.jsonl", "a") as f:
        f.write('{"event": "start", "nodeid": "t"}\\n')
    child = subprocess.Popen(["sleep", "300"], start_new_session=True)
    print("child", child.pid, "tmpdir", os.environ["TMPDIR"], flush=True)
    while mode == "hang":
        time.sleep(1)
    with open("results/events.jsonl", "a") as f:
        f.write('{"event": "end", "nodeid": "t"}\\n')
    open("results/junit.xml", "w").write("<testsuites/>")
    try:
        import cffi, syscalls_ssh_pkg
        print("installed", syscalls_ssh_pkg.VALUE, "in", sys.prefix, "beside cffi", flush=True)
    except ImportError:
        pass
    print("done", os.environ["SYSCALLS_TARGET"], flush=True)
    sys.exit(1)
    """
)


@dataclass
class Runner:
    proc: subprocess.Popen[bytes]
    private: Path
    frames: list[tuple[bytes, bytes]] = field(default_factory=list)
    decoder: Decoder = field(default_factory=Decoder)

    def read_until(self, kind: bytes, timeout: float = 30) -> bytes:
        """Frames up to the first of `kind`; its payload."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for k, payload in self.frames:
                if k == kind:
                    return payload
            if not self.more():
                break
        raise AssertionError(f"no {kind!r} frame: {self.frames}")

    def more(self) -> bool:
        """Take what the runner wrote within 0.2 s; False at its end."""
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
        if ready:
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                return False
            self.frames += self.decoder.feed(chunk)
        return True

    def output(self) -> str:
        return b"".join(p for k, p in self.frames if k == OUTPUT).decode()

    def child(self, timeout: float = 30) -> int:
        """The pid of the stand-in's child, once it has printed it."""
        deadline = time.monotonic() + timeout
        while not (found := re.search(r"child (\d+) tmpdir", self.output())):
            assert time.monotonic() < deadline and self.more(), self.frames
        return int(found.group(1))


Start = Callable[[dict], Runner]


def _settings(mode: str, **changes: object) -> dict:
    settings = {
        "argv": ["-c", PYTEST, mode],
        "env": {"SYSCALLS_TARGET": "ssh"},
        "install": [],
        "events": "results/events.jsonl",
        "results": ["junit.xml", "profile.json"],
        "deadline": 120,
        "lost": 60,
    }
    return {**settings, **changes}


@pytest.fixture
def runner() -> Iterator[Start]:
    started: list[Runner] = []

    def start(settings: dict) -> Runner:
        private = Path(tempfile.mkdtemp(prefix="syscalls-ssh."))
        (private / "syscalls" / "targets").mkdir(parents=True)
        shutil.copy(ssh_remote.__file__, private / "syscalls" / "targets")
        proc = subprocess.Popen(
            [sys.executable, private / "syscalls" / "targets" / "ssh_remote.py"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(settings).encode() + b"\n")
        proc.stdin.flush()
        started.append(Runner(proc, private))
        return started[-1]

    yield start
    for r in started:
        r.proc.kill()
        r.proc.wait()
        for pipe in (r.proc.stdin, r.proc.stdout):
            if pipe is not None:
                pipe.close()
        shutil.rmtree(r.private, ignore_errors=True)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too (its reaper, the runner, may be gone already).
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"


def test_runner_relays_the_run_and_removes_its_directory(runner: Start) -> None:
    r = runner(_settings("finish"))
    assert r.read_until(STATUS) == b"1"
    assert r.read_until(GONE) == b""
    assert r.proc.wait(10) == 0
    kinds = [k for k, _ in r.frames]
    assert kinds.index(EVENT) < kinds.index(FILE) < kinds.index(STATUS) < kinds.index(GONE)
    events = [p for k, p in r.frames if k == EVENT]
    assert events == [b'{"event": "start", "nodeid": "t"}', b'{"event": "end", "nodeid": "t"}']
    files = [p for k, p in r.frames if k == FILE]
    assert files == [b"junit.xml\0<testsuites/>"]  # profile.json was not written: not sent
    assert "done ssh" in r.output()
    assert f"tmpdir {r.private}/tmp" in r.output()  # TMPDIR is inside the private directory
    assert not r.private.exists()
    assert not alive(r.child())  # left running by "pytest", in a session of its own: ended


@pytest.mark.parametrize("how", ["stdin closed", "no heartbeat", "deadline", "SIGTERM"])
def test_runner_ends_the_tree_and_cleans_up_however_the_run_ends(runner: Start, how: str) -> None:
    changes = {"no heartbeat": {"lost": 1}, "deadline": {"deadline": 1}}.get(how, {})
    r = runner(_settings("hang", **changes))
    child = r.child()
    assert alive(child)
    if how == "stdin closed":
        r.proc.stdin.close()
    elif how == "SIGTERM":
        r.proc.send_signal(signal.SIGTERM)
    assert r.read_until(GONE, 30) == b""
    assert r.proc.wait(10) == 0
    assert STATUS not in [k for k, _ in r.frames]
    assert not r.private.exists()
    assert not alive(child)


def _wheel(where: Path) -> None:
    """A wheel of one module, syscalls_ssh_pkg, for pip to install with no index."""
    dist = "syscalls_ssh_pkg-1.0.dist-info"
    files = {
        "syscalls_ssh_pkg.py": "VALUE = 42\n",
        f"{dist}/METADATA": "Metadata-Version: 2.1\nName: syscalls-ssh-pkg\nVersion: 1.0\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = "".join(f"{name},,\n" for name in [*files, f"{dist}/RECORD"])
    with zipfile.ZipFile(where / "syscalls_ssh_pkg-1.0-py3-none-any.whl", "w") as wheel:
        for name, text in {**files, f"{dist}/RECORD": record}.items():
            wheel.writestr(name, text)


def test_runner_installs_what_is_missing_into_a_venv_of_its_own(
    runner: Start, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _wheel(tmp_path)
    env = {"PIP_NO_INDEX": "1", "PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": str(tmp_path)}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    r = runner(_settings("finish", install=["syscalls-ssh-pkg"]))
    assert r.read_until(STATUS, 120) == b"1"
    # pytest ran in the venv, which has the new package and still this Python's cffi.
    assert f"installed 42 in {r.private}/venv beside cffi" in r.output()
    assert r.read_until(GONE) == b""
    assert not r.private.exists()


def test_runner_says_when_pip_cannot_install_what_is_missing(
    runner: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in {"PIP_NO_INDEX": "1", "PIP_CONFIG_FILE": os.devnull}.items():
        monkeypatch.setenv(key, value)
    r = runner(_settings("finish", install=["syscalls-no-such-package"]))
    why = r.read_until(UNAVAILABLE, 60).decode()
    assert why.startswith("pip could not install syscalls-no-such-package: "), why
    assert r.read_until(GONE) == b""
    assert not r.private.exists()
