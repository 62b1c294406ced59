"""The UML target's host side with a stand-in for linux.uml: how it is started (confined
to the results directory, syscalls.targets.readonly) and what it says when UML cannot
run on this CPU. Fast, and on any host; test_target_uml.py boots the real one.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from syscalls.targets import Options, TargetUnavailable, guest, uml

# What the stand-in records, from where linux.uml would run: its view of the mounts, and
# whether a host file outside the results directory can be created.
RECORDER = """#!/bin/sh
out={out}
awk -v t="$TMPDIR" -v o="$out" '$5 == "/" || $5 == t || $5 == o {{print $5, $6}}' \
    /proc/self/mountinfo > "$out/view"
touch {host_file} 2>/dev/null && echo created >> "$out/view"
echo "$@" > "$out/argv"
{extra}
"""


def stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: str = "") -> Path:
    fake = tmp_path / "bin" / "linux.uml"
    fake.parent.mkdir()
    out = tmp_path / "out"
    fake.write_text(RECORDER.format(out=out, host_file=tmp_path / "host-file", extra=extra))
    fake.chmod(0o755)
    monkeypatch.setattr(uml, "BINARY", str(fake))
    return out


def test_linux_uml_runs_where_only_the_results_directory_is_writable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = stand_in(tmp_path, monkeypatch)
    status = uml.run(Options(out=out, pytest_args=["suites/misc/test_uname.py"]))
    assert status == guest.TARGET_FAILED  # the stand-in exits without a status
    view = dict(line.split() for line in (out / "view").read_text().splitlines())
    assert view.pop("/").split(",")[0] == "ro"
    assert view.pop(str(out)).split(",")[0] == "rw"
    (private,) = view  # TMPDIR: the guest's memory file, on a tmpfs of its own
    assert view[private].split(",")[0] == "rw" and not Path(private).exists()
    assert not (tmp_path / "host-file").exists()
    argv = (out / "argv").read_text()
    assert f"uml_dir={private} " in argv and "rootfstype=hostfs" in argv


def test_uml_that_cannot_set_fp_registers_on_this_cpu_is_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """UML 6.1 on a CPU with AVX-512 or AMX: the first process dies, UML panics."""
    out = stand_in(
        tmp_path,
        monkeypatch,
        extra="echo 'userspace - ptrace set fp regs failed, errno = 14'\n"
        "echo 'Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000000b'\n"
        "exit 134",
    )
    with pytest.raises(TargetUnavailable, match="cannot run on this CPU"):
        uml.run(Options(out=out, pytest_args=["suites/misc/test_uname.py"]))


def test_results_that_would_hold_the_checkout_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in(tmp_path, monkeypatch)
    with pytest.raises(TargetUnavailable, match="contains the checkout"):
        uml.run(Options(out=guest.ROOT.parent))
    with pytest.raises(TargetUnavailable, match="contains the checkout"):
        uml.run(Options(out=Path("/")))
    assert os.path.isdir(guest.ROOT / "suites")  # nothing was cleared
