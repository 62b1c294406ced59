"""Kernel images for the VM target: what an image is, what it can share, which modules.

An image is a bzImage (a fresh build's arch/x86/boot/bzImage, a distro's vmlinuz) or a
Debian `linux-image-*.deb`, which is unpacked into the cache under a digest of its
content (a different file of the same name is unpacked afresh), whole or not at all.
The release is read from the bzImage header (x86 boot protocol: `kernel_version` at
0x20E points, minus 0x200, to the version string), which also gives the image's size
(a truncated one is refused). The kernel's configuration, when one can be found beside the
image, says whether 9p and virtiofs are built in, modules, or absent; modules are taken
from the image's own modules directory (a package's lib/modules/RELEASE) and
decompressed here, because busybox's insmod cannot read .ko.xz.

Facts from /work/shared/TARGETS-NOTES.md: Debian cloud 6.1 has virtio and virtiofs as
modules and no 9p; generic 6.1 has both as modules; Debian 6.12 compresses modules.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import lzma
import os
import shutil
import struct
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from syscalls.targets.initramfs import cache_dir

# Modules each way of sharing the host root needs (their dependencies are added).
SHARE_MODULES = {"9p": ["virtio_pci", "9pnet_virtio", "9p"], "virtiofs": ["virtio_pci", "virtiofs"]}
# Config options each needs, all of them built in or modules.
SHARE_CONFIG = {
    "9p": ["CONFIG_VIRTIO_PCI", "CONFIG_NET_9P_VIRTIO", "CONFIG_9P_FS"],
    "virtiofs": ["CONFIG_VIRTIO_PCI", "CONFIG_VIRTIO_FS"],
}


class KernelError(RuntimeError):
    """The image cannot be booted as given; the message says why."""


@dataclass
class KernelImage:
    """A bootable kernel: its image file and what came with it (not to be confused with
    syscalls.kernel.Kernel, the syscall interface the tests call)."""

    image: Path
    release: str
    modules_dir: Path | None = None  # lib/modules/RELEASE with the image's modules
    config: dict[str, str] | None = None  # CONFIG_X -> y/m/... when a config was found
    index: dict[str, Path] = field(default_factory=dict)  # module name -> .ko[.xz|.gz|.zst]

    def shares(self) -> list[str]:
        """Ways this kernel can mount the host root, best known first (may be a guess)."""
        if self.config is None:
            return ["9p", "virtiofs"]  # unknown: try the one that works without root first
        found = []
        for share, options in SHARE_CONFIG.items():
            if all(self.config.get(o) in ("y", "m") for o in options):
                found.append(share)
        return found

    def modules_for(self, share: str, extra: Sequence[str] = ()) -> list[tuple[str, bytes]]:
        """(file name, uncompressed .ko) for `share`'s modules, and `extra`, and their
        dependencies, in load order; modules the kernel has built in are simply not found."""
        order: list[str] = []
        seen: set[str] = set()

        def visit(name: str) -> None:
            if name in seen or name not in self.index:
                return
            seen.add(name)
            for dep in depends(read_module(self.index[name])):
                visit(dep)
            order.append(name)

        for name in (*SHARE_MODULES[share], *extra):
            visit(name)
        return [(f"{n}.ko", read_module(self.index[n])) for n in order]


def release_of(image: Path) -> str:
    """The kernel release string in a bzImage's setup header."""
    try:
        with image.open("rb") as f:
            head = f.read(0x10000)
            size = os.fstat(f.fileno()).st_size
    except OSError as e:
        raise KernelError(f"{image}: {e.strerror}") from None
    if len(head) < 0x210 or head[0x202:0x206] != b"HdrS":
        raise KernelError(
            f"{image}: not a bzImage (x86 boot header missing); boot arch/x86/boot/bzImage, "
            "not vmlinux"
        )
    (protocol,) = struct.unpack_from("<H", head, 0x206)
    if protocol >= 0x204:  # syssize: the kernel after the setup sectors, in 16-byte units
        (syssize,) = struct.unpack_from("<I", head, 0x1F4)
        expected = ((head[0x1F1] or 4) + 1) * 512 + syssize * 16
        if size < expected:
            raise KernelError(f"{image}: truncated ({size} bytes of {expected})")
    (offset,) = struct.unpack_from("<H", head, 0x20E)
    start = offset + 0x200
    text = head[start : start + 256].split(b"\0")[0].decode(errors="replace")
    return text.split()[0] if text else "unknown"


def read_module(path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix == ".xz":
        return lzma.decompress(data)
    if path.suffix == ".gz":
        return gzip.decompress(data)
    if path.suffix == ".zst":
        try:
            return subprocess.run(
                ["zstd", "-dcq"], input=data, capture_output=True, check=True
            ).stdout
        except (OSError, subprocess.CalledProcessError) as e:
            raise KernelError(f"{path}: cannot decompress (zstd): {e}") from None
    return data


def depends(ko: bytes) -> list[str]:
    """The `depends=` entry of a module's .modinfo section (ELF64 little-endian)."""
    if ko[:4] != b"\x7fELF" or ko[4] != 2:
        return []
    (shoff,) = struct.unpack_from("<Q", ko, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", ko, 0x3A)

    def section(i: int) -> tuple[int, int, int]:
        at = shoff + i * shentsize
        name, _type, _flags, _addr, off, size = struct.unpack_from("<IIQQQQ", ko, at)
        return name, off, size

    _, stroff, _ = section(shstrndx)
    for i in range(shnum):
        name, off, size = section(i)
        if ko[stroff + name : ko.index(b"\0", stroff + name)] == b".modinfo":
            for item in ko[off : off + size].split(b"\0"):
                if item.startswith(b"depends="):
                    value = item[len(b"depends=") :].decode()
                    return [d for d in value.split(",") if d]
    return []


def module_index(modules_dir: Path) -> dict[str, Path]:
    index: dict[str, Path] = {}
    for path in modules_dir.rglob("*.ko*"):
        stem = path.name.split(".ko")[0]
        index[stem.replace("-", "_")] = path
    return index


def read_config(path: Path) -> dict[str, str]:
    config: dict[str, str] = {}
    for line in path.read_text(errors="replace").splitlines():
        key, eq, value = line.partition("=")
        if eq and key.startswith("CONFIG_"):
            config[key] = value.strip('"')
    return config


def find_config(image: Path, release: str, modules_dir: Path | None) -> Path | None:
    candidates = [
        image.parent / f"config-{release}",  # a distro's /boot
        image.parents[3] / ".config" if len(image.parents) > 3 else None,  # arch/x86/boot/
        image.parent / ".config",
    ]
    if modules_dir is not None:
        candidates.append(modules_dir.parents[2] / "boot" / f"config-{release}")
        candidates.append(modules_dir / "build" / ".config")
    for c in candidates:
        if c is not None and c.is_file():
            return c
    return None


def unpack_deb(deb: Path, cache: Path) -> Path:
    """A Debian kernel package unpacked (once) into the cache; the directory.

    The entry is named after the file and a digest of its content, so that another file
    of the same name (an earlier download that was no kernel, a rebuilt package) is never
    taken for it. It is unpacked into a temporary directory of this process and renamed
    into place only when it holds a kernel: an entry is whole, or not there."""
    with deb.open("rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()[:16]
    kernels = cache / "kernels"
    dest = kernels / f"{deb.name.removesuffix('.deb')}-{digest}"
    if dest.is_dir():
        return dest
    kernels.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(kernels, dest.name)
    tmp = kernels / f".{dest.name}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        _dpkg_x(deb, tmp)
        if not list((tmp / "boot").glob("vmlinuz-*")):
            raise KernelError(f"{deb}: not a kernel package (no boot/vmlinuz-* in {_name(deb)})")
        try:
            tmp.rename(dest)
        except OSError as e:  # another process unpacked the same package first: use it
            if e.errno not in (errno.EEXIST, errno.ENOTEMPTY) or not dest.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _dpkg_x(deb: Path, into: Path) -> None:
    try:
        subprocess.run(["dpkg", "-x", str(deb), str(into)], check=True, capture_output=True)
    except FileNotFoundError:
        raise KernelError("dpkg is needed to unpack a .deb") from None
    except subprocess.CalledProcessError as e:
        lines = e.stderr.decode(errors="replace").strip().splitlines() or ["no reason given"]
        raise KernelError(f"{deb}: not a package dpkg can unpack: {lines[0]}") from None


def _name(deb: Path) -> str:
    """The package's name and version, as its control file says, for messages."""
    done = subprocess.run(
        ["dpkg-deb", "-f", str(deb), "Package", "Version"], capture_output=True, text=True
    )
    fields = dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)
    return " ".join(fields.values()) or "the package"


def _remove_abandoned(kernels: Path, name: str) -> None:
    """Temporary directories of unpacks whose process is gone (killed half-way)."""
    for tmp in kernels.glob(f".{name}.*.tmp"):
        pid = tmp.name.removesuffix(".tmp").rsplit(".", 1)[-1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(tmp, ignore_errors=True)


def resolve(
    path: Path,
    modules: Path | None = None,
    cache: Path | None = None,
    release: Callable[[Path], str] | None = None,
) -> KernelImage:
    """The kernel behind `path` (bzImage or .deb), its modules and its config;
    `release` reads an image's release (default: release_of, x86's bzImage header)."""
    cache = cache or cache_dir()
    if not path.exists():
        raise KernelError(f"{path}: no such file")
    if path.is_dir():
        raise KernelError(f"{path}: is a directory, not a kernel image")
    if not path.is_file():
        raise KernelError(f"{path}: not a regular file, not a kernel image")
    if path.name.endswith(".deb"):
        try:
            root = unpack_deb(path, cache)
        except OSError as e:
            raise KernelError(f"{e.filename or path}: {e.strerror}") from None
        path = sorted((root / "boot").glob("vmlinuz-*"))[0]
    image = path.resolve()
    version = (release or release_of)(image)
    if modules is None:
        for candidate in (
            image.parent.parent / "lib" / "modules" / version,  # an unpacked package
            Path("/lib/modules") / version,  # an installed kernel
        ):
            if candidate.is_dir():
                modules = candidate
                break
    config_path = find_config(image, version, modules)
    return KernelImage(
        image=image,
        release=version,
        modules_dir=modules,
        config=read_config(config_path) if config_path else None,
        index=module_index(modules) if modules else {},
    )


def debian_package(
    flavour: str = "cloud",
    cache: Path | None = None,
    arch: str = "amd64",
    apt: Sequence[str] = (),
) -> Path:
    """The current Debian linux-image package of `flavour` ("cloud" or "" for generic)
    for Debian architecture `arch`, downloaded once (apt-get download) into the cache;
    the .deb's path. `apt` are options for apt-cache and apt-get (another arch's lists)."""
    meta = f"linux-image-{flavour + '-' if flavour else ''}{arch}"
    debs = (cache or cache_dir()) / "debs"

    def run(*argv: str, cwd: Path | None = None) -> str:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, cwd=cwd)
        except OSError as e:
            raise KernelError(f"{argv[0]}: {e}") from None
        if done.returncode != 0:
            raise KernelError(f"{' '.join(argv[:2])} failed: {done.stderr.strip()}")
        return done.stdout

    names = [
        line.split(":", 1)[1].strip()
        for line in run("apt-cache", *apt, "depends", meta).splitlines()
        if line.strip().startswith("Depends:") and "linux-image-" in line
    ]
    if not names:
        raise KernelError(f"{meta}: no linux-image dependency in apt-cache")
    package = names[0] + "-unsigned"  # the same image and modules, without the shim
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        debs.mkdir(parents=True, exist_ok=True)
        run("apt-get", "-q", *apt, "download", package, cwd=debs)
        found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        raise KernelError(f"apt-get download {package}: no .deb")
    return found[-1]


def main(argv: list[str] | None = None) -> int:
    """`python -m syscalls.targets.vm_kernel fetch [cloud|generic]`: download the image
    the VM target's tests boot; prints the .deb's path."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] != "fetch":
        print("usage: python -m syscalls.targets.vm_kernel fetch [cloud|generic]")
        return 2
    flavour = args[1] if len(args) > 1 else "cloud"
    try:
        print(debian_package("" if flavour == "generic" else flavour))
    except KernelError as e:
        print(f"syscalls: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
