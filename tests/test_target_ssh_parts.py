"""syscalls.targets.ssh, the host side, piece by piece: the destination, the ssh command,
ssh's errors in one line, the per-test limit, what is copied, the runner's settings, the
table, and what the host does with the runner's frames. (tests/test_target_ssh.py runs
it against a real sshd.)"""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from syscalls import cli, paths
from syscalls.targets import Options, TargetUnavailable, ssh, ssh_remote
from syscalls.targets.ssh import Destination, destination, ssh_argv, ssh_error
from syscalls.targets.ssh_probe import Choice, Python, Remote
from syscalls.targets.ssh_remote import MAGIC, frame


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ssh://box", Destination("box")),
        ("ssh://me@box.example.org:2222", Destination("box.example.org", "me", 2222)),
        ("ssh://root@[::1]:22/", Destination("::1", "root", 22)),
    ],
)
def test_destination_reads_ssh_urls(text: str, expected: Destination) -> None:
    assert destination(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("ssh", "expected ssh://"),
        ("box:22", "expected ssh://"),
        ("ssh://me:secret@box", "no passwords"),
        ("ssh://box:99999", "port"),
        ("ssh://box:http", "port"),
        ("ssh://box/home/me", "without a path"),
    ],
)
def test_destination_refuses_what_is_not_one(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        destination(text)


def test_destination_prints_as_typed() -> None:
    assert str(Destination("::1", "root", 22)) == "root@[::1]:22"
    assert str(Destination("box")) == "box"


def test_ssh_argv_never_prompts_and_lets_the_users_options_win() -> None:
    argv = ssh_argv(Destination("box", "me", 2222), ["ConnectTimeout=5"], {})
    assert argv[:3] == ["ssh", "-o", "BatchMode=yes"]
    options = [argv[i + 1] for i, a in enumerate(argv) if a == "-o"]
    # ssh keeps the first value it reads: the user's ConnectTimeout before ours.
    assert options.index("ConnectTimeout=5") < options.index("ConnectTimeout=20")
    assert argv[-6:] == ["-p", "2222", "-l", "me", "--", "box"]
    assert {"-T", "-x", "-a"} <= set(argv)  # no tty, no X11 or agent forwarding


def test_ssh_argv_takes_the_ssh_command_from_the_environment() -> None:
    argv = ssh_argv(Destination("box"), [], {"SYSCALLS_SSH": "ssh -F '/my config'"})
    assert argv[:3] == ["ssh", "-F", "/my config"]
    assert argv[-2:] == ["--", "box"]


@pytest.mark.parametrize("option", ["-i key", "-oPort=2", "=x", ""])
def test_ssh_argv_refuses_what_is_not_a_config_option(option: str) -> None:
    with pytest.raises(ValueError, match="expected an ssh_config option"):
        ssh_argv(Destination("box"), [option], {})


@pytest.mark.parametrize(
    ("stderr", "expected"),
    [
        (
            "Warning: Permanently added 'box' (ED25519) to the list of known hosts.\r\n"
            "me@box: Permission denied (publickey).\r\n",
            "me@box: Permission denied (publickey) (no password is asked here: use a key",
        ),
        (
            "No ED25519 host key is known for box and you have requested strict checking.\n"
            "Host key verification failed.\n",
            "Host key verification failed (the host is not in known_hosts",
        ),
        ("ssh: connect to host box port 2: Connection refused\n", "ssh: connect to host box"),
        ("", "ssh said nothing"),
    ],
)
def test_ssh_error_is_the_line_that_says_why(stderr: str, expected: str) -> None:
    line = ssh_error(stderr.encode())
    assert line.startswith(expected)
    assert "\n" not in line


def test_per_test_limit_is_pytests_timeout_argument() -> None:
    assert ssh.test_limit([], 1.0) == ssh.TEST_TIMEOUT
    assert ssh.test_limit([], 2.0) == 2 * ssh.TEST_TIMEOUT
    assert ssh.test_limit(["-k", "x", "--timeout", "7"], 1.0) == 7
    assert ssh.test_limit(["--timeout=3.5"], 1.0) == 3.5
    assert ssh.test_limit(["--timeout=soon"], 1.0) == ssh.TEST_TIMEOUT  # pytest says why


def test_without_timeout_drops_both_spellings() -> None:
    argv = ["-q", "--timeout=300", "-k", "x", "--timeout", "2", "--timeouts-are-other"]
    assert ssh.without_timeout(argv) == ["-q", "-k", "x", "--timeouts-are-other"]


def test_bundle_holds_what_the_suite_needs_and_nothing_else(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text("[platform]\n")
    data = io.BytesIO(ssh.bundle({"tables/mine.toml": tmp_path / "mine.toml"}))
    with tarfile.open(fileobj=data) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert {n.split("/")[0] for n in names} == {*ssh.COPIED, "tables"}
    assert ssh.RUNNER in names and "conftest.py" in names and "suites/README.md" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert {(m.uid, m.uname) for m in members} == {(0, "")}
    # Everything the suite's files are made of, and only that.
    on_disk = {
        str(p.relative_to(paths.ROOT))
        for name in ("syscalls", "suites", "platforms")
        for p in (paths.ROOT / name).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert {m.name for m in members if m.isfile()} - {
        "conftest.py",
        "pyproject.toml",
        "tables/mine.toml",
    } == on_disk


@pytest.mark.parametrize("cut", [None, 2000])
def test_copy_unpacks_into_a_private_directory_or_leaves_nothing(
    tmp_path: Path, cut: int | None
) -> None:
    # What the remote's login shell runs, here: a whole tarball, and one cut short.
    tarball = ssh.bundle({})
    p = subprocess.run(
        ["sh", "-c", ssh.COPY],
        input=tarball[:cut],
        capture_output=True,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    made = list(tmp_path.iterdir())
    if cut:
        assert p.returncode != 0 and made == [], p.stderr
        return
    assert p.returncode == 0, p.stderr
    (private,) = made
    assert p.stdout.decode() == f"syscalls-ssh-dir {private}\n"
    assert private.name.startswith("syscalls-ssh.") and private.stat().st_mode & 0o777 == 0o700
    assert (private / ssh.RUNNER).read_bytes() == (paths.ROOT / ssh.RUNNER).read_bytes()


def _choice(*modules: str) -> Choice:
    return Choice(Python("/usr/local/bin/python3.11", (3, 11, 9), 8, frozenset(modules)), [])


def test_settings_run_pytest_inside_the_private_directory(tmp_path: Path) -> None:
    opts = Options(out=tmp_path, pytest_args=["suites/fs", "--timeout", "9"], platform="x/y")
    s = ssh.settings(opts, "/tmp/syscalls-ssh.abc", _choice("pytest_timeout"), 9)
    argv = s["argv"]
    assert argv[:2] == ["-m", "pytest"]
    assert "--junitxml=/tmp/syscalls-ssh.abc/results/junit.xml" in argv
    assert "--events=/tmp/syscalls-ssh.abc/results/events.jsonl" in argv
    assert "--rootdir=/tmp/syscalls-ssh.abc" in argv and "--platform=x/y" in argv
    assert argv[-3:] == ["suites/fs", "--timeout", "9"]  # the user's, last: theirs wins
    assert "--workers=auto" in argv
    assert s["events"] == "results/events.jsonl"
    assert s["env"]["SYSCALLS_TARGET"] == "ssh"
    json.dumps(s)  # it travels as JSON


def test_settings_without_pytest_timeout_there_pass_no_timeout(tmp_path: Path) -> None:
    opts = Options(out=tmp_path, pytest_args=["--timeout", "9"])
    argv = ssh.settings(opts, "/tmp/syscalls-ssh.abc", _choice(), 9)["argv"]
    assert not [a for a in argv if a.startswith("--timeout")] and "9" not in argv


def test_table_follows_uname_or_platform(tmp_path: Path) -> None:
    python = _choice().python
    assert ssh.table(Options(out=tmp_path), Remote("FreeBSD", "amd64"), python) == (
        "freebsd/amd64",
        {},
    )
    with pytest.raises(TargetUnavailable, match=r"no table for linux/ppc64le .*Linux ppc64le"):
        ssh.table(Options(out=tmp_path), Remote("Linux", "ppc64le"), python)
    own = paths.ROOT / "platforms" / "linux" / "x86_64.toml"
    name, extra = ssh.table(Options(out=tmp_path, platform=str(own)), Remote("Linux", "x"), python)
    assert name == "tables/x86_64.toml" and extra == {name: own}


def test_stream_files_the_frames(tmp_path: Path) -> None:
    echo = io.BytesIO()
    stream = ssh.Stream(tmp_path, echo)
    data = MAGIC + b"".join(
        [
            frame(ssh_remote.OUTPUT, b"....\n"),
            frame(ssh_remote.EVENT, b'{"event": "start", "nodeid": "t"}'),
            frame(ssh_remote.FILE, b"junit.xml\0<testsuites/>"),
            frame(ssh_remote.FILE, b"../../etc/passwd\0no"),  # not a result: ignored
            frame(ssh_remote.STATUS, b"1"),
            frame(ssh_remote.GONE, b""),
        ]
    )
    for i in range(0, len(data), 7):
        stream.feed(data[i : i + 7])
    stream.close()
    assert echo.getvalue() == b"....\n"
    assert (tmp_path / "console.log").read_bytes() == b"....\n"
    assert (tmp_path / "events.jsonl").read_text() == '{"event": "start", "nodeid": "t"}\n'
    assert (tmp_path / "junit.xml").read_text() == "<testsuites/>"
    assert (tmp_path / "status").read_text() == "1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "console.log",
        "events.jsonl",
        "junit.xml",
        "status",
    ]
    assert stream.started and stream.status == 1 and stream.gone == ""


def test_stream_refuses_a_status_that_is_not_a_number(tmp_path: Path) -> None:
    stream = ssh.Stream(tmp_path, io.BytesIO())
    with pytest.raises(ssh_remote.Garbled):
        stream.feed(MAGIC + frame(ssh_remote.STATUS, b"lots"))
    stream.close()


@pytest.mark.parametrize(
    ("target", "options", "says"),
    [
        ("ssh", [], "--target ssh: 'ssh': expected ssh://[user@]host[:port]"),
        ("ssh://me:pw@box", [], "no passwords here"),
        ("ssh://box", ["--ssh-option", "-i key"], "expected an ssh_config option"),
    ],
)
def test_cli_refuses_a_bad_destination_in_one_line(
    target: str, options: list[str], says: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    code = cli.main(["run", "--target", target, *options, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and says in err, err
    assert not (tmp_path / "out").exists()  # nothing was started
