"""syscalls.tempdirs: where `tmp` makes the tests' private directories."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

from syscalls import processes, tempdirs
from syscalls.mountinfo import Mount
from syscalls.removal import remove_tree
from syscalls.tempdirs import fast_temp_dir, mount_of

MOUNTINFO = """\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
23 22 0:5 / /dev rw,nosuid shared:2 - devtmpfs udev rw
24 23 0:21 / /dev/shm rw,nosuid,nodev shared:3 - tmpfs tmpfs rw
25 22 0:22 / /tmp/my\\040dir rw shared:4 - tmpfs tmpfs rw
26 22 0:23 / /tmp/my\\040dir/disk rw shared:5 - xfs /dev/sdb1 rw
"""


def file_system_type(path: Path, mountinfo: Path) -> str | None:
    mount = mount_of(path, mountinfo)
    return mount.type if mount else None


@pytest.fixture
def mountinfo(tmp_path: Path) -> Path:
    path = tmp_path / "mountinfo"
    path.write_text(MOUNTINFO)
    return path


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/", "ext4"),
        ("/dev/shm", "tmpfs"),
        ("/dev/shm/a/b", "tmpfs"),
        ("/dev/shmx", "devtmpfs"),  # a sibling whose name begins the same is not inside
        ("/tmp/my dir/x", "tmpfs"),  # \040 in mountinfo is a blank
        ("/tmp/my dir/disk/f", "xfs"),  # the innermost mount point wins
        ("/tmp", "ext4"),
    ],
)
def test_file_system_type_is_the_innermost_mounts(mountinfo: Path, path: str, kind: str) -> None:
    assert file_system_type(Path(path), mountinfo) == kind


def test_mount_of_reads_the_mounts_own_options(mountinfo: Path) -> None:
    mount = mount_of(Path("/dev/shm/x"), mountinfo)
    assert mount is not None
    assert (mount.point, mount.type, mount.options) == (
        "/dev/shm",
        "tmpfs",
        frozenset({"rw", "nosuid", "nodev"}),
    )


def test_mount_of_without_mountinfo_is_none(tmp_path: Path) -> None:
    assert mount_of(Path("/"), tmp_path / "absent") is None


def test_mount_of_this_machines_proc() -> None:
    if not Path("/proc/self/mountinfo").exists():
        pytest.skip("no /proc/self/mountinfo here")
    mount = mount_of(Path("/proc/self"))
    assert mount is not None and mount.type == "proc"


def _types(monkeypatch: pytest.MonkeyPatch, kinds: dict[str, str], options: str = "rw") -> None:
    for name in tempdirs.CHOSEN:  # as on a machine where nobody chose a directory
        monkeypatch.delenv(name, raising=False)

    def mount(path: Path) -> Mount | None:
        kind = kinds.get(str(path))
        if not kind:
            return None
        return Mount(1, 0, str(path), kind, frozenset(options.split(",")))

    monkeypatch.setattr(tempdirs, "mount_of", mount)


def test_fast_temp_dir_prefers_a_tmpfs_tmpdir(monkeypatch: pytest.MonkeyPatch) -> None:
    _types(monkeypatch, {tempfile.gettempdir(): "tmpfs", "/dev/shm": "tmpfs"})
    assert fast_temp_dir() == tempfile.gettempdir()


def test_fast_temp_dir_takes_shared_memory_over_a_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    _types(monkeypatch, {tempfile.gettempdir(): "ext4", "/dev/shm": "tmpfs"})
    monkeypatch.setattr(os, "access", lambda p, mode: True)
    assert fast_temp_dir() == "/dev/shm"


def test_fast_temp_dir_keeps_tmpdir_when_shared_memory_is_not_writable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _types(monkeypatch, {tempfile.gettempdir(): "ext4", "/dev/shm": "tmpfs"})
    monkeypatch.setattr(os, "access", lambda p, mode: False)
    assert fast_temp_dir() == tempfile.gettempdir()


@pytest.mark.parametrize("option", ["nodev", "noexec", "nosuid"])
def test_fast_temp_dir_refuses_a_restricted_shared_memory(
    monkeypatch: pytest.MonkeyPatch, option: str
) -> None:
    # Tests make device nodes, run files and set-user-ID bits in tmp.
    _types(monkeypatch, {tempfile.gettempdir(): "ext4", "/dev/shm": "tmpfs"}, f"rw,{option}")
    monkeypatch.setattr(os, "access", lambda p, mode: True)
    assert fast_temp_dir() == tempfile.gettempdir()


def test_fast_temp_dir_keeps_tmpdir_when_shared_memory_is_no_tmpfs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _types(monkeypatch, {tempfile.gettempdir(): "ext4", "/dev/shm": "ext4"})
    assert fast_temp_dir() == tempfile.gettempdir()
    _types(monkeypatch, {})  # no mountinfo at all
    assert fast_temp_dir() == tempfile.gettempdir()


@pytest.mark.parametrize("name", ["TMPDIR", "TEMP", "TMP"])
def test_fast_temp_dir_keeps_the_directory_the_environment_names(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str
) -> None:
    # A harness that keeps a run's leftovers in its own directory (the runner's tests
    # kill runs on purpose) says so with $TMPDIR: tmp must go there, not to /dev/shm.
    _types(monkeypatch, {str(tmp_path): "ext4", "/dev/shm": "tmpfs"})
    monkeypatch.setattr(os, "access", lambda p, mode: True)
    monkeypatch.setenv(name, str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)  # tempfile caches its choice
    assert fast_temp_dir() == str(tmp_path)


def test_run_dirs_are_made_once_and_found_by_the_processes_of_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.delenv(tempdirs.RUN_DIRS, raising=False)
    monkeypatch.setattr(tempfile, "tempdir", None)  # gettempdir() reads TMPDIR again
    made = tempdirs.run_dirs()
    assert made.owned and Path(made.fast).parent == tmp_path and made.disk == made.fast
    assert os.stat(made.fast).st_mode & 0o777 == 0o711
    found = tempdirs.run_dirs()  # a worker: the environment names them
    assert found == made._replace(owned=False)
    found.remove()
    assert Path(made.fast).is_dir(), "only the process that made them removes them"
    locked = Path(made.fast) / "t" / "locked"
    locked.mkdir(parents=True)
    locked.chmod(0)
    made.remove()
    assert not Path(made.fast).exists()


def test_run_dirs_named_by_the_environment_are_taken_only_if_this_users_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    other = tmp_path / "shared"
    other.mkdir()
    other.chmod(0o777)
    monkeypatch.setenv(tempdirs.RUN_DIRS, os.pathsep.join((str(other), str(other))))
    made = tempdirs.run_dirs()
    try:
        assert made.owned and made.fast != str(other)
        assert os.environ[tempdirs.RUN_DIRS] == os.pathsep.join((made.fast, made.disk))
    finally:
        made.remove()


def test_an_own_dir_notes_its_owner_and_is_not_swept_while_it_lives(tmp_path: Path) -> None:
    path = Path(tempdirs.own_dir("syscalls-run-", str(tmp_path)))
    pid, start = (path / tempdirs.OWNER).read_text().split()
    assert int(pid) == os.getpid() and int(start) > 0
    assert tempdirs.sweep(str(tmp_path), "syscalls-run-") == []
    assert path.is_dir()


def _left_by_an_ended_run(tmp_path: Path) -> tuple[Path, int]:
    """The directory of a run that ended without removing it, and its pid (not reaped)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - a run that ends without removing its directory
        os.write(w, tempdirs.own_dir("syscalls-run-", str(tmp_path)).encode())
        os._exit(0)
    os.close(w)
    left = Path(os.read(r, 4096).decode())
    os.close(r)
    return left, pid


def test_sweep_removes_the_directories_whose_owner_has_ended(tmp_path: Path) -> None:
    dead, pid = _left_by_an_ended_run(tmp_path)
    os.waitpid(pid, 0)
    (dead / "left").mkdir()
    reused = tmp_path / "syscalls-run-reused"  # this pid, but another process's start
    reused.mkdir(mode=0o700)
    (reused / tempdirs.OWNER).write_text(f"{os.getpid()} 1")
    unnoted = tmp_path / "syscalls-run-unnoted"  # not own_dir's, or being made: left
    unnoted.mkdir(mode=0o700)
    foreign = Path(tempdirs.own_dir("syscalls-run-", str(tmp_path)))
    foreign.chmod(0o777)  # anybody's to write: not taken for this user's
    (foreign / tempdirs.OWNER).write_text("999999999 1")
    live = Path(tempdirs.own_dir("syscalls-run-", str(tmp_path)))  # sweeps first
    assert not dead.exists() and not reused.exists()
    assert unnoted.is_dir() and foreign.is_dir() and live.is_dir()


def test_a_zombie_owner_has_ended(tmp_path: Path) -> None:
    """A run killed with its parent gone: its process lingers as a zombie of a subreaper
    until reaped, and holds no directory meanwhile."""
    left, pid = _left_by_an_ended_run(tmp_path)
    try:
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # ended, not reaped: a zombie
        assert processes.stat_fields(pid)[0] == b"Z"  # type: ignore[index]
        assert tempdirs.sweep(str(tmp_path), "syscalls-run-") == [str(left)]
    finally:
        os.waitpid(pid, 0)


@pytest.fixture
def kept(tmp_path: Path) -> tempdirs.Kept:
    run = Path(tempdirs.own_dir("syscalls-run-", str(tmp_path)))
    run.chmod(0o711)
    return tempdirs.Kept(tempdirs.RunDirs(str(run), str(run), owned=True))


def test_each_process_makes_its_tests_directories_in_one_of_its_own(
    kept: tempdirs.Kept,
) -> None:
    run = next(iter(kept.runs))
    own = kept.directory(run)
    assert Path(own).parent == Path(run) and Path(own).is_dir()
    assert Path(own).name.startswith(tempdirs.test_dir_prefix(os.getpid()))
    assert os.stat(own).st_mode & 0o777 == 0o711
    assert kept.directory(run) == own
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's answer goes through the pipe
        os.write(w, kept.directory(run).encode())
        os._exit(0)
    os.close(w)
    forked = os.read(r, 4096).decode()
    os.close(r)
    os.waitpid(pid, 0)
    assert forked != own and Path(forked).name.startswith(tempdirs.test_dir_prefix(pid))
    assert kept.check() is None


@pytest.mark.parametrize(
    ("harm", "told"),
    [
        (lambda p: p.rmdir(), "was removed; put back"),
        (lambda p: p.chmod(0), "changed mode from 0711 to 0000; put back"),
        (lambda p: (p.rmdir(), p.symlink_to("/")), "replaced by something not a directory"),
        # tmpfs may give the new one the same inode: then only its mode tells
        (lambda p: (p.rmdir(), p.mkdir(0o755)), "; put back"),
    ],
    ids=["removed", "chmod", "symlink", "made-again"],
)
def test_a_test_that_harms_its_processs_directory_is_named_and_it_is_put_back(
    kept: tempdirs.Kept, harm: Any, told: str
) -> None:
    own = Path(kept.directory(next(iter(kept.runs))))
    harm(own)
    message = kept.check()
    assert message is not None and str(own) in message and told in message, message
    assert own.is_dir() and not own.is_symlink() and own.stat().st_mode & 0o777 == 0o711
    assert kept.check() is None, "told once"
    tempfile.mkdtemp(dir=own)


def test_the_runs_directory_removed_is_made_again_with_its_owners_note(
    kept: tempdirs.Kept,
) -> None:
    run = Path(next(iter(kept.runs)))
    own = Path(kept.directory(str(run)))
    note = (run / tempdirs.OWNER).read_text()
    remove_tree(run)
    message = kept.check()
    assert message is not None and message.count("\n") == 0, "one change told, once"
    assert f"the run's directory {run}" in message and "was removed while this test ran" in message
    assert (run / tempdirs.OWNER).read_text() == note, "swept like any run's after a crash"
    assert run.stat().st_mode & 0o777 == 0o711 and own.is_dir()
    assert kept.check() is None
