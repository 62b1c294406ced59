"""The kernel configuration a kernel needs to boot under `syscalls boot` and run the whole
suite, and merging it into a kernel tree's `.config`.

The fragment (kernel.config beside this module) is the one list of those options: the
VM target's boot (serial console, initramfs, virtio with 9p and virtiofs, ACPI
power-off) and the syscalls the suite tests, all built in. `merge()` does what the
tree's scripts/kconfig/merge_config.sh does (the fragment's value replaces the .config's,
new options are appended), then `make olddefconfig`, and reports every requested option
that did not survive it (an option whose dependencies are missing is dropped silently
by kconfig).
"""

from __future__ import annotations

import functools
import gzip
import os
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path

from syscalls.userfiles import OutputError, UnreadableInput, read_input, write_output

FRAGMENT_FILE = Path(__file__).with_name("kernel.config")
CONFIG_ENV = "SYSCALLS_KERNEL_CONFIG"  # the tested kernel's configuration (running())
PROC_CONFIG = Path("/proc/config.gz")
BOOT = Path("/boot")  # where a distribution installs config-RELEASE
NOT_SET = "n"  # the value of "# CONFIG_X is not set"

_SET = re.compile(r"^(CONFIG_[A-Za-z0-9_]+)=(.*)$")
_UNSET = re.compile(r"^# (CONFIG_[A-Za-z0-9_]+) is not set$")


class KconfigError(Exception):
    """A tree or config that cannot be merged; the message is one line."""


def fragment() -> str:
    return FRAGMENT_FILE.read_text()


def option(line: str) -> tuple[str, str] | None:
    """(name, value) of one .config line; "n" for "is not set"; None for anything else."""
    line = line.strip()
    if m := _SET.match(line):
        return m.group(1), m.group(2)
    if m := _UNSET.match(line):
        return m.group(1), NOT_SET
    return None


def parse(text: str) -> dict[str, str]:
    """Every option a .config or fragment sets (the last value wins, as in kconfig)."""
    return dict(o for line in text.splitlines() if (o := option(line)))


def _line(name: str, value: str) -> str:
    return f"# {name} is not set" if value == NOT_SET else f"{name}={value}"


def text(options: Mapping[str, str]) -> str:
    """A .config's text for these options."""
    return "".join(_line(name, value) + "\n" for name, value in options.items())


def merge_text(config: str, fragment_text: str) -> str:
    """The .config with the fragment merged in: its options replace the .config's lines
    for them, the others are appended in the fragment's order."""
    wanted = parse(fragment_text)
    out = [
        line for line in config.splitlines() if (o := option(line)) is None or o[0] not in wanted
    ]
    out += [_line(name, value) for name, value in wanted.items()]
    return "\n".join(out) + "\n"


def dropped(wanted: Mapping[str, str], config: Mapping[str, str]) -> list[str]:
    """The requested options a config does not have as asked ("CONFIG_X=y"); an option
    asked to be unset is satisfied by its absence."""
    return [
        _line(name, value) for name, value in wanted.items() if config.get(name, NOT_SET) != value
    ]


def config_path(where: Path) -> Path:
    """The .config of a tree (or build directory), or a config file itself."""
    path = where / ".config" if where.is_dir() else where
    if not path.is_file():
        raise KconfigError(f"{where}: no .config (run `make tinyconfig` or `make defconfig` first)")
    return path


def read_config(path: Path) -> str:
    """A kernel configuration's text (a .config is a few hundred KB); KconfigError says
    in one line why a file cannot be one (unreadable, binary, huge)."""
    try:
        return read_input(path, "kernel configuration", 64 << 20).decode()
    except UnreadableInput as e:
        raise KconfigError(str(e)) from None
    except UnicodeDecodeError as e:
        raise KconfigError(
            f"{path}: not a kernel configuration (not UTF-8 text, byte {e.start})"
        ) from None


def check(where: Path, fragment_text: str | None = None) -> list[str]:
    """What a tree's .config (or a config file, e.g. /boot/config-*) lacks of the fragment."""
    wanted = parse(fragment() if fragment_text is None else fragment_text)
    path = config_path(where)
    config = parse(read_config(path))
    if not config:  # empty, or some other text: it would "lack" every option
        raise KconfigError(f"{path}: not a kernel configuration (no CONFIG_ option in it)")
    return dropped(wanted, config)


def merge(
    tree: Path, arch: str = "x86_64", fragment_text: str | None = None, make: str = "make"
) -> list[str]:
    """Merge the fragment into `tree`'s .config, run `make olddefconfig` there, and return
    the requested options that did not survive (empty: all of them are in)."""
    if not (tree / "Makefile").is_file():
        raise KconfigError(f"{tree}: not a kernel tree or build directory (no Makefile)")
    path = config_path(tree)
    text = fragment() if fragment_text is None else fragment_text
    try:  # whole or not at all; a .config this user cannot write is one line
        write_output(path, merge_text(read_config(path), text).encode())
    except OutputError as e:
        raise KconfigError(str(e)) from None
    try:
        p = subprocess.run(
            [make, "-C", str(tree), f"ARCH={arch}", "olddefconfig"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as e:
        raise KconfigError(f"{make}: {e.strerror}") from e
    if p.returncode != 0:
        last = (p.stderr.strip() or p.stdout.strip()).splitlines()[-1:] or ["no output"]
        raise KconfigError(f"make olddefconfig in {tree} failed ({p.returncode}): {last[0]}")
    return dropped(parse(text), parse(read_config(path)))


def running(release: str) -> tuple[dict[str, str], str] | None:
    """The running kernel's configuration, and where it was read: the file that
    $SYSCALLS_KERNEL_CONFIG names (the VM targets set it to their image's), else
    /proc/config.gz (CONFIG_IKCONFIG_PROC), else /boot/config-RELEASE. None where none
    can be read as one."""
    return _running(os.environ.get(CONFIG_ENV, ""), release)


def built_without(option: str) -> bool:
    """Whether the running kernel was built without `option`, for a test that skips on
    the errno a kernel without it answers: False only where its configuration has the
    option built in (=y), so that the skip would hide a kernel that lost it; True where
    the configuration leaves it out, makes it a module, or cannot be read."""
    found = running(os.uname().release)
    return found is None or found[0].get(option) != "y"


@functools.lru_cache(maxsize=4)
def _running(named: str, release: str) -> tuple[dict[str, str], str] | None:
    candidates = [Path(named)] if named else [PROC_CONFIG, BOOT / f"config-{release}"]
    for path in candidates:
        config = load(path)
        if config:
            return config, str(path)
    return None


def load(path: Path) -> dict[str, str] | None:
    """The options of a configuration file, gzipped (config.gz) or not; None where it
    cannot be read or sets no option."""
    try:
        data = path.read_bytes()[: 64 << 20]
        if path.suffix == ".gz":
            data = gzip.decompress(data)
    except (OSError, EOFError, gzip.BadGzipFile):
        return None
    return parse(data.decode(errors="replace")) or None
