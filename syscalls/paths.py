"""Where the suite's files are, in a checkout and in an installed wheel alike.

ROOT holds what pytest and the tables need, in the repository's own layout:
conftest.py, suites/, platforms/ and pytest's settings (pyproject.toml). In a checkout
(an editable install, or the package run from the source tree) ROOT is the checkout.
A wheel carries a copy of them inside the package, at syscalls/_suite (ship(), which
the build runs through ci/wheel.py): there ROOT is that copy, in site-packages, which
the suite never writes (redirect_bytecode()); results go to the current directory.

This module is also loaded by path while a wheel is built, outside any environment
with the package's dependencies: it imports only the standard library.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tomllib
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).resolve().parent
INSTALLED_DIR = "_suite"  # the copy's directory inside the package
SHIPPED = ("conftest.py", "suites", "platforms")  # ROOT's files a wheel carries
SETTINGS = "pyproject.toml"  # pytest reads its settings there, beside conftest.py
_SKIPPED = shutil.ignore_patterns("__pycache__", "*.py[co]")


def _root() -> tuple[Path, bool]:
    installed = PACKAGE / INSTALLED_DIR
    if (installed / "conftest.py").is_file():
        return installed, True
    return PACKAGE.parent, False


ROOT, INSTALLED = _root()
SUITES = ROOT / "suites"
PLATFORMS = ROOT / "platforms"


def layout() -> dict[str, Path]:
    """A checkout's top-level entries that running the suite needs, by name, and where
    they are here: what a copy of the suite elsewhere is made of (the ssh target's). An
    installed package's directory also holds INSTALLED_DIR, which such a copy leaves out."""
    return {"syscalls": PACKAGE, **{name: ROOT / name for name in (*SHIPPED, SETTINGS)}}


def default_out() -> Path:
    """Where a run's results go without --out: results/ at a checkout's root, else in
    the current directory (never inside site-packages)."""
    return (Path.cwd() if INSTALLED else ROOT) / "results"


def redirect_bytecode() -> None:
    """From an installed package, keep bytecode (pytest's rewritten test modules too)
    out of site-packages: this process and the ones it starts (xdist workers) write it
    under the user's cache instead (~/.cache/syscalls/pycache, the prefix the targets'
    guests read). In a checkout nothing changes: __pycache__ stays where it always was."""
    if not INSTALLED or sys.pycache_prefix:
        return
    from syscalls.targets.initramfs import cache_dir

    prefix = str(cache_dir() / "pycache")
    sys.pycache_prefix = prefix
    os.environ["PYTHONPYCACHEPREFIX"] = prefix


def pytest_settings(pyproject: Path) -> dict[str, Any]:
    """pyproject.toml's [tool.pytest.ini_options] (empty when it has none)."""
    with pyproject.open("rb") as f:
        return tomllib.load(f).get("tool", {}).get("pytest", {}).get("ini_options", {})


def settings_text(settings: dict[str, Any]) -> str:
    """A pyproject.toml holding only these pytest settings (strings, numbers, booleans
    and lists of them, as pytest reads them)."""
    lines = [
        "# Made from the repository's pyproject.toml when this wheel was built",
        "# (syscalls/paths.py): pytest's settings for the installed suite. Do not edit.",
        "[tool.pytest.ini_options]",
    ]
    lines += [f"{key} = {_toml_value(value)}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON's string escapes are a subset of TOML's
    if isinstance(value, list):
        return "[\n" + "".join(f"    {_toml_value(v)},\n" for v in value) + "]"
    raise ValueError(f"pytest setting of type {type(value).__name__}: {value!r}")


def ship(source: Path, package: Path) -> Path:
    """Copy a checkout's SHIPPED files into `package` (a built copy of syscalls/) with
    pytest's settings from its pyproject.toml, replacing an earlier copy; the copy's
    root. Raises ValueError when the settings would not read back the same."""
    dest = package / INSTALLED_DIR
    if dest.exists():
        shutil.rmtree(dest)  # a file removed from the checkout must not linger
    dest.mkdir(parents=True)
    for name in SHIPPED:
        path = source / name
        if path.is_dir():
            shutil.copytree(path, dest / name, ignore=_SKIPPED)
        else:
            shutil.copy2(path, dest / name)
    settings = pytest_settings(source / SETTINGS)
    (dest / SETTINGS).write_text(settings_text(settings))
    if pytest_settings(dest / SETTINGS) != settings:
        raise ValueError(f"{dest / SETTINGS} does not read back as {source / SETTINGS}'s")
    return dest
