"""--target ssh against a real OpenSSH server on a loopback port (tests/ssh_server.py):
sshd as an unprivileged account in its own namespaces, the "remote" being this machine
with Debian's python3 and its python3-cffi and python3-pytest.

One run of a representative subset (one test made to fail there) brings junit.xml,
profile.json and the counts home and leaves nothing on the remote; then each way a run
cannot start (a refused login: wrong key, unknown host key, closed port, a server that
never answers, a forced command; no Python; no cffi, without pip and with a pip that
reaches no index) ends with one line and status 2, and each way one does not finish
(the connection killed mid-run, a hung test, the overall limit -- also while logging
in --, SIGTERM) with one line and status 3, the finished tests kept and the remote
cleaned up.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from syscalls.profile import Profile
from tests.ssh_server import CLIENT_ENV, SSHD, UID, SshServer
from tests.target_checks import (
    FAIL,
    HANG,
    ROOT,
    SUBSET,
    SUBSET_FILES,
    Finished,
    check_complete_run,
    check_time_limited_run,
    collected,
    junit_outcomes,
)

pytestmark = pytest.mark.slow

PYTHON = "/usr/bin/python3"  # the "remote's" interpreter, with Debian's packages
REMOTE_PATH = "/usr/bin:/bin"
FAULTS = ["-p", "fault_plugin"]  # tests/fault_plugin.py, on the remote's PYTHONPATH
OPENAT = "suites/fs/test_openat.py"  # HANG is its third test


def _need_remote() -> None:
    missing = [p for p in ("ssh", "ssh-keygen", "unshare", "setpriv") if not shutil.which(p)]
    missing += [] if os.path.exists(SSHD) else [SSHD]
    check = subprocess.run([PYTHON, "-c", "import cffi, pytest"], capture_output=True)
    if check.returncode != 0:
        missing.append(f"{PYTHON} with cffi, pytest")
    if missing:
        what = f"{', '.join(missing)} missing (Debian: openssh-server, python3-cffi, ...)"
        if os.geteuid() == 0:
            pytest.fail(f"{what}: ci/setup should have installed them")
        pytest.skip(what)


@pytest.fixture(scope="module")
def server() -> Iterator[SshServer]:
    _need_remote()
    srv = SshServer({"PATH": REMOTE_PATH}, plugins=(ROOT / "tests" / "fault_plugin.py",))
    try:
        yield srv.start()
    finally:
        srv.stop()


@pytest.fixture(autouse=True)
def _client_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in CLIENT_ENV.items():
        monkeypatch.setenv(key, value)


def syscalls_run(
    url: str, out: Path, options: list[str], *pytest_args: str, limit: float = 120
) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "syscalls", "run", "--target", url, "--out", str(out)]
    argv += [*options, "--time-limit", f"{limit:g}", "--", *pytest_args]
    return subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except BaseException:
        proc.terminate()  # `syscalls run` stops the remote's run and cleans up
        proc.communicate(timeout=60)
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def run(url: str, out: Path, options: list[str], *args: str, limit: float = 120):
    return finish(syscalls_run(url, out, options, *args, limit=limit), limit + 60)


def started(out: Path, nodeid: str, timeout: float = 60) -> None:
    """Wait until the progress log that came home says `nodeid` is running."""
    deadline = time.monotonic() + timeout
    needle = f'"event": "start", "nodeid": "{nodeid}"'
    while time.monotonic() < deadline:
        if (out / "events.jsonl").exists() and needle in (out / "events.jsonl").read_text():
            return
        time.sleep(0.1)
    raise AssertionError(f"{nodeid} never started: {(out / 'console.log').read_text()[-2000:]}")


def one_line(p: subprocess.CompletedProcess[str]) -> str:
    """The run's stderr, which must be exactly one line."""
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    return lines[0]


def check_clean(server: SshServer) -> None:
    files, procs = server.leftovers()
    assert not files, f"left in the remote's TMPDIR: {files}"
    assert not procs, f"left running on the remote: {procs}"
    assert not _ssh_clients(server.port), "ssh clients left running here"


def _ssh_clients(port: int) -> list[str]:
    """Command lines of the ssh clients on this machine talking to `port`."""
    found = []
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{name}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[0] == b"ssh" and b"-p" in argv and str(port).encode() in argv:
            found.append(b" ".join(argv).decode(errors="replace"))
    return found


# -- a finished run ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def finished(server: SshServer, tmp_path_factory: pytest.TempPathFactory) -> Finished:
    """One run of SUBSET on the remote, with FAIL made to fail there."""
    out = tmp_path_factory.mktemp("ssh") / "out"
    args = [*SUBSET_FILES, "-k", SUBSET, *FAULTS, f"--fail-at={FAIL}"]
    p = run(server.url, out, [*server.options(), "-n", "2"], *args)
    return Finished(p, out, set())


def test_ssh_results_come_back_complete(finished: Finished) -> None:
    p, out = finished.p, finished.out
    profile = check_complete_run(p, out, "ssh")
    assert set(profile.tests) == collected(*SUBSET_FILES, "-k", SUBSET)
    assert p.returncode == 1  # FAIL, made to fail on the remote
    assert "deliberate failure" in profile.tests[FAIL]["reason"]
    assert profile.meta["uid"] == UID  # written by the remote account's pytest
    assert profile.meta["python"] == _python_version(PYTHON)  # ... with the remote's Python
    junit = junit_outcomes(out / "junit.xml")
    counts = {o: list(junit.values()).count(o) for o in set(junit.values())}
    summary = ", ".join(f"{n} {o}" for o, n in sorted(counts.items()))
    assert f"status 1: {summary}" in p.stdout
    # The remote's pytest progress came through, on the terminal and in console.log.
    assert "results by area" in p.stdout
    assert "results by area" in (out / "console.log").read_text()
    ends = [line for line in (out / "events.jsonl").read_text().splitlines() if '"end"' in line]
    assert len(ends) == len(profile.tests)


def _python_version(python: str) -> str:
    p = subprocess.run([python, "-c", "import platform; print(platform.python_version())"],
                       capture_output=True, text=True, check=True)  # fmt: skip
    return p.stdout.strip()


def test_ssh_leaves_nothing_on_the_remote(server: SshServer, finished: Finished) -> None:
    assert finished.p.returncode in (0, 1)
    check_clean(server)


# -- runs that cannot start: status 2, one line ---------------------------------------------


def cannot_start(srv: SshServer, url: str, tmp_path: Path, options: list[str]) -> str:
    """Run OPENAT; the run must end with status 2, one line (returned), nothing run, and
    nothing left on the remote."""
    p = run(url, tmp_path / "out", options, OPENAT)
    line = one_line(p)
    assert p.returncode == 2, line
    assert line.startswith("syscalls: --target ssh: "), line
    assert not (tmp_path / "out" / "junit.xml").exists()
    check_clean(srv)
    return line


def test_ssh_login_with_an_unknown_key_is_refused(server: SshServer, tmp_path: Path) -> None:
    key = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    line = cannot_start(server, server.url, tmp_path, server.options(key=key))
    assert "cannot log in to syscalls@127.0.0.1" in line
    assert "Permission denied (publickey)" in line


def test_ssh_host_missing_from_known_hosts_is_refused(server: SshServer, tmp_path: Path) -> None:
    (tmp_path / "known_hosts").write_text("")
    options = server.options(known_hosts=tmp_path / "known_hosts")
    line = cannot_start(server, server.url, tmp_path, options)
    assert "Host key verification failed" in line and "known_hosts" in line, line


def test_ssh_closed_port_is_refused(server: SshServer, tmp_path: Path) -> None:
    url = server.url.replace(f":{server.port}", ":1")  # nothing listens on port 1 here
    line = cannot_start(server, url, tmp_path, server.options())
    assert "port 1: Connection refused" in line


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that takes connections and never says a word (a hung sshd)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


def test_ssh_server_that_never_answers_is_given_up_on(
    server: SshServer, silent_port: int, tmp_path: Path
) -> None:
    url = server.url.replace(f":{server.port}", f":{silent_port}")
    options = [*server.options(), "--ssh-option", "ConnectTimeout=2"]  # the user's wins
    line = cannot_start(server, url, tmp_path, options)
    assert "timed out" in line, line


def test_ssh_time_limit_holds_while_logging_in(
    server: SshServer, silent_port: int, tmp_path: Path
) -> None:
    url = server.url.replace(f":{server.port}", f":{silent_port}")
    p = run(url, tmp_path / "out", server.options(), OPENAT, limit=2)
    line = one_line(p)
    assert p.returncode == 3, line
    assert "the run exceeded its overall limit of 2 s" in line, line


def _no_python_in_package_dirs() -> None:
    for d in ("/usr/local/bin", "/usr/pkg/bin"):
        if any(Path(d).glob("python3*")):
            pytest.skip(f"{d} holds a python3, where the probe looks whatever PATH says")


@pytest.fixture
def bare_remote(tmp_path: Path) -> Iterator[SshServer]:
    """A server whose PATH has the shell's tools but no Python (more in `bin`)."""
    _need_remote()
    _no_python_in_package_dirs()
    srv = SshServer({})
    tools = srv.base / "bin"
    tools.mkdir()
    for tool in ("sh", "uname", "mktemp", "tar", "gzip", "rm"):
        (tools / tool).symlink_to(shutil.which(tool) or f"/bin/{tool}")
    srv.env["PATH"] = str(tools)
    try:
        yield srv
    finally:
        srv.stop()


def test_ssh_without_python_says_so(bare_remote: SshServer, tmp_path: Path) -> None:
    srv = bare_remote.start()
    line = cannot_start(srv, srv.url, tmp_path, srv.options())
    assert "no Python 3.11 or later on syscalls@127.0.0.1" in line, line
    assert line.endswith("apt install python3 python3-cffi python3-pytest (Debian, Ubuntu)")


def test_ssh_login_with_a_forced_command_says_so(tmp_path: Path) -> None:
    _need_remote()
    srv = SshServer({"PATH": REMOTE_PATH}, force="echo this account runs backups only")
    try:
        srv.start()
        line = cannot_start(srv, srv.url, tmp_path, srv.options())
    finally:
        srv.stop()
    assert "did not run the probe with /bin/sh (a forced command?)" in line, line
    assert "this account runs backups only" in line


def _python_without_cffi(where: Path, pip: bool) -> Path:
    subprocess.run([PYTHON, "-m", "venv", "--without-pip", where], check=True)
    if pip:  # pip alone, copied from the one running this test
        import pip as pip_package

        site = next(where.glob("lib/python3*/site-packages"))
        shutil.copytree(Path(pip_package.__file__).parent, site / "pip")
    return where / "bin"


def test_ssh_without_cffi_or_pip_says_what_to_install(
    bare_remote: SshServer, tmp_path: Path
) -> None:
    bare_remote.env["PATH"] += ":" + str(_python_without_cffi(bare_remote.base / "venv", False))
    srv = bare_remote.start()
    line = cannot_start(srv, srv.url, tmp_path, srv.options())
    assert "lacks cffi, pytest and has no pip" in line, line  # no xdist: workers are forked
    assert line.endswith("apt install python3-cffi python3-pytest (Debian, Ubuntu)")


def test_ssh_pip_that_cannot_reach_an_index_says_so(bare_remote: SshServer, tmp_path: Path) -> None:
    bin_dir = _python_without_cffi(bare_remote.base / "venv", True)
    bare_remote.env["PATH"] += ":" + str(bin_dir)
    bare_remote.env.update(PIP_NO_INDEX="1", PIP_CONFIG_FILE="/dev/null", PIP_FIND_LINKS="")
    srv = bare_remote.start()
    line = cannot_start(srv, srv.url, tmp_path, [*srv.options(), "-n", "0"])
    # It tried, on the remote, and the copy it made there is gone (cannot_start checks).
    assert "pip could not install cffi, pytest" in line, line
    assert line.endswith("to install: apt install python3-cffi python3-pytest (Debian, Ubuntu)")
    assert "installing cffi, pytest with pip" in (tmp_path / "out" / "console.log").read_text()


# -- runs that do not finish: status 3, one line, finished tests kept ---------------------


def _check_incomplete(p: subprocess.CompletedProcess[str], out: Path, why: str) -> Profile:
    line = one_line(p)
    assert p.returncode == 3, line
    assert why in line and f"running: {HANG}" in line, line
    assert not (out / "status").exists()
    profile = Profile.read(out / "profile.json")  # rebuilt from the events that came home
    assert profile.target == "ssh"
    assert why in profile.meta["incomplete"]
    assert profile.tests[HANG]["outcome"] == "failed"
    passed = [t for t, e in profile.tests.items() if e["outcome"] == "passed"]
    assert len(passed) == 2, profile.tests  # the two tests before HANG
    assert f"{len(profile.tests) - 1} finished test(s) kept" in line
    assert list(junit_outcomes(out / "junit.xml").values()).count("passed") == 2
    return profile


HANGING = [OPENAT, "-n", "0", *FAULTS, f"--hang-at={HANG}"]


def test_ssh_connection_killed_mid_run_keeps_what_finished(
    server: SshServer, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    proc = syscalls_run(server.url, out, server.options(), *HANGING)
    started(out, HANG)
    assert server.kill_connections(), "no sshd served the run"
    p = finish(proc, 60)
    _check_incomplete(p, out, "the connection was lost")
    check_clean(server)  # the runner saw its stdin close, and cleaned up


def _no_remote_timeout_plugin() -> None:
    check = subprocess.run([PYTHON, "-c", "import pytest_timeout"], capture_output=True)
    if check.returncode == 0:
        pytest.skip(f"{PYTHON} has pytest-timeout, which ends a hung test on the remote first")


def test_ssh_hung_test_ends_the_run(server: SshServer, tmp_path: Path) -> None:
    _no_remote_timeout_plugin()
    out = tmp_path / "out"
    p = run(server.url, out, server.options(), *HANGING, "--timeout", "1")
    _check_incomplete(p, out, "no progress for 2 s (hung)")
    check_clean(server)


def test_ssh_run_over_its_time_limit_keeps_what_finished(server: SshServer, tmp_path: Path) -> None:
    out = tmp_path / "out"
    limit = 8
    p = run(server.url, out, server.options(), *HANGING, limit=limit)
    check_time_limited_run(p, out, "ssh", limit, HANG)
    check_clean(server)


def test_ssh_sigterm_stops_the_run_and_cleans_up(server: SshServer, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = syscalls_run(server.url, out, server.options(), *HANGING)
    started(out, HANG)
    proc.send_signal(signal.SIGTERM)
    p = finish(proc, 60)
    _check_incomplete(p, out, "interrupted")
    check_clean(server)
