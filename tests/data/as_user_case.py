"""Tests marked as_user, run by tests/test_as_user.py in a root run and a user's."""

import os
from pathlib import Path

import pytest

AS_USER = pytest.mark.as_user("root would pass")


@AS_USER
def test_sees_itself_as_nobody_without_groups_or_capabilities(tmp: Path) -> None:
    assert (os.getuid(), os.geteuid(), os.getgid(), os.getegid()) == (65534,) * 4
    assert os.getgroups() == []
    status = Path("/proc/self/status").read_text()
    assert "\nCapEff:\t0000000000000000\n" in status
    assert "\nCapPrm:\t0000000000000000\n" in status
    assert os.stat(tmp).st_uid == 65534
    (tmp / "made").write_text("by nobody")  # its own directory, as a user's run's
    assert os.listdir("/proc/self/fd")  # still dumpable: its /proc/self is its own


class Owned:
    def __init__(self, path: Path) -> None:
        self.path = path

    def hand_to(self, uid: int, gid: int) -> None:
        os.chown(self.path, uid, gid)


@pytest.fixture
def made_by_root(tmp: Path) -> Owned:
    path = tmp / "made-by-root"
    path.write_text("")
    os.chmod(path, 0o600)
    return Owned(path)


@AS_USER
def test_what_a_fixture_made_is_handed_over(made_by_root: Owned) -> None:
    os.chmod(made_by_root.path.parent, 0o700)  # its directory is nobody's: chown'ed first
    made_by_root.path.write_text("written by nobody")


@AS_USER
def test_a_failure_keeps_its_assertion() -> None:
    assert os.geteuid() == 4321


@AS_USER
def test_a_skip_stays_a_skip() -> None:
    pytest.skip("skipped as nobody")


@AS_USER
def test_observations_come_back(kernel) -> None:
    assert kernel.getuid().unwrap() == 65534


def test_an_unmarked_test_runs_as_the_run_does() -> None:
    assert os.geteuid() == int(os.environ["RUN_AS"])
