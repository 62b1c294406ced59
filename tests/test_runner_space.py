"""A test that fills its directory's file system (syscalls.runner.space): its worker is
named and killed by the watchdog, and what a dead worker's tests left goes at once."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from syscalls import tempdirs
from syscalls.runner import space
from syscalls.runner.space import Space
from syscalls.runner.watchdog import Watchdog
from tests.runner_checks import clean, junit_cases, pytest_in

LIMIT = 8 << 20  # what the run's tests may take here, for these tests


@pytest.fixture
def small(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(space, "MOST", LIMIT)


@pytest.fixture
def worker() -> Iterator[int]:
    """A process standing in for a worker: the pid its tests' directories are named by."""
    p = subprocess.Popen(["sleep", "60"])
    yield p.pid
    p.kill()
    p.wait()


def _fill(base: Path, pid: int, size: int) -> Path:
    path = Path(base, tempdirs.test_dir_prefix(pid) + "x")
    path.mkdir()
    (path / "data").write_bytes(b"x" * size)
    return path


@pytest.mark.usefixtures("small")
def test_the_worker_whose_directory_holds_too_much_is_named(tmp: Path, worker: int) -> None:
    found = Space([str(tmp)])
    assert found.hog({"w0": worker, "w1": worker + 1}, time.monotonic()) is None
    _fill(tmp, worker + 1, 1 << 20)  # a neighbour that holds little
    _fill(tmp, worker, 2 * LIMIT)
    wid, why = found.hog({"w0": worker, "w1": worker + 1}, time.monotonic()) or ("", "")
    assert wid == "w0"
    assert why.startswith(f"filled its directory's file system: {2 * LIMIT >> 20} MiB in {tmp}")
    assert why.endswith(f"may take {LIMIT >> 20} MiB): the watchdog killed its worker")


@pytest.mark.usefixtures("small")
def test_space_taken_by_others_names_no_worker(tmp: Path, worker: int) -> None:
    found = Space([str(tmp)])
    (tmp / "not-a-test").write_bytes(b"x" * (2 * LIMIT))  # the host's, say
    assert found.hog({"w0": worker}, time.monotonic()) is None


def test_one_file_system_is_watched_once(tmp: Path) -> None:
    (tmp / "a").mkdir()
    assert list(Space([str(tmp), str(tmp / "a")]).start) == [str(tmp)]


@pytest.mark.usefixtures("small")
def test_the_watchdog_kills_that_worker(
    tmp: Path, worker: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(tempdirs.RUN_DIRS, os.pathsep.join((str(tmp), str(tmp))))
    dog = Watchdog(tmp, None, lambda reason: None)
    dog.add_worker("w0", worker)
    dog._check_space(time.monotonic())  # the file system as the run began
    _fill(tmp, worker, 2 * LIMIT)
    dog._check_space(time.monotonic())
    assert (dog.workers["w0"].killed or "").startswith("filled its directory's file system")
    _, status = os.waitpid(worker, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


def test_a_dead_workers_directories_go_and_only_its(
    tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, disk = tmp / "fast", tmp / "disk"
    fast.mkdir()
    disk.mkdir()
    monkeypatch.setenv(tempdirs.RUN_DIRS, os.pathsep.join((str(fast), str(disk))))
    mine = [_fill(fast, 41, 10), _fill(disk, 41, 10)]
    other = [_fill(fast, 411, 10), _fill(fast, 4, 10)]  # pids that merely start alike
    tempdirs.remove_left_by(41)
    assert not any(p.exists() for p in mine)
    assert all(p.exists() for p in other)


DIES = """
import os, pathlib

def test_a_dies_holding_its_directory(tmp):
    (tmp / "data").write_bytes(b"x" * 4096)
    pathlib.Path("where").write_text(str(tmp))
    os.kill(os.getpid(), 9)

def test_b_finds_it_gone():
    assert not os.path.exists(pathlib.Path("where").read_text())
"""


@pytest.mark.parametrize("args", [("--workers", "1"), ("-n", "1")], ids=["forked", "xdist"])
def test_the_directory_of_a_worker_that_died_goes_at_once(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    (tmp_path / "test_dies.py").write_text(DIES)
    junit = tmp_path / "junit.xml"
    p = pytest_in(tmp_path, f"--junitxml={junit}", "-p", "conftest", *args, "test_dies.py")
    cases = junit_cases(junit)
    assert cases["test_a_dies_holding_its_directory"].find("failure") is not None, p.stdout
    assert clean(cases["test_b_finds_it_gone"]), p.stdout[-3000:]
