"""ci/workflows/*.yml: valid GitHub Actions YAML, every job bounded in time and publishing
JUnit XML, and every command naming things that exist in this repository (files,
platform tables, `syscalls` subcommands).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from syscalls.abi import available

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / "ci/workflows").glob("*.yml"))
EXPECTED = {"linux-host", "linux-kernels", "freebsd", "netbsd", "openbsd"}
JUNIT_ACTIONS = ("mikepenz/action-junit-report@", "actions/upload-artifact@")


# Subcommands a workflow uses that the CLI does not have yet, and who adds them.
def load(path: Path) -> dict:
    data = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True.
    if True in data:
        data["on"] = data.pop(True)
    return data


def steps(data: dict):
    for name, job in data["jobs"].items():
        for step in job["steps"]:
            yield name, step


def commands(data: dict) -> list[str]:
    """Every shell command line in run: steps and in the VM actions' run/prepare inputs."""
    lines: list[str] = []
    for _, step in steps(data):
        texts = [step.get("run", "")]
        if step.get("uses", "").startswith("vmactions/"):
            texts += [step["with"].get("run", ""), step["with"].get("prepare", "")]
        for text in texts:
            lines += [line.strip() for line in text.replace("\\\n", " ").splitlines()]
    return [line for line in lines if line]


def cli_subcommands() -> set[str]:
    """The subcommands syscalls/cli.py defines."""
    return set(re.findall(r'add_parser\(\s*"([\w-]+)"', (ROOT / "syscalls/cli.py").read_text()))


def test_every_platform_has_a_workflow():
    assert {p.stem for p in WORKFLOWS} == EXPECTED


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_workflow_shape(path):
    data = load(path)
    assert data["name"] == path.stem
    assert data["on"], "no trigger"
    assert data["jobs"]
    for name, job in data["jobs"].items():
        assert job["runs-on"], name
        assert 0 < job["timeout-minutes"] <= 90, f"{name}: CI has 90 minutes"
        uses = [s.get("uses", "") for s in job["steps"]]
        assert any(u.startswith("actions/checkout@") for u in uses), f"{name}: no checkout"
        assert any(u.startswith(JUNIT_ACTIONS) for u in uses), f"{name}: JUnit not published"
        for step in job["steps"]:
            assert ("run" in step) != ("uses" in step), f"{name}: {step}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_every_job_writes_junit_xml(path):
    data = load(path)
    for name, job in data["jobs"].items():
        text = yaml.safe_dump(job["steps"])
        # pytest's --junitxml, or `syscalls run`, which always writes junit.xml.
        assert "--junitxml=" in text or "syscalls run" in text or "syscalls boot" in text, name
        published = [
            s["with"].get("report_paths", s["with"].get("path", ""))
            for s in job["steps"]
            if s.get("uses", "").startswith(JUNIT_ACTIONS)
        ]
        assert any("junit" in p or p.rstrip("/") == "results" for p in published), name


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_repo_paths_in_commands_exist(path):
    for line in commands(load(path)):
        for word in shlex.split(line.replace("${{", "").replace("}}", ""), posix=True):
            m = re.match(r"^(ci/[\w./-]+|\.venv/bin/(\w+)|suites|tests)$", word)
            if not m:
                continue
            if m.group(2):  # a console script the editable install provides
                assert m.group(2) in ("python", "pytest", "syscalls", "ruff"), word
            else:
                assert (ROOT / word).exists(), f"{path.name}: {word} is not in the repo"
        if "python3 -m syscalls" in line:
            assert (ROOT / "syscalls/__main__.py").is_file()


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_platforms_named_have_tables(path):
    data = load(path)
    matrix_arches = {
        a
        for job in data["jobs"].values()
        for a in job.get("strategy", {}).get("matrix", {}).get("arch", [])
    }
    for line in commands(data):
        line = line.replace("${{ matrix.arch }}", "{arch}")
        for spec in re.findall(r"--platform[= ](\S+)", line):
            specs = [spec.format(arch=a) for a in matrix_arches] if "{arch}" in spec else [spec]
            for s in specs:
                assert s in available(), f"{path.name}: no table for {s}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_syscalls_subcommands_exist(path):
    known = cli_subcommands()
    assert {"run", "boot", "tables", "list", "compare"} <= known
    used = {
        m.group(1)
        for line in commands(load(path))
        for m in re.finditer(r"(?:syscalls|-m syscalls)\s+(\w+)", line)
    }
    missing = used - known
    assert not missing, f"{path.name} uses subcommands the CLI lacks: {sorted(missing)}"
