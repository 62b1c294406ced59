"""syscalls.targets.bytecode: what the host compiles for a guest, where, and that the
guest never runs a stale module from it.

The guest is played here by a Python started as targets start it: PYTHONPYCACHEPREFIX at
the cache, PYTHONDONTWRITEBYTECODE=1 (its root is read-only), `-v` telling where each
module's code came from.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from syscalls import plugins
from syscalls.targets import Options, bytecode, guest

ROOT = Path(__file__).resolve().parent.parent
ONE_TEST = "suites/fs/test_openat.py::test_openat_missing_file_is_enoent"


def as_guest(prefix: Path, *argv: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(prefix), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-v", *argv], cwd=cwd, env=env, capture_output=True, text=True,
        check=False,
    )  # fmt: skip


def pycaches(root: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in root.rglob("*.pyc") if ".venv" not in p.parts}


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The results directory of the guest `prepared` is for."""
    return tmp_path_factory.mktemp("out")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory, out: Path) -> Path:
    """A cache filled for a guest that runs ONE_TEST, the checkout untouched by it."""
    prefix = tmp_path_factory.mktemp("pycache")
    before = pycaches(ROOT)
    opts = Options(out=out, pytest_args=[ONE_TEST])
    assert bytecode.prepare(guest.collection_args(opts, "vm"), out, prefix) == prefix
    assert pycaches(ROOT) == before, "nothing was written into the checkout"
    assert float((out / bytecode.DONE).read_text()) > 0  # what the guest waits for
    return prefix


def test_the_checkout_is_compiled_with_checked_hashes(prepared: Path) -> None:
    for source in bytecode.sources():
        name = f"{source.stem}.{sys.implementation.cache_tag}.pyc"
        pyc = prepared / source.relative_to("/").parent / name
        assert bytecode.checked(source, pyc), source


def test_the_guest_imports_everything_it_needs_from_the_cache(prepared: Path) -> None:
    p = as_guest(prepared, "-m", "pytest", "-q", "-p", "no:cacheprovider", ONE_TEST,
                 "-p", "syscalls.targets.events", *plugins.turned_off([]))  # fmt: skip
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    loaded = [line for line in p.stderr.splitlines() if line.startswith("# code object from")]
    compiled = [line for line in loaded if str(prepared) not in line]
    # Only the module run as __main__ is compiled (runpy always compiles that one).
    assert [line.rsplit("/", 1)[1] for line in compiled] == ["__main__.py"], compiled
    assert len(loaded) > 100
    # pytest's rewritten test module, which pytest checks by the source's hash.
    assert list(prepared.rglob("test_openat.*-pytest-*.pyc"))
    # xdist's worker modules, which only workers import.
    assert list(prepared.rglob("xdist/remote.*.pyc"))


def test_the_pack_holds_every_pyc_the_guest_imports(
    prepared: Path, out: Path, tmp_path: Path
) -> None:
    """Unpacked where guest.sh unpacks it, it is the guest's whole cache."""
    own = tmp_path / "unpacked"
    own.mkdir()
    with tarfile.open(out / bytecode.PACK) as tar:
        names = tar.getnames()
    assert all(not n.startswith("/") and ".." not in n.split("/") for n in names)
    unpack = ["tar", "-x", *guest.UNPACK.split(), "-f", out / bytecode.PACK, "-C", own]
    subprocess.run(unpack, check=True)  # as guest.sh does
    assert any("-pytest-" in n for n in names)  # pytest's rewritten test module
    p = as_guest(own, "-m", "pytest", "-q", "-p", "no:cacheprovider", ONE_TEST,
                 "-p", "syscalls.targets.events", *plugins.turned_off([]))  # fmt: skip
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    loaded = [line for line in p.stderr.splitlines() if line.startswith("# code object from")]
    compiled = [line.rsplit("/", 1)[1] for line in loaded if str(own) not in line]
    assert compiled == ["__main__.py"], compiled
    # Only what was imported: not the modules only xdist's workers import.
    assert not any("xdist/remote." in n for n in names)


def test_the_guest_script_unpacks_the_pack_into_its_own_memory(tmp_path: Path) -> None:
    job = bytecode.job(["--version"], tmp_path, tmp_path / "pycache")
    assert job is not None
    opts = Options(out=tmp_path, pytest_args=[ONE_TEST])
    script = guest.write_script(opts, "vm", 60, 10.0, job=job).read_text()
    pack = str(tmp_path / bytecode.PACK)
    unpack = f"tar -x {guest.UNPACK} -f {pack} -C {guest.GUEST_PYCACHE}"
    assert unpack in script and f"export PYTHONPYCACHEPREFIX={guest.GUEST_PYCACHE}" in script
    assert script.index(str(job.done)) < script.index(unpack) < script.index("-m pytest")
    assert f"rm -f {pack}" in script


def test_a_pack_is_written_whole_or_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = tmp_path / "pycache"
    source = tmp_path / "src" / "mod.py"
    directory = prefix / source.parent.relative_to("/")
    directory.mkdir(parents=True)
    (directory / "mod.cpython-311.pyc").write_bytes(b"code")
    (directory / "mod.cpython-311-pytest-9.2.0.pyc").write_bytes(b"rewritten")
    (directory / "other.cpython-311.pyc").write_bytes(b"not imported")
    dest = tmp_path / "out" / bytecode.PACK
    dest.parent.mkdir()
    assert bytecode.pack(prefix, [source], dest) == 2
    with tarfile.open(dest) as tar:
        assert sorted(n.rsplit("/", 1)[1] for n in tar.getnames()) == [
            "mod.cpython-311-pytest-9.2.0.pyc", "mod.cpython-311.pyc",
        ]  # fmt: skip
    dest.unlink()
    added = []

    def add_then_fill_the_disk(self: tarfile.TarFile, *args: object, **kwargs: object) -> None:
        if added:
            raise OSError(28, "No space left on device")
        added.append(real_add(self, *args, **kwargs))

    real_add = tarfile.TarFile.add
    monkeypatch.setattr(tarfile.TarFile, "add", add_then_fill_the_disk)
    assert bytecode.pack(prefix, [source], dest) == 0
    assert added and list(dest.parent.iterdir()) == []  # no pack, no half a pack


def test_an_edited_module_is_never_run_from_a_stale_pyc(tmp_path: Path) -> None:
    """Same size, same modification time: a timestamp pyc would be taken as current."""
    root, prefix = tmp_path / "checkout", tmp_path / "pycache"
    (root / "suites").mkdir(parents=True)
    module = root / "suites" / "answer.py"
    module.write_text("VALUE = 1\n")
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(prefix)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    code = (
        "from pathlib import Path; from syscalls.targets import bytecode; "
        f"print(bytecode.compile_checkout(Path({str(root)!r})))"
    )
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                       text=True, check=True)  # fmt: skip
    assert p.stdout.strip() == "1"
    stat = module.stat()
    module.write_text("VALUE = 2\n")
    os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    p = as_guest(prefix, "-c", "import suites.answer as a; print(a.VALUE)", cwd=root)
    assert p.stdout.strip() == "2", p.stderr[-2000:]
    # Unchanged, it is taken from the cache.
    module.write_text("VALUE = 1\n")
    p = as_guest(prefix, "-c", "import suites.answer as a; print(a.VALUE)", cwd=root)
    assert p.stdout.strip() == "1"
    assert f"code object from '{prefix}" in p.stderr


def test_a_cache_that_cannot_be_made_is_no_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert bytecode.prepare(["--version"], tmp_path, blocker / "pycache") is None
    assert not (tmp_path / bytecode.DONE).exists()  # no job: the guest does not wait
