"""`syscalls kconfig`: the fragment, merging it as merge_config.sh does, and reporting
what `make olddefconfig` dropped -- on a sample tree (a Makefile standing in for
kconfig) and on Debian's linux-source-6.1 (read-only, configured in an O= directory)."""

import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from syscalls import kconfig

ROOT = Path(__file__).resolve().parent.parent
REAL_TREE = Path("/var/tmp/linux-source-6.1")  # extracted once per machine (read-only)
TARBALL = Path("/usr/src/linux-source-6.1.tar.xz")

# What `syscalls boot` cannot do without: console, initramfs, the shares, power-off.
BOOT_NEEDS = (
    "CONFIG_SERIAL_8250_CONSOLE",
    "CONFIG_BLK_DEV_INITRD",
    "CONFIG_DEVTMPFS",
    "CONFIG_VIRTIO_PCI",
    "CONFIG_NET_9P_VIRTIO",
    "CONFIG_9P_FS",
    "CONFIG_VIRTIO_FS",
    "CONFIG_ACPI",
    "CONFIG_BINFMT_ELF",
    "CONFIG_TMPFS",
)


def syscalls(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "syscalls", "kconfig", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def running(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """kconfig.running() with no environment variable, /proc/config.gz in tmp_path."""
    monkeypatch.delenv(kconfig.CONFIG_ENV, raising=False)
    monkeypatch.setattr(kconfig, "PROC_CONFIG", tmp_path / "config.gz")
    monkeypatch.setattr(kconfig, "BOOT", tmp_path / "boot")
    kconfig._running.cache_clear()
    yield lambda: kconfig.running("0.0-none")
    kconfig._running.cache_clear()


def test_running_reads_proc_config_gz(running, tmp_path: Path) -> None:
    (tmp_path / "config.gz").write_bytes(gzip.compress(b"CONFIG_A=y\n# CONFIG_B is not set\n"))
    assert running() == ({"CONFIG_A": "y", "CONFIG_B": "n"}, str(tmp_path / "config.gz"))


def test_running_prefers_the_file_the_environment_names(
    running, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config.gz").write_bytes(gzip.compress(b"CONFIG_A=y\n"))
    (tmp_path / "image.config").write_text("CONFIG_A=m\n")
    monkeypatch.setenv(kconfig.CONFIG_ENV, str(tmp_path / "image.config"))
    assert running() == ({"CONFIG_A": "m"}, str(tmp_path / "image.config"))


def test_load_reads_a_plain_or_gzipped_configuration(tmp_path: Path) -> None:
    (tmp_path / "config").write_text("CONFIG_A=y\n")
    (tmp_path / "config.gz").write_bytes(gzip.compress(b"CONFIG_B=m\n"))
    assert kconfig.load(tmp_path / "config") == {"CONFIG_A": "y"}
    assert kconfig.load(tmp_path / "config.gz") == {"CONFIG_B": "m"}
    assert kconfig.load(tmp_path / "absent") is None


def test_built_without_is_false_only_for_an_option_built_in(running, tmp_path: Path) -> None:
    (tmp_path / "config.gz").write_bytes(gzip.compress(b"CONFIG_A=y\nCONFIG_M=m\n"))
    assert not kconfig.built_without("CONFIG_A")
    assert kconfig.built_without("CONFIG_M") and kconfig.built_without("CONFIG_ABSENT")
    (tmp_path / "config.gz").unlink()
    kconfig._running.cache_clear()
    assert kconfig.built_without("CONFIG_A")  # unknown: the benefit of the doubt


@pytest.mark.parametrize("content", [b"", b"not gzip", gzip.compress(b"no options here\n")])
def test_running_is_none_where_no_configuration_can_be_read(
    running, tmp_path: Path, content: bytes
) -> None:
    (tmp_path / "config.gz").write_bytes(content)
    assert running() is None


def test_fragment_builds_in_what_boot_and_the_suite_need() -> None:
    options = kconfig.parse(kconfig.fragment())
    assert all(options.get(name) == "y" for name in BOOT_NEEDS), options
    assert all(options.get(n) == "y" for n in ("CONFIG_FUTEX", "CONFIG_EPOLL", "CONFIG_SECCOMP"))


def test_kconfig_prints_the_fragment() -> None:
    p = syscalls()
    assert p.returncode == 0
    assert p.stdout == kconfig.fragment()


def test_parse_reads_set_and_unset_options_last_one_winning() -> None:
    text = 'CONFIG_A=y\n# CONFIG_B is not set\n# comment\nCONFIG_C="x y"\nCONFIG_A=m\n'
    assert kconfig.parse(text) == {"CONFIG_A": "m", "CONFIG_B": "n", "CONFIG_C": '"x y"'}


def test_merge_text_replaces_options_in_place_and_appends_new_ones() -> None:
    config = "CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=y\n"
    merged = kconfig.merge_text(config, "CONFIG_B=y\n# CONFIG_C is not set\nCONFIG_D=64\n")
    assert merged.splitlines() == [
        "CONFIG_A=y",
        "CONFIG_B=y",
        "# CONFIG_C is not set",
        "CONFIG_D=64",
    ]


def test_dropped_names_options_missing_or_changed_and_accepts_absent_unset_ones() -> None:
    wanted = {"CONFIG_A": "y", "CONFIG_B": "y", "CONFIG_C": "n", "CONFIG_D": "4"}
    config = {"CONFIG_A": "y", "CONFIG_D": "8"}
    assert kconfig.dropped(wanted, config) == ["CONFIG_B=y", "CONFIG_D=4"]


# --- a sample tree: a Makefile whose olddefconfig drops one option ---------------------

SAMPLE_MAKEFILE = """\
olddefconfig:
\tsed -i '/^CONFIG_NEEDS_MISSING_DEP=/d' .config
\techo "ARCH=$(ARCH)" > arch.seen
"""


@pytest.fixture
def sample_tree(tmp_path: Path) -> Path:
    (tmp_path / "Makefile").write_text(SAMPLE_MAKEFILE)
    (tmp_path / ".config").write_text("CONFIG_OLD=y\n# CONFIG_TTY is not set\n")
    return tmp_path


def test_merge_into_a_sample_tree_keeps_its_options_and_runs_olddefconfig(
    sample_tree: Path,
) -> None:
    missing = kconfig.merge(sample_tree, "x86_64", "CONFIG_TTY=y\nCONFIG_NEW=y\n")
    assert missing == []
    assert kconfig.parse((sample_tree / ".config").read_text()) == {
        "CONFIG_OLD": "y",
        "CONFIG_TTY": "y",
        "CONFIG_NEW": "y",
    }
    assert (sample_tree / "arch.seen").read_text() == "ARCH=x86_64\n"


def test_merge_reports_an_option_olddefconfig_dropped(sample_tree: Path) -> None:
    fragment = "CONFIG_TTY=y\nCONFIG_NEEDS_MISSING_DEP=y\n"
    assert kconfig.merge(sample_tree, "x86_64", fragment) == ["CONFIG_NEEDS_MISSING_DEP=y"]


def test_kconfig_merge_exits_1_naming_what_was_dropped(sample_tree: Path) -> None:
    config = sample_tree / ".config"
    config.write_text(config.read_text() + "CONFIG_NEEDS_MISSING_DEP=y\n")
    # the fragment's options all survive the sample Makefile...
    p = syscalls("--merge", str(sample_tree))
    assert p.returncode == 0, p.stderr
    assert "every option of the fragment is in" in p.stdout
    # ...unless its olddefconfig drops one of them
    (sample_tree / "Makefile").write_text(
        SAMPLE_MAKEFILE.replace("CONFIG_NEEDS_MISSING_DEP", "CONFIG_FUTEX")
    )
    p = syscalls("--merge", str(sample_tree))
    assert p.returncode == 1
    assert "dropped by make olddefconfig: CONFIG_FUTEX=y" in p.stderr


@pytest.mark.parametrize("what", ["no tree", "no .config", "make fails"])
def test_kconfig_merge_bad_input_exits_2_with_one_line(sample_tree: Path, what: str) -> None:
    target = sample_tree
    if what == "no tree":
        target = sample_tree / "missing"
    elif what == "no .config":
        (sample_tree / ".config").unlink()
    else:
        (sample_tree / "Makefile").write_text("olddefconfig:\n\t@echo broken >&2; false\n")
    p = syscalls("--merge", str(target))
    assert p.returncode == 2
    assert p.stderr.startswith("syscalls kconfig: ") and p.stderr.count("\n") == 1


def test_kconfig_check_names_what_a_config_file_lacks(tmp_path: Path) -> None:
    config = tmp_path / "config-6.1"
    config.write_text(kconfig.fragment().replace("CONFIG_9P_FS=y", "# CONFIG_9P_FS is not set"))
    p = syscalls("--check", str(config))
    assert p.returncode == 1
    assert p.stderr.rstrip().endswith("lacks: CONFIG_9P_FS=y")


@pytest.mark.parametrize(
    "text", ["", "\n\n", "#!/bin/sh\necho hello\n"], ids=["empty", "blank", "script"]
)
def test_kconfig_check_of_a_file_with_no_option_is_bad_input(tmp_path: Path, text: str) -> None:
    # it "lacked" every option of the fragment (status 1), as a config would
    config = tmp_path / "config"
    config.write_text(text)
    p = syscalls("--check", str(config))
    assert p.returncode == 2
    assert (
        p.stderr
        == f"syscalls kconfig: {config}: not a kernel configuration (no CONFIG_ option in it)\n"
    )


# --- the real tree ---------------------------------------------------------------------


# What kconfig reads of the tree, when only the tarball is there to unpack.
_MEMBERS = ("*Kconfig*", "*Makefile*", "*Kbuild*", "scripts/*", "*/configs/*", "include/*")


@pytest.fixture(scope="module")
def tinyconfig(tmp_path_factory) -> Path:
    """An O= build directory holding `make tinyconfig` of linux-source-6.1: the source
    tree is only read (the extracted one, else kconfig's part of the tarball)."""
    for tool in ("make", "cc", "flex", "bison"):
        if shutil.which(tool) is None:
            pytest.skip(f"needs {tool} (ci/setup installs it)")
    tree = REAL_TREE
    if not tree.is_dir():
        if not TARBALL.is_file():
            pytest.skip(f"{TARBALL} missing (Debian package linux-source-6.1; ci/setup)")
        dest = tmp_path_factory.mktemp("linux-source")
        members = [f"linux-source-6.1/{m}" for m in _MEMBERS]
        subprocess.run(
            ["tar", "-xJf", str(TARBALL), "-C", str(dest), "--wildcards", *members], check=True
        )
        tree = dest / "linux-source-6.1"
    out = tmp_path_factory.mktemp("kconfig-o")
    subprocess.run(
        ["make", "-s", "-C", str(tree), f"O={out}", "ARCH=x86_64", "tinyconfig"],
        check=True,
        capture_output=True,
    )
    return out


@pytest.fixture
def build(tinyconfig: Path, tmp_path: Path) -> Path:
    """A fresh copy of the tinyconfig build directory, for one test to merge into."""
    copy = tmp_path / "o"
    shutil.copytree(tinyconfig, copy, symlinks=True)
    return copy


@pytest.mark.slow
def test_every_option_of_the_fragment_survives_olddefconfig_on_linux_6_1(build: Path) -> None:
    assert kconfig.check(build) != []  # tinyconfig alone lacks most of it
    assert kconfig.merge(build) == []
    assert kconfig.check(build) == []


@pytest.mark.slow
def test_an_option_whose_dependency_is_missing_is_reported_on_linux_6_1(build: Path) -> None:
    # 9P_FS depends on NET_9P (and that on NET), which tinyconfig leaves out
    assert kconfig.merge(build, fragment_text="CONFIG_9P_FS=y\n") == ["CONFIG_9P_FS=y"]
