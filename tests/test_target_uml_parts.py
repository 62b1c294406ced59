"""The UML target's host side with a stand-in for linux.uml: how it is started (confined
to the results directory, syscalls.targets.readonly) and what it says when UML cannot
run on this CPU. Fast, and on any host; test_target_uml.py boots the real one.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
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
    """UML 6.1 that cannot write a process's FP registers (the host's XSAVE size is not
    its own and the xstate filter did not help): the first process dies, UML panics."""
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


@pytest.mark.parametrize("fxsave", [True, False])
def test_linux_uml_runs_under_the_xstate_filter_only_where_its_size_is_wrong(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fxsave: bool
) -> None:
    """On a host whose XSAVE size is not linux.uml's, linux.uml starts under the filter
    (syscalls.targets.xstate) and its guest without glibc's AVX routines; elsewhere as is."""
    out = stand_in(tmp_path, monkeypatch, extra='grep "^Seccomp:" /proc/self/status > $out/sc')
    monkeypatch.setattr(uml, "needs_fxsave", lambda: fxsave)
    assert uml.run(Options(out=out, pytest_args=["suites/misc/test_uname.py"])) != 0
    assert (out / "sc").read_text().split() == ["Seccomp:", "2" if fxsave else "0"]
    tunables = f"GLIBC_TUNABLES={uml.GUEST_TUNABLES}"
    assert (tunables in (out / "argv").read_text().split()) is fxsave


def test_needs_fxsave_compares_the_host_xsave_size_with_linux_umls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for size, needed in ((uml.UML_XSTATE_SIZE, False), (11008, True), (832, True), (None, False)):
        monkeypatch.setattr(uml.xstate, "host_size", lambda size=size: size)
        assert uml.needs_fxsave() is needed


LD_SO = "/lib64/ld-linux-x86-64.so.2"
LEAF1_ECX, LEAF7_EBX = "features[0x0].active[0x2]", "features[0x1].active[0x1]"
# CPUID bits of what GUEST_TUNABLES turns off: AVX, FMA; AVX2, AVX512 F DQ CD BW VL
OFF = {LEAF1_ECX: 1 << 28 | 1 << 12, LEAF7_EBX: 1 << 5 | 1 << 16 | 1 << 17 | 1 << 28 | 3 << 30}


def active_cpu_features(tunables: str | None) -> dict[str, int]:
    """ld.so's view of the CPU (glibc 2.33+ --list-diagnostics): the active words and
    the preferred flags, as glibc's ifuncs see them."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    if tunables is not None:
        env["GLIBC_TUNABLES"] = tunables
    p = subprocess.run(
        [LD_SO, "--list-diagnostics"], env=env, capture_output=True, text=True, check=False
    )
    if p.returncode != 0:
        pytest.skip(f"{LD_SO} --list-diagnostics: status {p.returncode} (glibc before 2.33)")
    features = {}
    for line in p.stdout.splitlines():
        key, _, value = line.partition("=")
        if key.startswith("x86.cpu_features."):
            features[key.removeprefix("x86.cpu_features.")] = int(value, 16)
    return features


@pytest.mark.skipif(
    not os.path.exists(LD_SO) or platform.machine() != "x86_64", reason="glibc x86_64"
)
def test_guest_tunables_turn_glibcs_avx_routines_off() -> None:
    """Their names are this glibc's (an unknown name is ignored in silence)."""
    before, after = active_cpu_features(None), active_cpu_features(uml.GUEST_TUNABLES)
    if not before[LEAF1_ECX] & 1 << 28:
        pytest.skip("no AVX on this CPU")
    for word, bits in OFF.items():
        assert after[word] & bits == 0, word
        assert after[word] == before[word] & ~bits  # and nothing else
    assert after["preferred.AVX_Fast_Unaligned_Load"] == 0


@pytest.mark.parametrize("target", ["uml", "host"])
def test_uml_differences_skip_there_saying_why_and_run_elsewhere(target: str) -> None:
    """syscalls.kernel.TARGET_ABSENT_FEATURES: a test that needs what UML lacks skips
    under --target uml, naming the reason; on other targets it runs."""
    p = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-rs",
         f"--target={target}", "suites/mm/test_mmap.py", "-k", "code_runs_only_with_prot_exec"],
        cwd=guest.ROOT, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert p.returncode == 0, p.stdout[-3000:]
    if target == "uml":
        assert "1 passed, 1 skipped" in p.stdout
        assert "User-Mode Linux maps every readable user page executable" in p.stdout
    else:
        assert "2 passed" in p.stdout and "skipped" not in p.stdout
