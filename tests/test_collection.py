"""syscalls.collection: pytest collects only what the run executes, and selects the same
tests it would have selected without the shortcut."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.runner_checks import ROOT, pytest_in

# A conftest that lists every file pytest makes a collector for.
SPY = """
import os

def pytest_collect_file(file_path, parent):
    with open(os.environ["SPY_LOG"], "a") as f:
        f.write(file_path.name + "\\n")
"""

TESTS = """
import pytest

@pytest.mark.smoke
def test_marked():
    pass

def test_unmarked():
    pass

@pytest.mark.parametrize("n", [1, pytest.param(2, marks=pytest.mark.smoke)])
def test_one_case_marked(n):
    pass

class TestGroup:
    pytestmark = pytest.mark.smoke

    def test_in_a_marked_class(self):
        pass
"""


def _tree(tmp_path: Path) -> Path:
    (tmp_path / "sub").mkdir()
    (tmp_path / "conftest.py").write_text(SPY)
    (tmp_path / "sub" / "test_named.py").write_text(TESTS)
    (tmp_path / "sub" / "test_sibling.py").write_text("def test_sibling():\n    pass\n")
    (tmp_path / "test_top.py").write_text("def test_top():\n    pass\n")
    return tmp_path


def _collected(tmp_path: Path, *args: str) -> tuple[list[str], list[str], str]:
    """(node ids collected, test files pytest made a collector for, the last line)."""
    log = tmp_path / "spy.log"
    log.unlink(missing_ok=True)
    p = pytest_in(
        tmp_path, "-p", "syscalls.collection", "--co", "-q", *args, env={"SPY_LOG": str(log)}
    )
    assert p.returncode == 0, p.stdout + p.stderr
    ids = [line for line in p.stdout.splitlines() if "::" in line]
    spied = sorted(n for n in (log.read_text() if log.exists() else "").split() if "test_" in n)
    return ids, spied, p.stdout.strip().splitlines()[-1]


def test_a_named_file_is_collected_without_its_siblings(tmp_path):
    tree = _tree(tmp_path)
    ids, spied, _ = _collected(tree, "sub/test_named.py")
    assert spied == ["test_named.py"]
    assert len(ids) == 5


def test_a_named_directory_still_collects_every_file_in_it(tmp_path):
    tree = _tree(tmp_path)
    ids, spied, _ = _collected(tree, "sub")
    assert spied == ["test_named.py", "test_sibling.py"]
    assert "sub/test_sibling.py::test_sibling" in ids
    ids, spied, _ = _collected(tree)  # the rootdir: everything
    assert spied == ["test_named.py", "test_sibling.py", "test_top.py"]


def test_smoke_selects_what_the_marker_expression_selects(tmp_path):
    tree = _tree(tmp_path)
    by_marker, _, _ = _collected(tree, "-m", "smoke", "sub/test_named.py")
    by_option, _, last = _collected(tree, "--smoke", "sub/test_named.py")
    assert by_marker == [
        "sub/test_named.py::test_marked",
        "sub/test_named.py::test_one_case_marked[2]",
        "sub/test_named.py::TestGroup::test_in_a_marked_class",
    ]
    assert by_option == by_marker
    # test_unmarked is never made into an item; the unmarked case of a marked sibling is
    # made, then deselected as -m smoke would.
    assert "(1 deselected)" in last, last


def test_smoke_over_the_suite_is_the_marker_selection():
    """On the real suite: the same node ids as -m smoke, in the same order."""

    def ids(*args: str) -> list[str]:
        p = subprocess.run(
            [sys.executable, "-m", "pytest", "--co", "-q", "-p", "no:hypothesispytest",
             *args, "suites"],
            cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
        return [line for line in p.stdout.splitlines() if "::" in line]

    smoke = ids("--smoke")
    assert smoke == ids("-m", "smoke") and len(smoke) > 100
