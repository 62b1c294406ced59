"""Kernel images given to `syscalls boot` (syscalls.targets.vm_kernel): the .deb cache is
keyed by content and its entries are whole or absent; what is not a kernel (a package
without one, a truncated package or image, a directory, a FIFO) is one line, exit 2,
before QEMU starts. Packages and images are made here (dpkg-deb, a bzImage header), so
nothing is booted and nothing downloaded."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from syscalls.cli import main
from syscalls.targets import vm_kernel

needs_dpkg = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")


def bzimage(release: str = "6.1.99-test", kernel_bytes: int = 4096) -> bytes:
    """A file with an x86 boot header as a bzImage has: setup sectors, then the kernel."""
    setup = bytearray(5 * 512)  # setup_sects = 4, plus the boot sector
    setup[0x1F1] = 4
    struct.pack_into("<I", setup, 0x1F4, kernel_bytes // 16)  # syssize
    setup[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", setup, 0x206, 0x20F)  # boot protocol 2.15
    struct.pack_into("<H", setup, 0x20E, 0x400 - 0x200)  # kernel_version
    version = f"{release} (test@build) #1 SMP".encode()
    setup[0x400 : 0x400 + len(version)] = version
    return bytes(setup) + bytes(kernel_bytes)


def package(tmp_path: Path, name: str, files: dict[str, bytes]) -> Path:
    """A .deb named `name` holding `files` (path -> content)."""
    root = tmp_path / f"pkg-{len(list(tmp_path.glob('pkg-*')))}"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {name.split('_')[0]}\nVersion: 1\nArchitecture: amd64\n"
        "Maintainer: t <t@t>\nDescription: t\n"
    )
    for path, content in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(content)
    out = tmp_path / "debs" / f"{len(list(tmp_path.glob('debs/*')))}" / name
    out.parent.mkdir(parents=True)
    subprocess.run(["dpkg-deb", "--build", str(root), str(out)], check=True, capture_output=True)
    return out


KERNEL = {"boot/vmlinuz-6.1.99-test": bzimage()}
NAME = "linux-image-test_1_amd64.deb"


@needs_dpkg
def test_a_package_of_the_same_name_but_other_content_is_unpacked_afresh(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    not_kernel = package(tmp_path, NAME, {"usr/share/doc/x/README": b"hi\n"})
    with pytest.raises(vm_kernel.KernelError, match=r"not a kernel package \(no boot/vmlinuz"):
        vm_kernel.resolve(not_kernel, cache=cache)
    kernel = package(tmp_path, NAME, KERNEL)  # the real one, downloaded again
    assert kernel.name == not_kernel.name
    image = vm_kernel.resolve(kernel, cache=cache)
    assert image.release == "6.1.99-test" and image.image.name == "vmlinuz-6.1.99-test"
    # unpacked once per content: the same file again takes the same entry
    assert vm_kernel.resolve(kernel, cache=cache).image == image.image
    assert [p.name for p in (cache / "kernels").iterdir()] == [image.image.parents[1].name]


@needs_dpkg
def test_an_unpack_cut_short_leaves_no_entry(tmp_path: Path, monkeypatch) -> None:
    cache = tmp_path / "cache"
    deb = package(tmp_path, NAME, KERNEL)
    real = vm_kernel._dpkg_x

    def killed(deb: Path, into: Path) -> None:
        real(deb, into)  # everything unpacked, then the process is interrupted
        raise KeyboardInterrupt

    monkeypatch.setattr(vm_kernel, "_dpkg_x", killed)
    with pytest.raises(KeyboardInterrupt):
        vm_kernel.resolve(deb, cache=cache)
    assert list((cache / "kernels").iterdir()) == []
    monkeypatch.setattr(vm_kernel, "_dpkg_x", real)
    assert vm_kernel.resolve(deb, cache=cache).release == "6.1.99-test"


def test_abandoned_temporary_directories_of_the_same_package_are_removed(tmp_path: Path) -> None:
    kernels = tmp_path / "kernels"
    dead = kernels / ".pkg-0123.999999999.tmp"  # no such pid
    alive = kernels / f".pkg-0123.{os.getpid()}.tmp"
    other = kernels / ".other-0123.999999999.tmp"
    for d in (dead, alive, other):
        d.mkdir(parents=True)
    vm_kernel._remove_abandoned(kernels, "pkg-0123")
    assert sorted(p.name for p in kernels.iterdir()) == sorted([alive.name, other.name])


@needs_dpkg
@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda t: package(t, NAME, {"etc/x": b"x"}), r"deb: not a kernel package \(no boot/"),
        (
            lambda t: _cut(package(t, NAME, KERNEL), 600),
            r"deb: not a package dpkg can unpack: dpkg-deb",
        ),
        (lambda t: _write(t / "linux.deb", b"!<arch>\nnonsense\n"), r"not a package dpkg can"),
        (lambda t: _write(t / "bzImage", bzimage()[:-100]), r"bzImage: truncated \(\d+ bytes of"),
        (lambda t: _write(t / "bzImage", b""), r"bzImage: not a bzImage"),
        (lambda t: _write(t / "bzImage", bzimage()[:0x300]), r"bzImage: truncated"),
        (lambda t: _mkdir(t / "bzImage"), r"bzImage: is a directory, not a kernel image"),
        (lambda t: _mkdir(t / "k.deb"), r"k\.deb: is a directory, not a kernel image"),
        (lambda t: _fifo(t / "bzImage"), r"bzImage: not a regular file"),
        (lambda t: t / "missing", r"missing: no such file"),
    ],
)
def test_what_is_not_a_kernel_is_one_line_and_leaves_nothing(
    tmp_path: Path, make, says: str, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    image = make(tmp_path)
    with pytest.raises(vm_kernel.KernelError, match=says):
        vm_kernel.resolve(image)
    code = main(["boot", str(image), "--out", str(tmp_path / "out"), "--accel", "tcg"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("syscalls: --target vm: ") and str(image.name) in err
    kernels = tmp_path / "cache" / "syscalls" / "kernels"
    assert not kernels.exists() or list(kernels.iterdir()) == []


def test_a_good_image_passes_the_size_check(tmp_path: Path) -> None:
    image = _write(tmp_path / "bzImage", bzimage() + b"signature appended")
    assert vm_kernel.release_of(image) == "6.1.99-test"


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _cut(path: Path, size: int) -> Path:
    with path.open("r+b") as f:
        f.truncate(size)
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path
