"""setuptools' build_py, and the suite's own files in the wheel (pyproject.toml's
[tool.setuptools.cmdclass]): conftest.py, suites/ and platforms/ stay at the
repository's top level and are copied into the built package by syscalls/paths.py's
ship(), which is loaded by its path: the build's environment has setuptools, not the
package's dependencies. An editable install runs from the checkout and gets no copy.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from setuptools.command.build_py import build_py

CHECKOUT = Path(__file__).resolve().parent.parent


class BuildPy(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        path = CHECKOUT / "syscalls" / "paths.py"
        spec = importlib.util.spec_from_file_location("_syscalls_paths", path)
        assert spec is not None and spec.loader is not None
        paths = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(paths)
        paths.ship(CHECKOUT, Path(self.build_lib) / "syscalls")
