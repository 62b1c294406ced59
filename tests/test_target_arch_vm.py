"""syscalls.targets.arch_vm's parts: apt sources, kernel releases, guest script, QEMU argv.

The whole of it (an arm64 kernel booting an arm64 root) is `ci/run-arch --vm aarch64`,
too slow for the library tests (about 90 s of TCG after a 6-minute debootstrap).
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import pytest

from syscalls.targets import arch_vm, vm_kernel

DEB822 = """Types: deb
# a comment line
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /k.gpg

Types: deb-src
URIs: http://mirror.example/debian
Suites: bookworm
Components: main

Types: deb
URIs: http://off.example/debian
Suites: bookworm
Enabled: no
"""


def test_host_sources_reads_deb822_and_one_line_entries(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(DEB822)
    (tmp_path / "sources.list").write_text(
        "# deb http://commented.example/debian bookworm main\n"
        "deb [arch=amd64] http://one.example/debian-security bookworm-security main\n"
        "deb-src http://one.example/debian bookworm main\n"
    )
    assert arch_vm.host_sources(tmp_path) == [
        ("http://mirror.example/debian", "bookworm", "main contrib", "/k.gpg"),
        ("http://mirror.example/debian", "bookworm-updates", "main contrib", "/k.gpg"),
        ("http://one.example/debian-security", "bookworm-security", "main", arch_vm.KEYRING),
    ]


def test_host_sources_of_an_empty_apt_directory_is_empty(tmp_path: Path) -> None:
    assert arch_vm.host_sources(tmp_path) == []


def test_release_from_a_debian_name_or_the_image_banner(tmp_path: Path) -> None:
    assert arch_vm.release_of(Path("/boot/vmlinuz-6.1.0-56-arm64")) == "6.1.0-56-arm64"
    image = tmp_path / "Image"
    image.write_bytes(b"\0" * 64 + b"Linux version 6.12.3-test (gcc) #1 SMP\0")
    assert arch_vm.release_of(image) == "6.12.3-test"
    image.write_bytes(b"\x1f\x8b compressed")
    with pytest.raises(vm_kernel.KernelError, match="no 'Linux version' banner"):
        arch_vm.release_of(image)


def _args(**kw: object) -> argparse.Namespace:
    base = {"workers": "2", "pytest_args": [], "append": "", "smp": 2, "memory": 2048}
    return argparse.Namespace(**{**base, **kw})


def test_guest_script_runs_the_suite_with_the_arch_table(tmp_path: Path) -> None:
    arch_vm.guest_script(tmp_path, "aarch64", _args(), 12.0)
    script = (tmp_path / "guest.sh").read_text()
    assert "--platform=linux/aarch64" in script and " /work/syscalls/suites " in script
    assert "cd /work/syscalls" in script and "python3 -m pytest" in script
    assert "--junitxml=/results/junit.xml" in script and "> /results/status.tmp" in script
    assert "--timeout=1440" in script and "--workers=2" in script
    assert subprocess.run(["sh", "-n", str(tmp_path / "guest.sh")]).returncode == 0


def test_qemu_argv_shares_the_root_read_only_and_the_results_writable(tmp_path: Path) -> None:
    kernel = vm_kernel.KernelImage(image=tmp_path / "vmlinuz", release="6.1.0")
    arch = arch_vm.ARCHES["aarch64"]
    argv = arch_vm.qemu_argv("qemu", arch, kernel, tmp_path / "i", tmp_path / "root",
                             tmp_path / "out", _args(append="quiet"))  # fmt: skip
    joined = " ".join(argv)
    assert f"path={tmp_path / 'root'},security_model=none,readonly=on" in joined
    assert f"path={tmp_path / 'out'},security_model=none -device" in joined
    cmdline = argv[argv.index("-append") + 1].split()
    assert {"console=ttyAMA0", "syscalls.fs=9p", "syscalls.out=/results", "quiet"} <= set(cmdline)
