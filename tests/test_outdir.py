"""syscalls.outdir: the results directory claimed, locked, cleared; atomic writes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from syscalls.outdir import OutDirError, claim, stale_temps, temp_name, write_atomic


def test_claim_removes_the_previous_results_and_their_stale_temporaries(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    for name in ("junit.xml", "profile.json", "notes.txt"):
        (out / name).write_text("old")
    stale = temp_name(out / "junit.xml")
    stale.write_text("half")
    with claim(out, ["junit.xml", "profile.json"]):
        assert sorted(p.name for p in out.iterdir()) == [".lock", "notes.txt"]
    assert not stale.exists()


def test_claim_makes_a_missing_directory(tmp_path: Path) -> None:
    with claim(tmp_path / "a" / "b", []) as out:
        assert out.is_dir()


def test_a_second_claim_is_refused_naming_the_holder(tmp_path: Path) -> None:
    held = rf"in use by another run \(pid {os.getpid()}\)"
    with (
        claim(tmp_path, ["junit.xml"]),
        pytest.raises(OutDirError, match=held),
        claim(tmp_path, ["junit.xml"]),
    ):
        pass
    with claim(tmp_path, ["junit.xml"]):  # released at the end of the first
        pass


def test_the_lock_of_a_killed_run_is_gone_with_it(tmp_path: Path) -> None:
    code = (
        "import sys, time\nfrom pathlib import Path\nfrom syscalls.outdir import claim\n"
        "with claim(Path(sys.argv[1]), []):\n    print('held', flush=True); time.sleep(60)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(OutDirError, match="in use"), claim(tmp_path, []):
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with claim(tmp_path, []):
        pass


def test_a_directory_that_cannot_be_made_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(OutDirError) as e, claim(tmp_path / "file" / "out", []):
        pass
    assert (
        str(e.value) == f"--out {tmp_path / 'file' / 'out'}: cannot write there (Not a directory)"
    )


def test_write_atomic_replaces_the_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "profile.json"
    path.write_text("old")
    with open(path) as reader:  # a reader of the old file keeps reading the old file
        write_atomic(path, b"new")
        assert reader.read() == "old"
    assert path.read_text() == "new"
    assert stale_temps(path) == []


def test_write_atomic_that_fails_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "junit.xml"
    path.write_text("old")

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space"):
        write_atomic(path, b"new")
    assert path.read_text() == "old"
    assert stale_temps(path) == []


def test_temporary_names_are_unique_and_hidden(tmp_path: Path) -> None:
    names = {temp_name(tmp_path / "junit.xml").name for _ in range(100)}
    assert len(names) == 100
    assert all(n.startswith(".junit.xml.") and n.endswith(".tmp") for n in names)


def test_a_directory_made_for_a_run_that_wrote_nothing_is_removed_again(tmp_path: Path) -> None:
    with claim(tmp_path / "a" / "out", ["junit.xml"]):
        pass  # the run could not start (a bad target, say)
    assert list(tmp_path.iterdir()) == []
    with claim(tmp_path / "out", ["junit.xml"]) as out:
        (out / "junit.xml").write_text("<testsuites/>")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [".lock", "junit.xml"]
