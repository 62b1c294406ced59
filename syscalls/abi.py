"""Platform: one OS/arch binding table, loaded from the data files under platforms/.

A platform is assembled from layers in platforms/<os>/, later layers overriding earlier:

    common.toml        hand-written facts every arch of the OS shares (aliases, ...)
    <arch>.toml        generated from the kernel's own tables and headers (DO NOT EDIT)
    <arch>-extra.toml  hand-written additions for that arch
    common.h, <shared>.h, <arch>.h, common-packed.h, <arch>-packed.h
                       cffi cdef text: struct layouts and libc prototypes; <shared>.h are
                       the files a hand-written layer lists in [platform] cdef, layouts
                       some arches share (lp64.h); the -packed files are declared packed

A table generated from a kernel tree (`syscalls tables --from-tree`) can stand in for the
<arch>.toml layer: Platform.load(path) keeps the OS's hand-written layers around it, and
adds the C declarations of that table's own directory: the .h files its [platform] cdef
names (as every layer's cdef names are, relative to the file naming them) and a sibling
<stem>.h (my.toml: my.h), after the OS's own, so they may add types but not redeclare one.

Every layer is checked against the one schema in syscalls.table_schema when it is read;
the C declarations are compiled by syscalls.kernel.declarations, which names the file
and line cffi objects to (`# 1 "file"` line markers separate the files in `cdef`).
"""

from __future__ import annotations

import os
import re
import struct
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from syscalls.cache import toml_loads
from syscalls.paths import PLATFORMS as PLATFORMS_DIR
from syscalls.table_schema import PATH_NAME, PlatformError, check_layer, check_platform
from syscalls.userfiles import UnreadableInput, read_input

__all__ = ["PLATFORMS_DIR", "Platform", "PlatformError", "available", "host_os_arch"]

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


def host_os_arch() -> tuple[str, str]:
    """The running kernel's OS name and arch, in the names the table files use."""
    # A 32-bit userland on a 64-bit kernel calls the 32-bit ABI: trust the interpreter's
    # pointer size (platform.architecture() would run file(1) in a subprocess).
    return os_arch(os.uname().sysname, os.uname().machine, struct.calcsize("P"))


# `uname -m` of kernels whose addresses are 64 bits wide.
_WIDE_KERNELS = frozenset({"x86_64", "amd64", "aarch64", "arm64", "riscv64"})


def compat_process(machine: str | None = None, pointer_size: int | None = None) -> bool:
    """A 32-bit process on a 64-bit kernel (i386 on x86_64): the kernel widens each
    32-bit argument, so no length the process can pass wraps the kernel's addresses.
    Defaults: this machine's `uname -m` and this interpreter's pointer size."""
    machine = os.uname().machine if machine is None else machine
    pointer_size = struct.calcsize("P") if pointer_size is None else pointer_size
    return pointer_size == 4 and machine.lower() in _WIDE_KERNELS


def os_arch(sysname: str, machine: str, pointer_size: int = 8) -> tuple[str, str]:
    """The table names (os, arch) for `uname -s` and `uname -m` (of this or another
    machine) and the pointer size of the userland that will make the calls."""
    sysname, machine = sysname.lower(), machine.lower()
    if machine in ("x86_64", "amd64") and pointer_size == 4:
        machine = "i386"
    names = _ARCH_NAMES["linux" if sysname == "linux" else "bsd"]
    return sysname, names.get(machine, machine)


# A generated table is ~60 KB; a file far larger is not one (and is not read whole).
MAX_FILE = 16 << 20


def _read_bytes(path: Path, what: str) -> bytes:
    try:
        return read_input(path, what, MAX_FILE)
    except UnreadableInput as e:
        raise PlatformError(str(e)) from None


def read_layer(path: Path) -> dict:
    """One table file, read and checked against the schema (not yet the sections a whole
    platform needs: check_platform); a PlatformError names the file and key."""
    data = _read_bytes(path, "binding table")
    try:
        table = toml_loads(data)
    except UnicodeDecodeError as e:
        raise PlatformError(f"{path}: not UTF-8 text (byte {e.start})") from None
    except tomllib.TOMLDecodeError as e:
        raise PlatformError(f"{path}: not valid TOML: {e}") from None
    except (ValueError, RecursionError) as e:  # an integer of thousands of digits, nesting
        raise PlatformError(f"{path}: not valid TOML: {str(e).split(':')[0]}") from None
    check_layer(table, path)
    return table


def _read_text(path: Path) -> str:
    """A C declarations file, marked with its name for cffi's error messages."""
    data = _read_bytes(path, "C declarations file")
    try:
        text = data.decode()
    except UnicodeDecodeError as e:
        raise PlatformError(f"{path}: not UTF-8 text (byte {e.start})") from None
    name = re.sub(r'["\\\s]', "?", str(path))  # a C string on one line
    return f'# 1 "{name}"\n{text}' + ("" if text.endswith("\n") else "\n")


@dataclass
class Platform:
    """Everything the bindings need to know about one OS/arch."""

    os: str
    arch: str
    syscalls: dict[str, int] = field(default_factory=dict)
    symbols: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    padding: dict[str, list[int]] = field(default_factory=dict)  # PAD slots (NetBSD)
    # Numbers the kernel never implements (stubs, removed calls): name -> why, from a
    # hand-written layer's [left_out]; `syscalls list` names them instead of counting.
    left_out: dict[str, str] = field(default_factory=dict)
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
    table: Path | None = None  # the generated layer (or the table given by path)
    cdef_files: list[Path] = field(default_factory=list)  # in the order cdef holds them
    # (section, key) -> the layer that set it, for error messages naming the file.
    origins: dict[tuple[str, str], Path] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, spec: str | os.PathLike[str] | None = None) -> Platform:
        """Load "os/arch" (e.g. "linux/x86_64"), a path to a generated table, or the host's."""
        if spec is None:
            os_name, arch = host_os_arch()
            return cls._assemble(os_name, arch, None)
        text = os.fspath(spec)
        if text.endswith(".toml"):
            path = Path(text)
            if not path.exists():
                raise PlatformError(f"no such table: {path}")
            meta = read_layer(path).get("platform", {})
            if "os" not in meta or "arch" not in meta:
                raise PlatformError(
                    f'{path}: [platform] must name os and arch (e.g. os = "linux", arch = "x86_64")'
                )
            return cls._assemble(meta["os"], meta["arch"], path)
        os_name, _, arch = text.partition("/")
        if not (PATH_NAME.match(os_name) and PATH_NAME.match(arch)):
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
        p = cls(os=os_name, arch=arch, table=generated)
        headers: dict[Path, list[Path]] = {}  # layer -> the .h files it names
        for layer in (base / "common.toml", generated, base / f"{arch}-extra.toml"):
            if layer.exists():
                headers[layer] = p._merge(read_layer(layer), layer)
        check_platform(p, generated)
        shared = [h for layer, names in headers.items() if layer != generated for h in names]
        # The table's own after the OS's: its cdef names, then a sibling <stem>.h
        # (my.toml: my.h), so that they can use the OS's types.
        own = [*headers.get(generated, []), generated.with_suffix(".h")]
        files = [base / "common.h", *shared, base / f"{arch}.h", *own]
        seen: set[Path] = set()
        p.cdef_files = []
        for path in files:
            if path.exists() and path.resolve() not in seen:
                seen.add(path.resolve())
                p.cdef_files.append(path)
        p.cdef = "".join(_read_text(path) for path in p.cdef_files)
        packed = [base / "common-packed.h", base / f"{arch}-packed.h"]
        p.cdef_packed = "".join(_read_text(path) for path in packed if path.exists())
        return p

    def _merge(self, data: dict, path: Path) -> list[Path]:
        """Add one layer; the .h files it names."""
        # check_layer has checked every type: what is read here is what the schema says.
        for section in (
            "syscalls",
            "symbols",
            "aliases",
            "padding",
            "left_out",
            "errno",
            "constants",
        ):
            values = data.get(section, {})
            getattr(self, section).update(values)
            if section in ("aliases", "padding"):  # checked across layers: check_platform
                self.origins.update(((section, key), path) for key in values)
        if "optional" in data:
            self.optional = {**(self.optional or {}), **data["optional"]}
        self.unimplemented.update(data.get("unimplemented", {}))
        meta = data.get("platform", {})
        self.release = meta.get("release", self.release)
        self.sources.extend(meta.get("sources", []))
        if "errors_in_value" in meta:
            self.errors_in_value.update(meta["errors_in_value"])
            self.origins["platform", "errors_in_value"] = path
        headers = []
        for name in meta.get("cdef", []):
            header = path.parent / name  # relative to the file that names it
            if not header.is_file():
                raise PlatformError(f"{path}: [platform] cdef names {name}, not in {path.parent}")
            self.cdef_layers.append(name)
            headers.append(header)
        return headers

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


def available() -> list[str]:
    """Every os/arch that has a table under platforms/."""
    found = []
    for path in sorted(PLATFORMS_DIR.glob("*/*.toml")):
        if path.stem != "common" and not path.stem.endswith("-extra"):
            found.append(f"{path.parent.name}/{path.stem}")
    return found
