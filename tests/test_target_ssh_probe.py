"""syscalls.targets.ssh_probe: the sh probe run for real by this machine's shells, what
its output says, which interpreter is chosen, and what to install where."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

from syscalls.targets import ssh_probe
from syscalls.targets.ssh_probe import Missing, ProbeError, Python, Remote, choose, hint, parse

SHELLS = [["/bin/sh"], ["busybox", "sh"]]  # dash, and busybox's ash (close to BSD sh)


def _probe(shell: list[str], want: str | None = None, path: str | None = None) -> Remote:
    if shutil.which(shell[0]) is None:
        pytest.skip(f"{shell[0]} not here (busybox-static)")
    env = {**os.environ, "PATH": path or os.environ["PATH"]}
    p = subprocess.run(
        [*shell, "-s"], input=ssh_probe.script(want).encode(), capture_output=True, env=env
    )
    return parse(p.stdout.decode())


@pytest.mark.parametrize("shell", SHELLS, ids=lambda s: s[0])
def test_probe_names_the_machine_and_this_python(shell: list[str]) -> None:
    here = os.path.dirname(sys.executable)
    remote = _probe(shell, path=f"{here}:/usr/bin:/bin")
    assert (remote.sysname, remote.machine) == (os.uname().sysname, os.uname().machine)
    mine = next(p for p in remote.pythons if os.path.dirname(p.path) == here)
    assert mine.version == sys.version_info[:3]
    expected = {m for m in ("cffi", "_cffi_backend", "pytest", "pytest_timeout", "pip")
                if find_spec(m)}  # fmt: skip
    assert mine.modules == expected
    assert mine.pointer_size == (8 if sys.maxsize > 2**32 else 4)
    # python3 and python3.11 of one directory are the same file: listed once.
    assert len({os.path.realpath(p.path) for p in remote.pythons}) == len(remote.pythons)


def test_probe_looks_only_at_the_python_it_is_given() -> None:
    remote = _probe(["/bin/sh"], want=sys.executable)
    assert [p.path for p in remote.pythons] == [sys.executable]
    remote = _probe(["/bin/sh"], want="/nonexistent/python3")
    assert remote.pythons == [] and remote.broken == ["/nonexistent/python3"]


def test_probe_without_python_in_path_finds_none_there(tmp_path: Path) -> None:
    for d in ssh_probe.PACKAGE_DIRS:
        if any(Path(d).glob("python3*")):
            pytest.skip(f"{d} holds a python3, where the probe looks whatever PATH says")
    (tmp_path / "uname").symlink_to(shutil.which("uname") or "/bin/uname")
    remote = _probe(["/bin/sh"], path=str(tmp_path))
    assert remote.sysname and remote.pythons == []


OUTPUT = f"""Welcome to FreeBSD!
{ssh_probe.MARK}
uname FreeBSD amd64
python\t/usr/local/bin/python3\t3.11.9\t8\t/usr/local/bin/python3.11\tcffi,_cffi_backend,pip
python\t/usr/local/bin/python3.11\t3.11.9\t8\t/usr/local/bin/python3.11\tcffi,_cffi_backend,pip
python\t/usr/local/bin/python3.12\t3.12.4\t8\t/usr/local/bin/python3.12\tcffi,_cffi_backend,pytest
broken\t/usr/local/bin/python3.13
end
"""


def test_parse_reads_the_probe_after_a_motd() -> None:
    remote = parse(OUTPUT)
    assert (remote.sysname, remote.machine) == ("FreeBSD", "amd64")
    assert [p.path for p in remote.pythons] == [
        "/usr/local/bin/python3",
        "/usr/local/bin/python3.12",
    ]
    assert remote.pythons[1].version == (3, 12, 4)
    assert remote.pythons[0].modules == {"cffi", "_cffi_backend", "pip"}
    assert remote.broken == ["/usr/local/bin/python3.13"]


@pytest.mark.parametrize(
    ("output", "says"),
    [
        ("", "printed nothing"),
        ("This account runs backups only.\n", "This account runs backups only."),
        (f"{ssh_probe.MARK}\nuname Linux x86_64\n", "ended early"),
    ],
)
def test_parse_says_when_the_probe_did_not_run_as_written(output: str, says: str) -> None:
    with pytest.raises(ProbeError, match=says):
        parse(output)


def py(path: str, version: tuple[int, ...], *modules: str) -> Python:
    return Python(path, version, 8, frozenset(modules))


ALL = ("cffi", "_cffi_backend", "pytest")


def test_choose_takes_the_first_python_that_has_everything() -> None:
    remote = parse(OUTPUT)
    choice = choose(remote, "box")
    assert choice.python.path == "/usr/local/bin/python3.12" and choice.install == []


def test_choose_falls_back_to_pip_for_what_is_missing() -> None:
    remote = Remote("Linux", "x86_64", [py("/a/python3", (3, 11, 2), "cffi", "pip")])
    choice = choose(remote, "box")
    assert choice.install == ["cffi", "pytest"]  # cffi's C part is missing
    remote.pythons[0] = py("/a/python3", (3, 11, 2), *ALL[:2], "pip")
    assert choose(remote, "box").install == ["pytest"]
    remote.pythons[0] = py("/a/python3", (3, 11, 2), *ALL, "pip")
    assert choose(remote, "box").install == []  # no pytest-xdist: the workers are forked


def test_choose_without_pip_says_what_to_install_with_the_oss_packages() -> None:
    remote = Remote("FreeBSD", "amd64", [py("/usr/local/bin/python3.11", (3, 11, 9), "cffi")])
    with pytest.raises(Missing) as e:
        choose(remote, "me@box")
    assert str(e.value) == (
        "/usr/local/bin/python3.11 (3.11.9) on me@box lacks cffi, pytest and has no pip to "
        "install it; to install: pkg install py311-cffi py311-pytest"
    )


def test_choose_says_when_no_python_is_new_enough() -> None:
    remote = Remote("Linux", "x86_64", [py("/usr/bin/python3", (3, 9, 2), *ALL)])
    with pytest.raises(
        Missing, match=r"no Python 3.11 or later on box \(found: /usr/bin/python3 3.9.2\)"
    ):
        choose(remote, "box")
    with pytest.raises(
        Missing, match=r"on box \(looked for python3, .*/usr/pkg/bin\); to install one: pkgin"
    ):
        choose(Remote("NetBSD", "amd64"), "box")


@pytest.mark.parametrize(
    ("sysname", "expected"),
    [
        ("FreeBSD", "pkg install py311-cffi py311-pytest"),
        ("NetBSD", "pkgin install py311-cffi py311-test"),
        ("OpenBSD", "pkg_add py3-cffi py3-test"),
        ("Linux", "apt install python3-cffi python3-pytest (Debian, Ubuntu)"),
        ("SunOS", "pip install cffi pytest"),
    ],
)
def test_hint_names_each_oss_packages(sysname: str, expected: str) -> None:
    assert hint(sysname, (3, 11, 9), ["cffi", "pytest"]) == expected


def test_hint_follows_the_python_version() -> None:
    assert hint("NetBSD", (3, 12, 1), ["python", "cffi"]) == "pkgin install python312 py312-cffi"


@pytest.mark.parametrize(
    ("sysname", "machine", "size", "table"),
    [
        ("FreeBSD", "amd64", 8, "freebsd/amd64"),
        ("NetBSD", "amd64", 8, "netbsd/amd64"),
        ("OpenBSD", "arm64", 8, "openbsd/arm64"),
        ("Linux", "aarch64", 8, "linux/aarch64"),
        ("Linux", "x86_64", 4, "linux/i386"),  # a 32-bit userland on a 64-bit kernel
    ],
)
def test_the_table_follows_uname_and_the_pythons_pointer_size(
    sysname: str, machine: str, size: int, table: str
) -> None:
    remote = Remote(sysname, machine)
    assert remote.table(Python("/p", (3, 11), size, frozenset())) == table
