"""The forked workers (syscalls.runner.pool, `--workers N`): the same run as pytest's
own, reported by the controller -- each test's output its own, warnings and the -x stop
kept, fixtures torn down in the worker -- and the pieces: --workers, the order tests go
out in, the messages between the processes."""

from __future__ import annotations

import os
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import pytest

from syscalls.runner import bounds, frames, pool
from tests.runner_checks import clean, in_a_worker, junit_cases, kill_marked, pytest_in

SUITE = """
import os
import warnings
import pytest

@pytest.fixture(scope="session")
def session_file():
    yield
    with open(os.environ["POOL_TEARDOWN"], "a") as f:  # in the worker, at its end
        f.write(f"{os.getpid()}\\n")

@pytest.mark.parametrize("n", range(40))
def test_prints_its_own_name(n, session_file):
    print("output" + f"-of-{n}-", os.getpid())  # not in the traceback's source lines
    assert n % 10 != 3, f"failure-{n}"

def test_warns():
    warnings.warn(UserWarning("a warning from a worker"))

@pytest.mark.skip(reason="skipped on purpose")
def test_skipped():
    pass
"""


def run_pool(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_pooled.py").write_text(SUITE)
    # A warning from before the workers exist: the controller's, counted once.
    (tmp_path / "pytest.ini").write_text("[pytest]\nno_such_option = 1\n")
    junit = f"--junitxml={tmp_path / 'junit.xml'}"
    teardown = {"POOL_TEARDOWN": str(tmp_path / "teardown")}
    return pytest_in(tmp_path, "-rA", junit, "test_pooled.py", *args, env=teardown)


def test_forked_workers_report_what_pytest_alone_reports(tmp_path: Path) -> None:
    p = run_pool(tmp_path, "--workers", "3")
    assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-2000:]
    assert "4 failed, 37 passed, 1 skipped, 2 warnings" in p.stdout
    cases = junit_cases(tmp_path / "junit.xml")
    assert len(cases) == 42
    for n in range(40):
        case = cases[f"test_prints_its_own_name[{n}]"]
        failure = case.find("failure")
        assert (failure is not None) == (n % 10 == 3)
        if failure is not None:  # its captured output is its own, not a neighbour's
            assert f"failure-{n}" in (failure.get("message") or "")
            section = p.stdout.split(f"test_prints_its_own_name[{n}] _")[1].split("\n_")[0]
            assert f"output-of-{n}-" in section
            assert section.count("output-of-") == 1
    assert cases["test_skipped"].find("skipped") is not None
    assert "a warning from a worker" in p.stdout
    # Each worker ran its own session's teardown: never the controller.
    pids = (tmp_path / "teardown").read_text().split()
    assert 1 <= len(pids) <= 3
    assert len(set(pids)) == len(pids)


ALONE = """
import os
import time
import pytest

def _spent(name):
    start = time.monotonic()
    time.sleep(0.1)
    with open(os.environ["POOL_LOG"], "a") as f:
        f.write(f"{name} {start} {time.monotonic()}\\n")

@pytest.mark.parametrize("n", range(12))
def test_ordinary(n):
    _spent(f"ordinary{n}")

@pytest.mark.disposable
@pytest.mark.parametrize("n", range(2))
def test_changes_the_machine(n):
    _spent(f"alone{n}")
"""


def test_tests_that_change_the_whole_machine_run_with_nothing_beside_them(tmp_path: Path) -> None:
    (tmp_path / "test_alone.py").write_text(ALONE)
    log = tmp_path / "log"
    p = pytest_in(
        tmp_path, "-q", "-W", "ignore::pytest.PytestUnknownMarkWarning", "test_alone.py",
        "--workers", "3", env={"POOL_LOG": str(log)},
    )  # fmt: skip
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    spans = {
        n: (float(a), float(b)) for n, a, b in (ln.split() for ln in log.read_text().splitlines())
    }
    assert len(spans) == 14
    ordinary = [spans[f"ordinary{n}"] for n in range(12)]
    assert max(b for _, b in ordinary) - min(a for a, _ in ordinary) < 12 * 0.1  # in parallel
    for n in range(2):
        start, end = spans[f"alone{n}"]
        assert all(e <= start or s >= end for s, e in spans.values() if (s, e) != (start, end))


STOPPING = """
import time
import pytest

def test_fails_first():
    assert False

@pytest.mark.parametrize("n", range(40))
def test_takes_a_while(n):
    time.sleep(0.1)
"""


def test_the_first_failure_stops_a_forked_run(tmp_path: Path) -> None:
    (tmp_path / "test_stopping.py").write_text(STOPPING)
    junit = tmp_path / "junit.xml"
    p = pytest_in(tmp_path, "-x", "--workers", "2", f"--junitxml={junit}", "test_stopping.py")
    assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-2000:]
    assert "stopping after 1 failures" in p.stdout
    assert len(junit_cases(junit)) < 10  # the other worker's tests in flight, not the 40 (2 s)


def test_workers_and_xdist_together_are_refused(tmp_path: Path) -> None:
    p = run_pool(tmp_path, "--workers", "2", "-n", "2")
    assert p.returncode == 4  # pytest's usage error
    assert "--workers and xdist's -n both given" in p.stderr


@pytest.mark.parametrize("bad", ["many", "-1"])
def test_a_bad_worker_count_is_a_usage_error(tmp_path: Path, bad: str) -> None:
    p = run_pool(tmp_path, f"--workers={bad}")
    assert p.returncode == 4
    assert "--workers must" in p.stderr


STUCK = """
import signal

def test_stuck():
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})  # pytest-timeout's too
    signal.pause()

def test_after():
    pass
"""


def test_a_worker_that_cannot_be_killed_is_left_behind_and_the_run_goes_on(
    tmp_path: Path,
) -> None:
    (tmp_path / "test_stuck.py").write_text(STUCK)
    junit = tmp_path / "junit.xml"
    marker = f"stuck-{os.getpid()}-{tmp_path.name}"
    start = time.monotonic()
    try:
        p = pytest_in(
            tmp_path, "--workers", "1", "--timeout=1", "-p", "tests.unkillable_plugin",
            f"--junitxml={junit}", "test_stuck.py", env={"STUCK_MARK": marker}, timeout=90,
        )  # fmt: skip
    finally:
        kill_marked(marker)
    assert time.monotonic() - start < 45, "the run waited for a worker that would not die"
    assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-2000:]
    cases = junit_cases(junit)
    failure = cases["test_stuck"].find("failure")
    assert failure is not None
    message = failure.get("message") or ""
    assert "exceeded 1 s" in message and "after SIGKILL" in message and "left behind" in message
    assert cases["test_after"].find("failure") is None  # by a fresh worker


APART = """
import os

def test_reads_its_place():
    with open(os.environ["PLACE"], "w") as f:
        oom = open("/proc/self/oom_score_adj").read().strip()
        f.write(f"{os.getpgrp()} {os.getpgid(os.getppid())} {oom}")
"""


@pytest.mark.parametrize("args", [("--workers", "1"), ("-n", "1")], ids=["forked", "xdist"])
def test_a_worker_leads_its_own_group_and_is_the_oom_killers_first_choice(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    """xdist's workers shared their controller's group: a test's kill(0, SIGKILL)
    ended the whole run of `.ci/run`'s command, with no results."""
    (tmp_path / "test_apart.py").write_text(APART)
    place = tmp_path / "place"
    p = pytest_in(tmp_path, *args, "test_apart.py", env={"PLACE": str(place)})
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    group, controllers, oom = place.read_text().split()
    assert group != controllers
    assert int(oom) == 1000


KILLS_ITS_GROUP = """
import os, signal

def test_a_kills_its_own_group():
    os.kill(0, signal.SIGKILL)

def test_b_after():
    pass
"""


def test_under_xdist_a_test_that_kills_its_own_group_costs_its_worker(tmp_path: Path) -> None:
    (tmp_path / "test_group.py").write_text(KILLS_ITS_GROUP)
    junit = tmp_path / "junit.xml"
    p = pytest_in(tmp_path, "-n", "1", f"--junitxml={junit}", "test_group.py")
    assert p.returncode == 1, p.stdout[-3000:]  # a test failed; 137 was the run killed
    cases = junit_cases(junit)
    assert cases["test_a_kills_its_own_group"].find("failure") is not None, p.stdout[-3000:]
    assert clean(cases["test_b_after"]), p.stdout[-3000:]


def test_auto_is_one_worker_per_cpu_and_one_more() -> None:
    assert pool.count("auto") == len(os.sched_getaffinity(0)) + 1
    assert pool.count("3") == 3
    assert pool.count(None) == pool.count("0") == 0


def _item(mark: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(get_closest_marker=lambda name: object() if name == mark else None)


def test_tests_that_wait_go_out_first_those_that_change_the_machine_alone_last() -> None:
    items = [_item(), _item("disposable"), _item("waits"), _item(), _item("waits"), _item()]
    assert pool._order(items) == ([2, 4, 0, 3, 5], [1])  # type: ignore[arg-type]


def test_messages_cross_a_pipe_whole_however_they_are_split() -> None:
    r, w = os.pipe()
    try:
        big = ("end", 7, [{"longrepr": "x" * 100_000}])
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the writer
            os.close(r)
            frames.send(w, ("start", 7))
            frames.send(w, big)
            os._exit(0)
        os.close(w)
        w = -1
        reader = frames.Reader(r)
        got: list[object] = []
        buffers = set()
        while not reader.eof:
            got += reader.read()
            buffers.add(id(reader.buffer))
        os.waitpid(pid, 0)
        assert got == [("start", 7), big]
        assert reader.buffer == b""
        # Appended to in place: a new buffer per 64 KiB chunk made a large message
        # (a test that prints 50 MB) cost time in the square of its size.
        assert len(buffers) == 1
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x00\x00\x00\x10garbage",
        b"ab",
        frames.MARK + b"\xff\xff\xff\xff",
        frames.MARK + b"\x03\0\0\0xyz",
    ],
    ids=["not-a-mark", "short", "too-long", "not-pickled"],
)
def test_bytes_the_other_end_did_not_send_are_corrupt_not_waited_for(garbage: bytes) -> None:
    """What a test wrote into a runner's pipe: the messages before it are kept, and
    the reader stops there (it waited for ever for a message the size of the bytes)."""
    r, w = os.pipe()
    try:
        frames.send(w, ("start", 1))
        os.write(w, garbage)
        frames.send(w, ("end", 1, []))
        reader = frames.Reader(r)
        assert reader.read() == [("start", 1)]
        assert reader.eof and reader.corrupt is not None and "not" in reader.corrupt
        os.write(w, garbage)
        frames.send(w, ("more",))
        with pytest.raises(frames.Corrupt):
            frames.receive(r)
    finally:
        os.close(r)
        os.close(w)


GARBLES = """
import os

def _runners_pipes(access):
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd >= 512 and os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:"):
            with open(f"/proc/self/fdinfo/{fd}") as f:
                flags = int(f.read().split("flags:")[1].split()[0], 8)
            if flags & 3 == access:
                yield fd

def test_a_writes_into_the_command_pipe():
    for fd in _runners_pipes(os.O_RDONLY):  # the read end, opened again to write
        w = os.open(f"/proc/self/fd/{fd}", os.O_WRONLY)
        os.write(w, b"garbage")
        os.close(w)

def test_b_after():
    pass

def test_c_writes_into_the_result_pipe():
    for fd in _runners_pipes(os.O_WRONLY):
        os.write(fd, b"\\x00\\x00\\x00\\x10garbage")

def test_d_after():
    pass
"""


def test_a_test_that_writes_into_the_runners_pipes_fails_and_the_run_ends(tmp_path: Path) -> None:
    p, _ = in_a_worker(tmp_path, "test_garbles.py", GARBLES, "-p", "no:randomly", timeout=60)
    junit = ET.parse(tmp_path / "junit.xml").getroot()
    failures = {
        c.get("name"): f.get("message") or ""
        for c in junit.iter("testcase")
        for f in c.iter("failure")
    }
    assert set(failures) == {
        "test_a_writes_into_the_command_pipe",
        "test_c_writes_into_the_result_pipe",
    }, p.stdout[-3000:]
    assert (
        "command pipe carried bytes that are not a message"
        in failures["test_a_writes_into_the_command_pipe"]
    )
    assert (
        "pipe to the controller carried bytes that are not a message"
        in failures["test_c_writes_into_the_result_pipe"]
    )
    passed = {c.get("name") for c in junit.iter("testcase") if not list(c.iter("failure"))}
    assert {"test_b_after", "test_d_after"} <= passed


def test_receive_waits_for_a_whole_message_and_says_when_the_writer_is_gone() -> None:
    r, w = os.pipe()
    frames.send(w, [1, 2, 3])
    assert frames.receive(r) == [1, 2, 3]
    os.close(w)
    with pytest.raises(EOFError):
        frames.receive(r)
    os.close(r)


FOREIGN_THREAD = """
import ctypes

def pytest_configure(config):
    libc = ctypes.CDLL(None)
    thread = ctypes.c_ulong()
    start = ctypes.cast(libc.sleep, ctypes.c_void_p)  # sleep(100) on a thread of C's own
    assert libc.pthread_create(ctypes.byref(thread), None, start, ctypes.c_void_p(100)) == 0
"""


def test_a_process_with_threads_python_did_not_start_is_not_forked(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(FOREIGN_THREAD)
    p = run_pool(tmp_path, "--workers", "2")
    assert p.returncode == 4, p.stdout[-3000:] + p.stderr[-2000:]
    assert "--workers cannot fork this process: it runs 1 thread(s)" in p.stdout + p.stderr


def test_under_qemu_user_the_thread_python_did_not_start_is_qemus_and_the_fork_goes_on(
    tmp_path: Path,
) -> None:
    target = '\ndef pytest_addoption(parser):\n    parser.addoption("--target")\n'
    (tmp_path / "conftest.py").write_text(FOREIGN_THREAD + target)
    p = run_pool(tmp_path, "--workers", "2", "--target", "qemu-user")
    assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-2000:]
    assert "4 failed, 37 passed, 1 skipped" in p.stdout


ESCAPING = """
import os

def test_before():
    pass

def test_forks_a_child_that_returns_into_pytest():
    pid = os.fork()
    if pid == 0:
        return  # a bug in a test: the child goes on as if it were the worker
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status)

def test_after():
    pass
"""


def test_a_tests_fork_that_returns_into_pytest_never_reports(tmp_path: Path) -> None:
    p, cases = in_a_worker(tmp_path, "test_escaping.py", ESCAPING)
    assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-2000:]
    assert sorted(cases) == [
        "test_after",
        "test_before",
        "test_forks_a_child_that_returns_into_pytest",
    ]
    assert "3 passed, 1 error" in p.stdout  # its test fails (tests/test_runner_copies.py)


CLOBBERING = """
import os
import time

def test_before():
    pass

def test_replaces_every_descriptor_with_dev_null():
    null = os.open("/dev/null", os.O_WRONLY)
    for fd in range(FIRST, 4096):
        if fd != null:
            try:
                os.dup2(null, fd)  # whatever was there -- the worker's own pipes too
            except OSError:
                pass
    time.sleep(SLEEP)

def test_after():
    pass
"""


@pytest.mark.parametrize(
    ("how", "first", "sleep", "why"),
    [
        ("dup2", 3, 0, "worker exited with status"),  # pytest's own files too: it gives up
        ("close", 3, 0, "worker exited with status"),
        # Only the pipes, and the test goes on: the worker is alive, talking to nobody.
        ("dup2", 512, 3, "pipe to the controller was closed or replaced"),
    ],
)
def test_a_test_that_clobbers_the_workers_pipes_fails_and_the_run_goes_on(
    tmp_path: Path, how: str, first: int, sleep: int, why: str
) -> None:
    code = CLOBBERING.replace("FIRST", str(first)).replace("SLEEP", str(sleep))
    if how == "close":
        code = code.replace("os.dup2(null, fd)", "os.close(fd)")
    (tmp_path / "test_clobbering.py").write_text(code)
    junit = tmp_path / "junit.xml"
    p = pytest_in(
        tmp_path, "--workers", "1", f"--junitxml={junit}", "test_clobbering.py", timeout=60
    )
    assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-2000:]
    cases = junit_cases(junit)
    assert sorted(cases) == [
        "test_after",
        "test_before",
        "test_replaces_every_descriptor_with_dev_null",
    ]
    failure = cases["test_replaces_every_descriptor_with_dev_null"].find("failure")
    assert failure is not None and why in (failure.get("message") or "")
    assert cases["test_after"].find("failure") is None  # run again by a fresh worker


UNPICKLABLE = """
def test_records_a_property_that_does_not_pickle(record_property):
    record_property("callback", lambda: 1)
"""


def test_a_recorded_property_that_does_not_pickle_crosses_as_its_repr(tmp_path: Path) -> None:
    (tmp_path / "test_unpicklable.py").write_text(UNPICKLABLE)
    junit = tmp_path / "junit.xml"
    p = pytest_in(
        tmp_path, "--workers", "1", f"--junitxml={junit}", "test_unpicklable.py", timeout=60
    )
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    prop = next(ET.parse(junit).getroot().iter("property"))
    assert prop.get("name") == "callback" and "<lambda>" in (prop.get("value") or "")


FLOOD = """
import os

def test_prints_too_much():
    os.write(1, b"<first>" + b"x" * (8 << 20) + b"<last>")
    assert False, "so that its output is reported"
"""


def test_a_tests_flood_of_output_reaches_the_report_cut_in_the_middle(tmp_path: Path) -> None:
    (tmp_path / "test_flood.py").write_text(FLOOD)
    junit = tmp_path / "junit.xml"
    p = pytest_in(
        tmp_path, "--workers", "1", "-o", "junit_logging=system-out", f"--junitxml={junit}",
        "test_flood.py",
    )  # fmt: skip
    assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-2000:]
    out = junit_cases(junit)["test_prints_too_much"].findtext("system-out") or ""
    assert "<first>" in out and "<last>" in out
    assert "characters cut by the runner" in out
    assert len(out) < 2 * bounds.MAX_OUTPUT


HUGE_FAILURES = """
def test_a_long_message():
    assert False, "<first>" + "x" * (4 << 20) + "<last>"

def test_b_many_lines():
    assert False, "\\n".join(["a line of its message"] * 200000)

def test_c_after():
    pass
"""


def test_a_huge_failure_message_reaches_the_report_cut(tmp_path: Path) -> None:
    p, cases = in_a_worker(tmp_path, "test_huge.py", HUGE_FAILURES)
    assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-2000:]
    assert "INTERNALERROR" not in p.stdout + p.stderr, p.stdout[-3000:]
    long = cases["test_a_long_message"].find("failure")
    assert long is not None and "characters cut by the runner" in (long.text or "")
    assert "<first>" in (long.text or "") and "<last>" in (long.text or "")
    many = cases["test_b_many_lines"].find("failure")
    assert many is not None and "more lines cut by the runner" in (many.text or "")
    for case in (long, many):
        assert len(case.text or "") + len(case.get("message") or "") < 2 * bounds.MAX_OUTPUT
    assert clean(cases["test_c_after"])
    assert len(p.stdout) < 8 * bounds.MAX_OUTPUT  # the terminal's copy too


def test_a_report_within_its_room_is_sent_as_it_is() -> None:
    longrepr = {"reprcrash": {"message": "m", "lineno": 3}, "lines": ["a", "b"], "t": (1, "x")}
    assert bounds.bound(longrepr) == longrepr
    assert bounds.bound(("path", 3, "Skipped: why")) == ("path", 3, "Skipped: why")


TIMES_OUT = """
import threading, time, pytest

@pytest.mark.timeout(1)
def test_a_sleeps():
    time.sleep(60)

@pytest.mark.timeout(1)
def test_b_beside_a_thread():
    stop = threading.Event()
    waiter = threading.Thread(target=stop.wait, name="the-waiter", daemon=True)
    waiter.start()
    try:
        time.sleep(60)
    finally:
        stop.set()
        waiter.join()

def test_c_after():
    pass
"""


def test_pytest_timeouts_fail_with_their_own_message_and_stacks(tmp_path: Path) -> None:
    """pytest-timeout's failure in a forked worker: its message, and the other threads'
    stacks in the test's output (it failed with an AssertionError: no terminal
    reporter in the worker for it to write to)."""
    p, cases = in_a_worker(tmp_path, "test_times_out.py", TIMES_OUT, timeout=60)
    for name in ("test_a_sleeps", "test_b_beside_a_thread"):
        failure = cases[name].find("failure")
        assert failure is not None, p.stdout[-3000:]
        assert failure.get("message") == "Failed: Timeout (>1.0s) from pytest-timeout.", p.stdout
    assert "Stack of the-waiter" in p.stdout, p.stdout[-3000:]
    assert clean(cases["test_c_after"])


def test_the_location_a_worker_sends_is_used_only_when_it_is_one() -> None:
    where = ("suites/a.py", 7, "test_a")
    assert pool._location(("start", 3, where)) == where
    assert pool._location(("start", 3, ("suites/a.py", None, "test_a"))) is not None
    for bad in (("start", 3), ("start", 3, None), ("start", 3, ("a", "7", "t")), ("start", 3, [1])):
        assert pool._location(bad) is None
