"""Platform: one OS/arch binding table, loaded from the data files under platforms/.

A platform is assembled from layers in platforms/<os>/, later layers overriding earlier:

    common.toml        hand-written facts every arch of the OS shares (aliases, ...)
    <arch>.toml        generated from the kernel's own tables and headers (DO NOT EDIT)
    <arch>-extra.toml  hand-written additions for that arch
    common.h, <shared>.h, <arch>.h, <arch>-packed.h
                       cffi cdef text: struct layouts and libc prototypes; <shared>.h are
                       the files a hand-written layer lists in [platform] cdef, layouts
                       some arches share (lp64.h)

A table generated from a kernel tree (`syscalls tables --from-tree`) can stand in for the
<arch>.toml layer: Platform.load(path) keeps the OS's hand-written layers around it.
"""

from __future__ import annotations

import os
import struct
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

PLATFORMS_DIR = Path(__file__).resolve().parent.parent / "platforms"

# `uname -m` spellings -> the arch names used for table files.
_ARCH_NAMES = {
    "linux": {
        "x86_64": "x86_64",
        "amd64": "x86_64",
        "aarch64": "aarch64",
        "arm64": "aarch64",
        "i386": "i386",
        "i486": "i386",
        "i586": "i386",
        "i686": "i386",
        "riscv64": "riscv64",
    },
    "bsd": {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"},
}

# When several errno names share a number, profiles name it by the first of these, so
# that two OSes compare equal when their kernels mean the same thing.
_PREFERRED_ERRNO = ("EAGAIN", "EOPNOTSUPP", "EDEADLK")


class PlatformError(Exception):
    """A table is missing or malformed."""


def host_os_arch() -> tuple[str, str]:
    """The running kernel's OS name and arch, in the names the table files use."""
    sysname = os.uname().sysname.lower()
    machine = os.uname().machine.lower()
    # A 32-bit userland on a 64-bit kernel calls the 32-bit ABI: trust the interpreter's
    # pointer size (platform.architecture() would run file(1) in a subprocess).
    if machine in ("x86_64", "amd64") and struct.calcsize("P") == 4:
        machine = "i386"
    names = _ARCH_NAMES["linux" if sysname == "linux" else "bsd"]
    return sysname, names.get(machine, machine)


def _read_toml(path: Path) -> dict:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise PlatformError(f"{path}: {e}") from None


@dataclass
class Platform:
    """Everything the bindings need to know about one OS/arch."""

    os: str
    arch: str
    syscalls: dict[str, int] = field(default_factory=dict)
    symbols: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    padding: dict[str, list[int]] = field(default_factory=dict)  # PAD slots (NetBSD)
    errno: dict[str, int] = field(default_factory=dict)
    constants: dict[str, int] = field(default_factory=dict)
    cdef: str = ""
    cdef_packed: str = ""
    cdef_layers: list[str] = field(default_factory=list)  # shared .h files, from [platform]
    # Calls that return their error number as the value, as POSIX specifies them
    # (NetBSD's clock_nanosleep), from [platform] errors_in_value.
    errors_in_value: set[str] = field(default_factory=set)
    # Linux, from kernel/sys_ni.c: syscalls a configuration may leave out -> the CONFIG_
    # option ("" where the tree names none); None when the table does not say (BSDs),
    # and then no ENOSYS is a verdict. unimplemented: ENOSYS on every kernel.
    optional: dict[str, str] | None = None
    unimplemented: dict[str, str] = field(default_factory=dict)
    release: str = ""  # the kernel tree the table was generated from, where known
    sources: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, spec: str | os.PathLike[str] | None = None) -> Platform:
        """Load "os/arch" (e.g. "linux/x86_64"), a path to a generated table, or the host's."""
        if spec is None:
            os_name, arch = host_os_arch()
            return cls._assemble(os_name, arch, None)
        text = os.fspath(spec)
        if text.endswith(".toml"):
            path = Path(text)
            if not path.is_file():
                raise PlatformError(f"no such table: {path}")
            meta = _read_toml(path).get("platform", {})
            if "os" not in meta or "arch" not in meta:
                raise PlatformError(f"{path}: [platform] must name os and arch")
            return cls._assemble(meta["os"], meta["arch"], path)
        os_name, sep, arch = text.partition("/")
        if not sep or not arch:
            raise PlatformError(
                f"platform {text!r}: expected OS/ARCH (e.g. linux/x86_64) or a .toml file"
            )
        return cls._assemble(os_name, arch, None)

    @classmethod
    def _assemble(cls, os_name: str, arch: str, generated: Path | None) -> Platform:
        base = PLATFORMS_DIR / os_name
        generated = generated or base / f"{arch}.toml"
        if not generated.is_file():
            known = ", ".join(available()) or "none"
            raise PlatformError(f"no table for {os_name}/{arch} (known: {known})")
        p = cls(os=os_name, arch=arch)
        for layer in (base / "common.toml", generated, base / f"{arch}-extra.toml"):
            if layer.is_file():
                p._merge(_read_toml(layer), layer)
        names = ["common.h", *p.cdef_layers, f"{arch}.h"]
        p.cdef = "".join(_read_text(base / name) for name in names)
        p.cdef_packed = _read_text(base / f"{arch}-packed.h")
        return p

    def _merge(self, data: dict, path: Path) -> None:
        for section in ("syscalls", "symbols", "aliases", "padding", "errno", "constants"):
            values = data.get(section, {})
            if not isinstance(values, dict):
                raise PlatformError(f"{path}: [{section}] must be a table")
            getattr(self, section).update(values)
        for section in ("optional", "unimplemented"):
            values = data.get(section)
            if values is None:
                continue
            if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
                raise PlatformError(f"{path}: [{section}] must map syscalls to strings")
            if section == "optional":
                self.optional = {**(self.optional or {}), **values}
            else:
                self.unimplemented.update(values)
        meta = data.get("platform", {})
        self.release = str(meta.get("release", self.release))
        self.sources.extend(meta.get("sources", []))
        self.errors_in_value.update(meta.get("errors_in_value", []))
        for name in meta.get("cdef", []):
            if not (path.parent / name).is_file():
                raise PlatformError(f"{path}: [platform] cdef names {name}, not in {path.parent}")
            self.cdef_layers.append(name)

    @property
    def name(self) -> str:
        return f"{self.os}/{self.arch}"

    def resolve(self, name: str) -> str:
        """The table's name for a syscall, following aliases (fstatat -> newfstatat)."""
        return self.aliases.get(name, name)

    def has(self, name: str) -> bool:
        name = self.resolve(name)
        return name in self.syscalls or name in self.symbols

    def errno_name(self, number: int) -> str:
        """The canonical name of an errno number on this platform ("E123" if unknown)."""
        return self._errno_names.get(number, f"E{number}")

    @cached_property
    def _errno_names(self) -> dict[int, str]:
        names: dict[int, str] = {}
        for name in (*_PREFERRED_ERRNO, *self.errno):
            if name in self.errno:
                names.setdefault(self.errno[name], name)
        return names

    def __getitem__(self, constant: str) -> int:
        """A constant or errno value by name: p["O_CREAT"], p["ENOENT"]."""
        if constant in self.constants:
            return self.constants[constant]
        if constant in self.errno:
            return self.errno[constant]
        raise KeyError(f"{constant} is not in the {self.name} table")


def _read_text(path: Path) -> str:
    return path.read_text() if path.is_file() else ""


def available() -> list[str]:
    """Every os/arch that has a table under platforms/."""
    found = []
    for path in sorted(PLATFORMS_DIR.glob("*/*.toml")):
        if path.stem != "common" and not path.stem.endswith("-extra"):
            found.append(f"{path.parent.name}/{path.stem}")
    return found
