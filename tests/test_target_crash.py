"""Targets whose guest dies in the middle of a test (as on a kernel crash).

tests/crash_plugin.py kills, inside the target, the shell that runs pytest (and would
write the status) when the chosen test starts, and holds that test: the guest goes down
with the test running and no status. The host must say so, name the test, and keep
every test that finished in junit.xml and profile.json.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

from syscalls.profile import Profile
from tests.ktap_format import leaves, parse
from tests.target_checks import junit_outcomes, need_uml, run_target

pytestmark = pytest.mark.slow

VICTIM = "suites/fs/test_openat.py::test_openat_excl_on_existing_file_is_eexist"
TARGETS = {"uml": "linux.uml", "gvisor": "runsc"}


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_a_guest_that_dies_mid_test_names_it_and_keeps_what_finished(
    target: str, tmp_path: Path
) -> None:
    if importlib.util.find_spec(f"syscalls.targets.{target}") is None:
        pytest.skip(f"no syscalls.targets.{target} module in this checkout")
    if shutil.which(TARGETS[target]) is None:
        pytest.skip(f"{TARGETS[target]} is not installed (ci/setup installs it as root)")
    if target == "uml":
        need_uml()
    out = tmp_path / "out"
    # -n 0: the plugin kills its parent, which must be the shell, not an xdist controller.
    plugin = ["-n", "0", "-p", "tests.crash_plugin", f"--crash-at={VICTIM}"]
    ktap = tmp_path / "run.ktap"  # written on the host from what the crash left
    p = run_target(target, out, "suites/fs/test_openat.py", *plugin, options=["--ktap", str(ktap)])
    log = p.stdout[-2000:] + p.stderr[-2000:]
    assert p.returncode not in (0, 1, 5), log  # not a status the suite could have given
    assert f"running: {VICTIM}" in p.stderr, log
    assert not (out / "status").exists()
    assert (out / "console.log").stat().st_size > 0
    profile = Profile.read(out / "profile.json")  # rebuilt from the progress log
    assert profile.target == target
    assert profile.tests[VICTIM]["outcome"] == "failed"
    assert profile.meta.get("incomplete")
    passed = [t for t, e in profile.tests.items() if e["outcome"] == "passed"]
    assert passed, "the tests that finished before the crash are kept"
    assert VICTIM not in passed
    junit = junit_outcomes(out / "junit.xml")
    assert len(junit) == len(profile.tests)
    assert list(junit.values()).count("failed") == 1
    doc = parse(ktap.read_text())  # the format's rules: tests/ktap_format.py
    assert any(d.startswith("the run did not finish: ") for d in doc.diagnostics)
    results = {name: r for (_, name), r in leaves(doc).items()}
    assert len(results) == len(profile.tests)
    victim = results[VICTIM.removeprefix("suites/fs/")]
    assert not victim.ok and victim.diagnostics
    assert sum(r.ok and r.directive is None for r in results.values()) == len(passed)
