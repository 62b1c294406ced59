"""A checkout under /tmp (where CI clones) runs in every target.

Each target mounts a fresh tmpfs on /tmp, /run and /dev/shm, which would hide a
checkout (and a venv) below them; the targets mount those again on top
(syscalls.targets.guest.kept). A copy of this checkout in a fresh directory under /tmp
runs one small test file in each target, with the venv running these tests.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from syscalls.profile import Profile
from tests.target_checks import ROOT, cloud_kernel, need, need_uml, run_target

pytestmark = pytest.mark.slow

FILE = "suites/misc/test_uname.py"


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    # pytest's own temp dir is under /tmp unless TMPDIR says otherwise (and then it is
    # not what this tests): a directory of /tmp's own is the fallback.
    base = tmp_path_factory.mktemp("checkout")
    with contextlib.ExitStack() as stack:
        if not base.is_relative_to("/tmp"):
            base = Path(
                stack.enter_context(
                    tempfile.TemporaryDirectory(prefix="syscalls-checkout-", dir="/tmp")
                )
            )
        skip = shutil.ignore_patterns("__pycache__")
        for name in ("syscalls", "suites", "platforms"):
            shutil.copytree(ROOT / name, base / name, ignore=skip)
        for name in ("conftest.py", "pyproject.toml"):
            shutil.copy(ROOT / name, base)
        yield base


@pytest.mark.parametrize("target", ["gvisor", "uml", "vm"])
def test_a_checkout_under_tmp_runs_in_the_target(target: str, copy: Path) -> None:
    kernel = None
    if target == "gvisor":
        need("runsc", "runsc")
        if os.geteuid() != 0:
            pytest.skip("runsc needs root to create its sandbox here")
    elif target == "uml":
        need_uml()
    else:
        kernel = cloud_kernel().image
    out = copy / "results" / target
    p = run_target(target, out, FILE, "-n", "0", kernel=kernel, cwd=copy, time_limit=300)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    assert f"cd {copy}" in (out / "guest.sh").read_text()  # the copy's suite, not ROOT's
    profile = Profile.read(out / "profile.json")
    assert profile.target == target
    assert profile.tests and all(e["outcome"] == "passed" for e in profile.tests.values())
