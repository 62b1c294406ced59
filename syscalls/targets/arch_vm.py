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
shared read-only over 9p (multidevs=remap, so the checkout's bind mount is seen) and
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
from dataclasses import dataclass
from pathlib import Path

from syscalls.targets import Options, TargetUnavailable, guest, initramfs, results, vm_kernel

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


def resolve_kernel(path: Path) -> vm_kernel.Kernel:
    """The kernel behind a Debian linux-image .deb or an image file, with the modules
    and config of its package when they are beside it (boot/, lib/modules/RELEASE)."""
    if not path.exists():
        raise vm_kernel.KernelError(f"{path}: no such file")
    if path.name.endswith(".deb"):
        root = vm_kernel.unpack_deb(path, initramfs.cache_dir())
        images = sorted((root / "boot").glob("vmlinuz-*"))
        if not images:
            raise vm_kernel.KernelError(f"{path}: no boot/vmlinuz-* in the package")
        path = images[0]
    image = path.resolve()
    release = release_of(image)
    modules = image.parent.parent / "lib" / "modules" / release
    config = vm_kernel.find_config(image, release, modules if modules.is_dir() else None)
    return vm_kernel.Kernel(
        image=image,
        release=release,
        modules_dir=modules if modules.is_dir() else None,
        config=vm_kernel.read_config(config) if config else None,
        index=vm_kernel.module_index(modules) if modules.is_dir() else {},
    )


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
    debs = cache / "debs"
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
    meta = f"linux-image-{flavour + '-' if flavour else ''}{arch.debian}"

    def run(*argv: str, cwd: Path | None = None) -> str:
        done = subprocess.run(argv, capture_output=True, text=True, cwd=cwd)
        if done.returncode != 0:
            raise vm_kernel.KernelError(f"{' '.join(argv[:2])}: {done.stderr.strip()}")
        return done.stdout

    if not any((state / "lists").glob("*Packages*")):
        run("apt-get", "-q", *apt, "update")
    names = [
        line.split(":", 1)[1].strip()
        for line in run("apt-cache", *apt, "depends", meta).splitlines()
        if line.strip().startswith("Depends:") and "linux-image-" in line
    ]
    if not names:
        raise vm_kernel.KernelError(f"{meta}: no linux-image dependency in apt-cache")
    package = names[0] + "-unsigned"
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        debs.mkdir(parents=True, exist_ok=True)
        run("apt-get", "-q", *apt, "download", package, cwd=debs)
        found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        raise vm_kernel.KernelError(f"apt-get download {package}: no .deb")
    return found[-1]


def guest_script(
    out: Path, checkout: Path, arch: str, args: argparse.Namespace, scale: float
) -> None:
    """OUT/guest.sh, run by init chrooted into the root: the suite with the root's python3."""
    test_timeout = int(120 * scale)  # pyproject's per-test limit, stretched
    names = any(
        not a.startswith("-") and (checkout / a.split("::")[0]).exists() for a in args.pytest_args
    )
    argv = [
        "python3",
        "-m",
        "pytest",
        *([] if names else ["suites"]),
        "-p",
        "no:cacheprovider",
        "--rootdir=/work/syscalls",
        "-q",
        "--color=no",
        f"--platform=linux/{arch}",
        f"--target={TARGET}",
        f"--junitxml=/results/{results.JUNIT}",
        f"--profile=/results/{results.PROFILE}",
        "-p",
        "syscalls.targets.events",
        f"--events=/results/{results.EVENTS}",
        f"--timeout={test_timeout}",
        *(["-n", args.workers] if args.workers not in ("0", "1") else []),
        *args.pytest_args,
    ]
    status = f"/results/{results.STATUS}"
    text = f"""#!/bin/sh
# The suite on a linux/{arch} kernel under QEMU; written by syscalls.targets.arch_vm.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp TMPDIR=/tmp LANG=C.UTF-8
export PYTHONDONTWRITEBYTECODE=1 SYSCALLS_TARGET={TARGET} SYSCALLS_TIME_SCALE={scale:g}
echo "{guest.STARTED.decode()} ({arch}, kernel $(uname -r))"
cd /work/syscalls || exit 1
{shlex.join(argv)}
status=$?
echo "$status" > {status}.tmp && mv {status}.tmp {status}
sync
echo "syscalls-guest: the suite exited with status $status"
"""
    path = out / results.SCRIPT
    path.write_text(text)
    path.chmod(0o755)


def qemu_argv(
    qemu: str,
    arch: Arch,
    kernel: vm_kernel.Kernel,
    initrd: Path,
    root: Path,
    out: Path,
    a: argparse.Namespace,
) -> list[str]:
    cmdline = [
        f"console={arch.console}",
        "printk.time=1",
        "panic=-1",
        "rdinit=/init",
        "syscalls.fs=9p",
        "syscalls.out=/results",
        *a.append.split(),
    ]
    return [
        qemu,
        *arch.machine,
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-no-reboot",
        "-serial",
        "stdio",
        "-smp",
        str(a.smp),
        "-m",
        f"{a.memory}M",
        "-kernel",
        str(kernel.image),
        "-initrd",
        str(initrd),
        "-append",
        " ".join(cmdline),
        "-fsdev",
        f"local,id=hostroot,path={root},security_model=none,readonly=on,multidevs=remap",
        "-device",
        "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot",
        "-fsdev",
        f"local,id=results,path={out},security_model=none",
        "-device",
        "virtio-9p-pci,fsdev=results,mount_tag=results",
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
    if not (root / "work" / "syscalls" / "conftest.py").exists():
        raise TargetUnavailable(f"{root}/work/syscalls: the checkout is not mounted there")
    try:
        kernel = resolve_kernel(a.kernel or debian_kernel(arch))
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
    guest_script(out, root / "work" / "syscalls", a.arch, a, scale)
    limits = guest.Limits(boot=BOOT_LIMIT, test=120 * scale + 60, total=a.time_limit or TOTAL)
    argv = qemu_argv(qemu, arch, kernel, initrd, root, out, a)
    (out / results.CONSOLE).write_text(f"$ {shlex.join(argv)}\n")
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
    p.add_argument("-n", dest="workers", default="2", help="pytest-xdist workers (0: none)")
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
