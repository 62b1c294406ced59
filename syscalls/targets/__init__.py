"""Targets: where the suite runs, and the one interface `syscalls run --target` uses.

A target module (vm, gvisor, uml, ssh) exposes `run(opts: Options) -> int`: it starts the
target, streams its console to the terminal and to OUT/console.log, lets the suite
inside write its results into OUT (syscalls.targets.guest, .results), and returns the
suite's exit status, or guest.TARGET_FAILED when the target died first. `host` is
in-process pytest in `syscalls run`; `rump` has its own entry there.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from syscalls.paths import ROOT  # noqa: F401  (suites/, conftest.py: a checkout or its installed copy)

TARGETS = {
    "host": "the running kernel, in-process pytest",
    "vm": "a kernel image under QEMU (KVM when usable, TCG otherwise)",
    "gvisor": "gVisor's user-space kernel (runsc, ptrace platform)",
    "uml": "User-Mode Linux (linux.uml, host root over hostfs)",
    "rump": "the NetBSD kernel as user-space libraries (--rump-dir)",
    "ssh": "a machine you can log in to: --target ssh://[user@]host[:port]",
}

UNAVAILABLE = 2  # exit status when the target cannot start here (as for a usage error)


@dataclass
class Options:
    """What a target run needs; fields a target does not use are ignored by it."""

    out: Path
    pytest_args: list[str] = field(default_factory=list)
    workers: str = "auto"  # forked workers inside ("0": none; "auto": the target's)
    platform: str | None = None  # binding table (OS/ARCH or a .toml path)
    time_limit: float | None = None  # seconds for the whole run (None: the target's own)
    time_scale: float | None = None  # stretches per-test limits (None: the target's own)
    kernel: Path | None = None  # vm: the kernel image to boot
    memory_mb: int | None = None  # vm, uml: guest memory (None: the target's own)
    cpus: int | None = None  # vm: vCPUs (None: vm.default_cpus())
    accel: str = "auto"  # vm: kvm, tcg, or auto (KVM if a guest starts under it, else TCG)
    append: str = ""  # vm: more kernel command-line arguments
    destination: str | None = None  # ssh: ssh://[user@]host[:port]
    ssh_options: list[str] = field(default_factory=list)  # ssh: -o options (Key=Value)


class Target(Protocol):
    def run(self, opts: Options) -> int: ...


class TargetUnavailable(RuntimeError):
    """The target cannot run on this machine; the message says what is missing."""


def load(name: str) -> Target:
    """The module of target `name` (not host or rump, which the CLI runs itself)."""
    if name not in TARGETS or name in ("host", "rump"):
        raise KeyError(name)
    return importlib.import_module(f"syscalls.targets.{name}")  # type: ignore[return-value]


def run(name: str, opts: Options) -> int:
    """Run the suite in target `name`; a target that cannot start here says why (status 2)."""
    try:
        module = load(name)
    except ModuleNotFoundError:
        print(f"syscalls: --target {name} is not available in this checkout", file=sys.stderr)
        return UNAVAILABLE
    try:
        return module.run(opts)
    except TargetUnavailable as e:
        print(f"syscalls: --target {name}: {e}", file=sys.stderr)
        return UNAVAILABLE
