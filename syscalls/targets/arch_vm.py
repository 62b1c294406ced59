"""The suite on another arch's real kernel: a Debian root of that arch booted under QEMU.

`ci/run-arch --vm aarch64` builds (once) a Debian 12 arm64 root with python3-cffi and
pytest, then runs this module inside a private mount namespace in which the checkout is
bind-mounted read-only at ROOT/work/syscalls:

    python -m syscalls.targets.arch_vm --arch aarch64 --root ROOT --out OUT \\
        [--kernel IMAGE|DEB] [--time-limit S] [--time-scale X] [-n N] [-- PYTEST ARGS]

The guest is Debian's own kernel for the arch (by default the current
`linux-image-<abi>-arm64-unsigned`, fetched with apt-get from a private arm64 package
list into the cache) under qemu-system-aarch64 (machine virt, TCG), with the x86_64 VM
target's initramfs (syscalls.targets.initramfs: the root's own static busybox, the
image's virtio-pci and 9p modules with their dependencies from vm_kernel). ROOT is
shared read-only over 9p (multidevs=remap, so the checkout's bind mount is seen;
readonly=on, and QEMU runs where only OUT is writable, syscalls.targets.readonly) and
OUT writable at /results; init chroots into ROOT and runs /results/guest.sh, which runs
the suite with Debian's python3 and `--platform linux/ARCH`. The host side watches the
console and the results share as every target does (syscalls.targets.guest): the exit
status is the suite's, or 3 when the guest died first, with what finished kept.
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from syscalls.targets import (
    Options,
    TargetUnavailable,
    guest,
    initramfs,
    readonly,
    results,
    vm,
    vm_kernel,
)

TARGET = "vm"  # as recorded in the profile: a kernel under QEMU


@dataclass(frozen=True)
class Arch:
    qemu: str  # qemu-system-* binary (Debian package in `package`)
    package: str
    machine: list[str]  # -M/-cpu/-accel arguments (TCG)
    console: str  # the serial console's device name in the guest
    debian: str  # Debian's architecture name (linux-image-<abi>-<debian>)


ARCHES = {
    "aarch64": Arch(
        qemu="qemu-system-aarch64",
        package="qemu-system-arm",
        # pauth-impdef: QEMU's own pointer-authentication hash; the architected QARMA
        # one costs TCG dearly, and Debian's arm64 binaries use PAC (branch protection).
        machine=["-M", "virt", "-cpu", "max,pauth-impdef=on", "-accel", "tcg,thread=multi"],
        console="ttyAMA0",
        debian="arm64",
    ),
}
TIME_SCALE = 12.0  # TCG of another arch: slower than x86_64 TCG (vm.TIME_SCALE["tcg"])
BOOT_LIMIT = 600.0  # until guest.sh starts the suite
TOTAL = 8 * 3600.0


def release_of(image: Path) -> str:
    """The release of a kernel image: from a Debian `vmlinuz-RELEASE` name, or the
    "Linux version" banner inside an uncompressed image (arm64's Image)."""
    if image.name.startswith("vmlinuz-"):
        return image.name.removeprefix("vmlinuz-")
    with image.open("rb") as f:
        m = re.search(rb"Linux version (\S+)", f.read())
    if m is None:
        raise vm_kernel.KernelError(f"{image}: no 'Linux version' banner (a compressed image?)")
    return m.group(1).decode()


KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


def host_sources(etc: Path = Path("/etc/apt")) -> list[tuple[str, str, str, str]]:
    """(URI, suite, components, keyring) of each Debian `deb` source apt is configured
    with: deb822 stanzas in sources.list.d/*.sources and one-line entries in
    sources.list(.d/*.list). Only the mirrors the host already uses are asked."""
    found = []
    for path in sorted(etc.glob("sources.list.d/*.sources")):
        for stanza in path.read_text().split("\n\n"):
            fields = {}
            for line in stanza.splitlines():
                key, sep, value = line.partition(":")
                if sep and not line.startswith(("#", " ")):
                    fields[key.strip()] = value.strip()
            if "deb" not in fields.get("Types", "").split() or fields.get("Enabled") == "no":
                continue
            for uri in fields.get("URIs", "").split():
                for suite in fields.get("Suites", "").split():
                    key = fields.get("Signed-By", KEYRING)
                    found.append((uri, suite, fields.get("Components", "main"), key))
    for path in [etc / "sources.list", *sorted(etc.glob("sources.list.d/*.list"))]:
        for line in path.read_text().splitlines() if path.is_file() else []:
            words = re.sub(r"\[[^]]*\]", "", line).split()
            if len(words) >= 3 and words[0] == "deb":
                found.append((words[1], words[2], " ".join(words[3:]) or "main", KEYRING))
    return found


def debian_kernel(arch: Arch, flavour: str = "") -> Path:
    """Debian's current linux-image-<abi>-<arch>[-flavour]-unsigned .deb, downloaded once
    into the cache. apt-get reads a package list of that arch kept in the cache (the
    host's apt sources, host_sources(), with arch= that one), so the host's dpkg
    architectures are untouched."""
    cache = initramfs.cache_dir()
    state = cache / f"apt-{arch.debian}"
    sources = state / "sources.list"
    (state / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (state / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    lines = [
        f"deb [arch={arch.debian} signed-by={key}] {uri} {suite} {components}"
        for uri, suite, components, key in host_sources()
    ]
    if not lines:
        raise vm_kernel.KernelError("no Debian source in /etc/apt/sources.list*")
    sources.write_text("\n".join(lines) + "\n")
    apt = [
        f"-oAPT::Architecture={arch.debian}",
        f"-oAPT::Architectures::={arch.debian}",
        f"-oDir::State::Lists={state / 'lists'}",
        f"-oDir::Cache={state}",
        f"-oDir::Cache::archives={state / 'archives'}",
        f"-oDir::Etc::SourceList={sources}",
        "-oDir::Etc::SourceParts=/nonexistent",
        "-oDir::State::status=/dev/null",
        "-oAPT::Sandbox::User=root",
    ]
    if not any((state / "lists").glob("*Packages*")):
        done = subprocess.run(["apt-get", "-q", *apt, "update"], capture_output=True, text=True)
        if done.returncode != 0:
            raise vm_kernel.KernelError(f"apt-get update failed: {done.stderr.strip()}")
    return vm_kernel.debian_package(flavour, cache, arch.debian, apt)


CHECKOUT = Path("/work/syscalls")  # where ci/run-arch mounts the checkout in the root
RESULTS = Path("/results")  # where init mounts the results share


def guest_script(
    out: Path,
    arch: str,
    args: argparse.Namespace,
    scale: float,
    config: Mapping[str, str] | None = None,
) -> Path:
    """OUT/guest.sh, run by init chrooted into the root: the suite with the root's python3
    and the arch's table; `config` the image's configuration (OUT/kernel.config)."""
    opts = Options(out=out, pytest_args=args.pytest_args, workers=args.workers,
                   platform=f"linux/{arch}")  # fmt: skip
    inside = guest.Inside(python="python3", checkout=CHECKOUT, out=RESULTS)
    env = guest.kernel_config(config, out, RESULTS)
    # 120 s: pyproject's per-test limit; the results share is 9p without a cache.
    return guest.write_script(
        opts, TARGET, 120 * scale, scale, inside, write_through=True, extra_env=env
    )


def qemu_argv(
    qemu: str,
    arch: Arch,
    kernel: vm_kernel.KernelImage,
    initrd: Path,
    root: Path,
    out: Path,
    a: argparse.Namespace,
) -> list[str]:
    cmdline = initramfs.cmdline(arch.console, "9p", RESULTS, append=a.append)
    return [
        *vm.machine_argv(qemu, kernel.image, initrd, cmdline, a.smp, a.memory),
        *arch.machine,
        *vm.ninep_shares(root, out),
    ]


def run(a: argparse.Namespace) -> int:
    arch = ARCHES.get(a.arch)
    if arch is None:
        raise TargetUnavailable(f"no VM recipe for {a.arch} (have {', '.join(ARCHES)})")
    qemu = shutil.which(arch.qemu)
    if qemu is None:
        raise TargetUnavailable(f"{arch.qemu} not found: apt-get install {arch.package}")
    root, out = a.root.resolve(), a.out.resolve()
    busybox = root / "bin" / "busybox"
    if not (root / "usr" / "bin" / "python3").exists() or not busybox.exists():
        raise TargetUnavailable(f"{root}: no python3 or static busybox (ci/run-arch builds it)")
    if not (root / CHECKOUT.relative_to("/") / "conftest.py").exists():
        raise TargetUnavailable(f"{root}{CHECKOUT}: the checkout is not mounted there")
    try:
        kernel = vm_kernel.resolve(a.kernel or debian_kernel(arch), release=release_of)
        if kernel.config is not None and "9p" not in kernel.shares():
            raise vm_kernel.KernelError(
                f"{kernel.release} has no 9p (CONFIG_NET_9P_VIRTIO, CONFIG_9P_FS): it cannot "
                "see the root (Debian's generic image has it, the cloud one does not)"
            )
        initrd = initramfs.build(kernel.modules_for("9p"), busybox=busybox)
    except (OSError, vm_kernel.KernelError) as e:
        raise TargetUnavailable(str(e)) from None
    results.clear(out)
    scale = a.time_scale or TIME_SCALE
    guest_script(out, a.arch, a, scale, kernel.config)
    limits = guest.Limits(boot=BOOT_LIMIT, test=120 * scale + 60, total=a.time_limit or TOTAL)
    argv = qemu_argv(qemu, arch, kernel, initrd, root, out, a)
    (out / results.CONSOLE).write_text(f"$ {shlex.join(argv)}\n")
    if vm.confine("9p"):  # QEMU's 9p server may write the results, nothing else
        argv = readonly.command(argv, writable=[out])
    print(
        f"syscalls: vm: booting {kernel.image.name} ({kernel.release}) on {arch.qemu} (TCG), "
        f"root {root} over 9p",
        file=sys.stderr,
    )
    return guest.launch(Options(out=out), f"vm {a.arch}", argv, limits)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m syscalls.targets.arch_vm", description=__doc__)
    p.add_argument("--arch", required=True, choices=sorted(ARCHES))
    p.add_argument("--root", type=Path, required=True, help="the arch's root file system")
    p.add_argument("--out", type=Path, required=True, help="results directory")
    p.add_argument("--kernel", type=Path, help="kernel image or Debian linux-image .deb")
    p.add_argument("--time-limit", type=float, help="seconds for the whole run")
    p.add_argument("--time-scale", type=float, help=f"per-test limits x (default {TIME_SCALE})")
    p.add_argument("-n", dest="workers", default="2", help="workers forked in the guest (0: none)")
    p.add_argument("--smp", type=int, default=2)
    p.add_argument("--memory", type=int, default=2048, help="guest memory, MB")
    p.add_argument("--append", default="", help="more kernel command-line arguments")
    p.add_argument("pytest_args", nargs="*", help="after --: arguments for pytest")
    a = p.parse_args(argv)
    try:
        return run(a)
    except TargetUnavailable as e:
        print(f"syscalls: vm {a.arch}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
