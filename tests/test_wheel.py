"""The wheel, installed outside the checkout: `pip install .` and `pipx install` give a
`syscalls` command that runs the suite from any directory, writing nothing into
site-packages or the checkout.

Offline, as .ci/run must be on a fresh machine: pip builds the wheel with this
environment's setuptools (--no-build-isolation; the dev extra brings a setuptools with
its own bdist_wheel) from a copy of the checkout, since a build leaves build/ and
syscalls.egg-info where it runs. The wheel's dependencies are repacked from this
environment's installed distributions into a local wheelhouse, and pip installs from
there alone (--no-index), resolving them from the wheel's own metadata: a dependency
the wheel forgot to declare is missing in the fresh venv.
"""

from __future__ import annotations

import base64
import fcntl
import filecmp
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import pytest
from packaging.requirements import Requirement

from syscalls import paths
from syscalls.profile import Profile
from tests.target_checks import cloud_kernel, collected, run_target

pytestmark = pytest.mark.slow

CHECKOUT = Path(__file__).resolve().parent.parent
SELECTION = "lseek or getcwd"  # -k: a few dozen tests in fs/ and ipc/, any user passes them
SMALL = "suites/fs/test_getcwd.py"
NOT_SOURCE = (".*", "results", "build", "dist", "*.egg-info", "__pycache__", "*.py[co]")


@dataclass(frozen=True)
class Built:
    wheel: Path
    wheelhouse: Path  # the dependencies, repacked
    source: Path  # the checkout's copy the wheel was built from


@dataclass(frozen=True)
class Installed:
    prefix: Path  # the venv
    site: Path  # its site-packages
    command: Path  # bin/syscalls


def env_for(tmp: Path, wheelhouse: Path) -> dict[str, str]:
    """Nothing from this environment's Python or pip settings; bytecode writing on (so
    a write into site-packages would happen if anything asked for it); caches in tmp."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON", "PIPX_"))}
    env.pop("VIRTUAL_ENV", None)
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(wheelhouse),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        XDG_CACHE_HOME=str(tmp / "cache"),
    )
    return env


def run(argv: list[str | Path], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    p = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    return p


def must(p: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert p.returncode == 0, f"{p.args}: {p.returncode}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return p


def requirements(name: str) -> list[importlib.metadata.Distribution]:
    """The installed distributions `name` needs to run (no extras), itself excluded."""
    found: dict[str, importlib.metadata.Distribution] = {}
    todo = [Requirement(r).name for r in importlib.metadata.requires(name) or [] if _needed(r)]
    while todo:
        dist = importlib.metadata.distribution(todo.pop())
        key = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
        if key not in found:
            found[key] = dist
            todo += [Requirement(r).name for r in dist.requires or [] if _needed(r)]
    return list(found.values())


def _needed(requirement: str) -> bool:
    marker = Requirement(requirement).marker
    return marker is None or marker.evaluate({"extra": ""})


def repack(dist: importlib.metadata.Distribution, dest: Path) -> Path:
    """A wheel of an installed distribution: the files its RECORD lists under
    site-packages (not its scripts, which pip makes again, nor bytecode), a new RECORD."""
    files = [f for f in dist.files or [] if f.parts[0] != ".." and "__pycache__" not in f.parts]
    info = next(f.parts[0] for f in files if f.parts[0].endswith(".dist-info"))
    wheel_file = dist.read_text("WHEEL") or ""
    tag = next(
        line.split(":", 1)[1].strip() for line in wheel_file.splitlines() if line.startswith("Tag:")
    )
    path = dest / f"{info.removesuffix('.dist-info')}-{tag}.whl"
    record = []
    with zipfile.ZipFile(path, "w") as z:
        for f in files:
            if f.parts[0] == info and f.name in (
                "RECORD",
                "INSTALLER",
                "REQUESTED",
                "direct_url.json",
            ):
                continue
            data = f.read_binary()
            z.writestr(str(f), data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{f},sha256={digest.decode()},{len(data)}")
        z.writestr(f"{info}/RECORD", "\n".join([*record, f"{info}/RECORD,,"]) + "\n")
    return path


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under root with its size and modification time."""
    return {
        str(p.relative_to(root)): (p.lstat().st_size, p.lstat().st_mtime_ns)
        for p in root.rglob("*")
    }


def tree_differences(a: Path, b: Path) -> list[str]:
    """Files that differ between two trees, or are in one only (bytecode aside)."""
    cmp = filecmp.dircmp(a, b, ignore=["__pycache__"])
    found = [f"{a / n}" for n in cmp.left_only] + [f"{b / n}" for n in cmp.right_only]
    _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    found += [f"{a / n}" for n in mismatch + errors]
    for name in cmp.common_dirs:
        found += tree_differences(a / name, b / name)
    return found


def made_once(factory: pytest.TempPathFactory, name: str, make: Callable[[Path], None]) -> Path:
    """A directory `make` fills once per session: under xdist the workers share it (the
    first makes it, holding a lock; after a failure the next one tries again)."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        path = factory.mktemp(name)
        make(path)
        return path
    base = factory.getbasetemp().parent  # the session's, above each worker's own
    path, done = base / name, base / f"{name}.done"
    with (base / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir()
            make(path)
            done.touch()
    return path


def build(tmp: Path) -> None:
    """tmp/dist: the wheel, built by pip from tmp/source, a copy of the checkout;
    tmp/wheelhouse: its dependencies, repacked."""
    (tmp / "wheelhouse").mkdir()
    for requirement in requirements("syscalls"):
        repack(requirement, tmp / "wheelhouse")
    shutil.copytree(CHECKOUT, tmp / "source", ignore=shutil.ignore_patterns(*NOT_SOURCE))
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    must(run([*pip, "-w", tmp / "dist", tmp / "source"], env_for(tmp, tmp / "wheelhouse"), tmp))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    tmp = made_once(tmp_path_factory, "wheel", build)
    (wheel,) = (tmp / "dist").glob("syscalls-*.whl")
    return Built(wheel, tmp / "wheelhouse", tmp / "source")


@pytest.fixture(scope="module")
def installed(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel in a fresh venv, as `python3 -m venv V && V/bin/pip install WHEEL`."""

    def install(tmp: Path) -> None:
        env = env_for(tmp, built.wheelhouse)
        must(run([sys.executable, "-m", "venv", tmp / "venv"], env, tmp))
        must(run([tmp / "venv" / "bin" / "python", "-m", "pip", "install", built.wheel], env, tmp))

    venv = made_once(tmp_path_factory, "install", install) / "venv"
    purelib = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = must(run([venv / "bin" / "python", "-c", purelib], {}, venv)).stdout.strip()
    return Installed(venv, Path(site), venv / "bin" / "syscalls")


@pytest.mark.timeout(900)  # builds, installs and runs: minutes on a loaded machine
def test_a_wheel_installed_in_a_fresh_venv_works_from_any_directory(
    built: Built, installed: Installed, tmp_path: Path
) -> None:
    check_contents(installed)
    check_run(built, installed, tmp_path / "run")
    check_other_commands(built, installed, tmp_path / "commands")


def check_contents(installed: Installed) -> None:
    """The package, the suite and pytest's settings, as in the checkout."""
    package = installed.site / "syscalls"
    root = package / paths.INSTALLED_DIR
    for name in paths.SHIPPED:
        if (CHECKOUT / name).is_dir():
            assert tree_differences(CHECKOUT / name, root / name) == []
        else:
            assert filecmp.cmp(CHECKOUT / name, root / name, shallow=False)
    assert paths.pytest_settings(root / paths.SETTINGS) == paths.pytest_settings(
        CHECKOUT / paths.SETTINGS
    )
    # What the ssh target copies to a remote machine: the same as from the checkout
    # (the package without its copy of the suite, which the copy has beside it).
    bundle = (
        "import io, sys, tarfile; from syscalls.targets import ssh\n"
        "with tarfile.open(fileobj=io.BytesIO(ssh.bundle({}))) as tar:\n"
        "    print(*sorted(m.name for m in tar if m.isfile()), sep='\\n')"
    )
    python = installed.prefix / "bin" / "python"
    copied = must(run([python, "-c", bundle], {}, installed.prefix)).stdout
    assert copied == must(run([sys.executable, "-c", bundle], {}, CHECKOUT)).stdout
    # Every module and data file of the package (a subpackage or a data file the
    # build's configuration missed would be absent).
    copy = {str(p.relative_to(package)) for p in package.rglob("*") if p.is_file()}
    for path in (CHECKOUT / "syscalls").rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            assert str(path.relative_to(CHECKOUT / "syscalls")) in copy


def check_run(built: Built, installed: Installed, tmp: Path) -> None:
    """`syscalls run -- -k ...` from another directory: pytest's settings, the checkout's
    selection, results in ./results, nothing written into site-packages or the source."""
    elsewhere, env = tmp / "elsewhere", env_for(tmp, built.wheelhouse)
    elsewhere.mkdir(parents=True)
    site, source = snapshot(installed.site), snapshot(built.source)
    argv = [installed.command, "run", "-n", "2", "--", "-v", "--strict-markers", "-k", SELECTION]
    p = must(run(argv, env, elsewhere))

    settings = paths.pytest_settings(CHECKOUT / paths.SETTINGS)
    root = installed.site / "syscalls" / paths.INSTALLED_DIR
    assert f"rootdir: {root}" in p.stdout and "configfile: pyproject.toml" in p.stdout
    assert f"timeout: {float(settings['timeout'])}s" in p.stdout
    # The same tests as the checkout collects, every one run, none failed.
    expected = collected("-k", SELECTION, "suites")
    assert len(expected) > 10
    out = elsewhere / "results"  # the default --out, when installed
    suite = ElementTree.parse(out / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    assert int(suite.get("tests", -1)) == len(expected)
    assert suite.get("failures") == suite.get("errors") == "0"
    profile = json.loads((out / "profile.json").read_text())
    assert set(profile["tests"]) == expected
    assert {t["outcome"] for t in profile["tests"].values()} <= {"passed", "skipped"}
    compare = [installed.command, "compare", out / "profile.json", out / "junit.xml"]
    must(run(compare, env, elsewhere))

    assert snapshot(installed.site) == site, "the run wrote into site-packages"
    assert snapshot(built.source) == source, "the run wrote into the checkout"
    # pytest's rewritten test modules went to the cache, under the prefix (their path)
    prefix = tmp / "cache" / "syscalls" / "pycache"
    assert list((prefix / root.relative_to("/") / "suites").rglob("*-pytest-*.pyc"))
    assert sorted(os.listdir(elsewhere)) == ["results"]


def check_other_commands(built: Built, installed: Installed, tmp: Path) -> None:
    """--help, list (the checkout's listing), tables and a table of one's own."""
    env = env_for(tmp, built.wheelhouse)
    tmp.mkdir()
    assert "list" in must(run([installed.command, "--help"], env, tmp)).stdout
    listing = must(run([installed.command, "list"], env, tmp)).stdout
    here = must(run([sys.executable, "-m", "syscalls", "list"], os.environ.copy(), tmp))
    # The same areas, files and tests, read from the installed copy. (Not the syscalls
    # after each test's name: the inventory's answer for some helpers changes from one
    # process to the next, in the checkout too.)
    assert [line.split(": ")[0] for line in listing.splitlines()] == [
        line.split(": ")[0] for line in here.stdout.splitlines()
    ]
    table = tmp / "sample.toml"
    sample = CHECKOUT / "tests" / "data" / "linux"
    must(run([installed.command, "tables", "--from-tree", sample, "-o", table], env, tmp))
    coverage = must(run([installed.command, "list", "--platform", table], env, tmp)).stdout
    assert "coverage: " in coverage and " of 4 syscalls in linux/x86_64" in coverage


@pytest.mark.timeout(900)
def test_a_source_distribution_builds_the_same_wheel(built: Built, tmp_path: Path) -> None:
    """What `python -m build` does (sdist, then the wheel from it), with setuptools' own
    PEP 517 hooks: MANIFEST.in must carry what ci/wheel.py copies."""
    source, env = tmp_path / "source", env_for(tmp_path, built.wheelhouse)
    shutil.copytree(built.source, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    sdist = "from setuptools import build_meta; print(build_meta.build_sdist('../sdist'))"
    name = must(run([sys.executable, "-c", sdist], env, source)).stdout.split()[-1]
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    must(run([*pip, "-w", tmp_path / "dist", tmp_path / "sdist" / name], env, tmp_path))
    (wheel,) = (tmp_path / "dist").glob("syscalls-*.whl")

    def files(path: Path) -> dict[str, int]:
        with zipfile.ZipFile(path) as z:
            return {i.filename: i.CRC for i in z.infolist() if ".dist-info/" not in i.filename}

    assert files(wheel) == files(built.wheel)


@pytest.mark.timeout(900)
@pytest.mark.skipif(shutil.which("pipx") is None, reason="no pipx here (Debian package pipx)")
def test_pipx_installs_a_command_that_runs_the_suite(built: Built, tmp_path: Path) -> None:
    env = env_for(tmp_path, built.wheelhouse)
    env.update(PIPX_HOME=str(tmp_path / "pipx"), PIPX_BIN_DIR=str(tmp_path / "bin"))
    must(run(["pipx", "install", built.wheel], env, tmp_path))
    command = tmp_path / "bin" / "syscalls"
    out = tmp_path / "out"
    must(run([command, "run", "-n", "0", "--out", out, "--", SMALL], env, tmp_path))
    profile = json.loads((out / "profile.json").read_text())
    assert profile["tests"] and all(t.startswith(f"{SMALL}::") for t in profile["tests"])
    assert {t["outcome"] for t in profile["tests"].values()} <= {"passed", "skipped"}
    assert sorted(os.listdir(tmp_path / "pipx" / "venvs")) == ["syscalls"]


@pytest.mark.timeout(1200)
def test_the_installed_command_boots_a_kernel_with_the_suite_inside(
    installed: Installed, tmp_path: Path
) -> None:
    """The guest runs the venv's Python on the host's root, read-only: the installed
    suite, its settings and its bytecode work there as the checkout's do."""
    out = tmp_path / "out"
    kernel = cloud_kernel().image
    p = run_target(
        "vm", out, SMALL, "-n", "0", kernel=kernel, cwd=tmp_path, syscalls=[installed.command]
    )
    told = p.stdout[-2000:] + p.stderr[-2000:]
    assert p.returncode == 0, told
    script = (out / "guest.sh").read_text()
    assert f"cd {installed.site / 'syscalls' / paths.INSTALLED_DIR}" in script, script
    assert f"{installed.prefix / 'bin' / 'python'} -m pytest" in script, script
    profile = Profile.read(out / "profile.json")
    assert profile.target == "vm"
    assert profile.tests and all(t.startswith(f"{SMALL}::") for t in profile.tests), told
    assert all(e["outcome"] == "passed" for e in profile.tests.values()), profile.tests
