"""syscalls.paths: where the suite's files are, in this checkout and as a wheel carries
them (tests/test_wheel.py installs one for real)."""

import importlib.util
import os
import shutil
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

from syscalls import abi, cli, paths

CHECKOUT = Path(__file__).resolve().parent.parent


def load_copy(package: Path) -> ModuleType:
    """syscalls/paths.py loaded from a copy at `package`/paths.py (a site-packages'
    syscalls/, as far as the module can tell)."""
    package.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(paths.__file__), package / "paths.py")
    spec = importlib.util.spec_from_file_location("copied_paths", package / "paths.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def files_under(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")
    }


def test_in_a_checkout_the_root_is_the_checkout() -> None:
    assert paths.ROOT == CHECKOUT
    assert not paths.INSTALLED
    assert (paths.ROOT / "conftest.py").is_file()
    assert paths.SUITES == CHECKOUT / "suites" and paths.SUITES.is_dir()
    assert abi.PLATFORMS_DIR == paths.PLATFORMS == CHECKOUT / "platforms"
    assert all((paths.ROOT / name).exists() for name in paths.SHIPPED)


def test_in_a_checkout_results_default_to_its_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert paths.default_out() == CHECKOUT / "results"


def test_in_a_checkout_bytecode_stays_where_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "pycache_prefix", None)
    monkeypatch.delenv("PYTHONPYCACHEPREFIX", raising=False)
    paths.redirect_bytecode()
    assert sys.pycache_prefix is None
    assert "PYTHONPYCACHEPREFIX" not in os.environ


def test_an_installed_copy_finds_the_suite_inside_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "site-packages" / "syscalls"
    (package / paths.INSTALLED_DIR).mkdir(parents=True)
    (package / paths.INSTALLED_DIR / "conftest.py").touch()
    installed = load_copy(package)
    root, platforms = installed.ROOT, installed.PLATFORMS
    assert installed.INSTALLED
    assert root == package / paths.INSTALLED_DIR
    assert platforms == root / "platforms"
    monkeypatch.chdir(tmp_path)
    assert installed.default_out() == tmp_path / "results"  # not in site-packages


def test_the_layout_is_a_checkouts_top_level_here_and_when_installed(tmp_path: Path) -> None:
    assert paths.layout() == {
        name: CHECKOUT / name
        for name in ("syscalls", "suites", "platforms", "conftest.py", "pyproject.toml")
    }
    package = tmp_path / "syscalls"
    (package / paths.INSTALLED_DIR).mkdir(parents=True)
    (package / paths.INSTALLED_DIR / "conftest.py").touch()
    layout = load_copy(package).layout()
    assert layout.pop("syscalls") == package
    assert layout == {name: package / paths.INSTALLED_DIR / name for name in layout}


def test_a_package_without_the_copy_is_taken_for_a_checkout(tmp_path: Path) -> None:
    copied = load_copy(tmp_path / "src" / "syscalls")
    root = copied.ROOT
    assert not copied.INSTALLED
    assert root == tmp_path / "src"


def test_an_installed_copy_writes_its_bytecode_under_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "syscalls"
    (package / paths.INSTALLED_DIR).mkdir(parents=True)
    (package / paths.INSTALLED_DIR / "conftest.py").touch()
    installed = load_copy(package)
    monkeypatch.setattr(sys, "pycache_prefix", None)
    monkeypatch.setenv("PYTHONPYCACHEPREFIX", "")  # so that undoing removes what is set below
    monkeypatch.delenv("PYTHONPYCACHEPREFIX")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    installed.redirect_bytecode()
    prefix = str(tmp_path / "cache" / "syscalls" / "pycache")
    assert sys.pycache_prefix == prefix
    assert os.environ["PYTHONPYCACHEPREFIX"] == prefix  # for the xdist workers too


def test_a_prefix_already_chosen_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "syscalls"
    (package / paths.INSTALLED_DIR).mkdir(parents=True)
    (package / paths.INSTALLED_DIR / "conftest.py").touch()
    installed = load_copy(package)
    monkeypatch.setattr(sys, "pycache_prefix", str(tmp_path / "mine"))
    installed.redirect_bytecode()
    assert sys.pycache_prefix == str(tmp_path / "mine")


def test_pytest_settings_are_the_checkouts_pyproject_table() -> None:
    with (CHECKOUT / "pyproject.toml").open("rb") as f:
        table = tomllib.load(f)["tool"]["pytest"]["ini_options"]
    assert paths.pytest_settings(CHECKOUT / paths.SETTINGS) == table
    assert "smoke" in "".join(table["markers"])


def test_settings_text_reads_back_as_the_checkouts_settings(tmp_path: Path) -> None:
    settings = paths.pytest_settings(CHECKOUT / paths.SETTINGS)
    (tmp_path / "pyproject.toml").write_text(paths.settings_text(settings))
    assert paths.pytest_settings(tmp_path / "pyproject.toml") == settings


@pytest.mark.parametrize(
    "value",
    ['quote " and backslash \\ and tab\t', "ünïcode ✓", 0.5, False, ["a", 'b"c', "d\\e"], []],
)
def test_settings_text_keeps_each_kind_of_value(tmp_path: Path, value: object) -> None:
    (tmp_path / "pyproject.toml").write_text(paths.settings_text({"key": value}))
    assert paths.pytest_settings(tmp_path / "pyproject.toml") == {"key": value}


def test_settings_text_refuses_what_pytest_settings_cannot_be() -> None:
    with pytest.raises(ValueError, match="dict"):
        paths.settings_text({"key": {"nested": 1}})


def test_ship_copies_the_suites_tables_and_conftest_with_the_settings(tmp_path: Path) -> None:
    root = paths.ship(CHECKOUT, tmp_path / "syscalls")
    assert root == tmp_path / "syscalls" / paths.INSTALLED_DIR
    for name in paths.SHIPPED:
        if (CHECKOUT / name).is_dir():
            assert files_under(root / name) == files_under(CHECKOUT / name), name
        else:
            assert (root / name).read_bytes() == (CHECKOUT / name).read_bytes()
    assert not list(root.rglob("__pycache__")) and not list(root.rglob("*.pyc"))
    settings = paths.pytest_settings(CHECKOUT / paths.SETTINGS)
    assert paths.pytest_settings(root / paths.SETTINGS) == settings
    assert "Do not edit" in (root / paths.SETTINGS).read_text()


def test_ship_replaces_an_earlier_copy(tmp_path: Path) -> None:
    stale = tmp_path / "syscalls" / paths.INSTALLED_DIR / "suites" / "fs" / "test_removed.py"
    stale.parent.mkdir(parents=True)
    stale.write_text("def test_gone(): pass\n")
    paths.ship(CHECKOUT, tmp_path / "syscalls")
    assert not stale.exists()
    assert (stale.parent / "test_openat.py").is_file()


def test_ship_refuses_settings_it_cannot_write(tmp_path: Path) -> None:
    source = tmp_path / "checkout"
    source.mkdir()
    for name in (*paths.SHIPPED, paths.SETTINGS):
        if (CHECKOUT / name).is_dir():
            (source / name).symlink_to(CHECKOUT / name)
        else:
            shutil.copy(CHECKOUT / name, source / name)
    text = (source / "pyproject.toml").read_text()
    text = text.replace("[tool.pytest.ini_options]\n", "[tool.pytest.ini_options]\nx = {a = 1}\n")
    (source / "pyproject.toml").write_text(text)
    with pytest.raises(ValueError, match="dict"):
        paths.ship(source, tmp_path / "built")


def test_the_cli_takes_its_paths_from_here() -> None:
    assert cli.ROOT == paths.ROOT
