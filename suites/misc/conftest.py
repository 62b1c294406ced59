"""Fixtures for the misc suite's machine-wide calls, used by @pytest.mark.disposable tests
(which run only in a throwaway VM): a harmless kernel module to load, and a RAM disk to
swap on.

The module is brd, the RAM disk driver (drivers/block/brd.c): no hardware, no other
module needed, and its disks are block devices a swap area can live on (tmpfs cannot
hold a swap file). Its file is looked up in the running kernel's modules directory:
$SYSCALLS_MODULES_DIR (the VM target names the image's own) or /lib/modules/RELEASE,
through modules.order or modules.dep. Whatever a test loads is unloaded, and swap on it
switched off, at teardown.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from syscalls.kernel import Kernel

MODULE = "brd"
RAMDISK_MAJOR = 1  # include/uapi/linux/major.h: brd's block devices


def module_dirs() -> list[Path]:
    dirs = [Path("/lib/modules") / os.uname().release]
    named = os.environ.get("SYSCALLS_MODULES_DIR")
    return [Path(named), *dirs] if named else dirs


def module_file(name: str) -> Path:
    """The running kernel's <name>.ko (uncompressed), or a skip saying where it looked.
    modules.order lists every module a build made (a package ships it; modules.dep is
    made by depmod at installation)."""
    for directory in module_dirs():
        listed = []
        for index in ("modules.order", "modules.dep"):
            try:
                listed += (directory / index).read_text().splitlines()
            except OSError:
                continue
        for line in listed:
            path = line.split(":", 1)[0]
            if Path(path).name.split(".ko")[0] == name:
                if not path.endswith(".ko"):
                    pytest.skip(f"{name} is compressed here ({path}): load it uncompressed")
                return directory / path
    searched = ", ".join(str(d) for d in module_dirs())
    pytest.skip(f"no {name}.ko for kernel {os.uname().release} (looked in {searched})")


class Modules:
    """Loads `brd` for a test and unloads it at teardown."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        if Path(f"/sys/module/{MODULE}").exists():
            pytest.skip(f"{MODULE} is already loaded or built in: it cannot be loaded afresh")
        self.path = module_file(MODULE)

    @property
    def loaded(self) -> bool:
        return Path(f"/sys/module/{MODULE}").exists()

    def load(self, params: bytes = b"rd_nr=1 rd_size=8192"):
        """finit_module of brd with these parameters: the Result."""
        k = self.kernel
        fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            return k.finit_module(fd, params, 0)
        finally:
            os.close(fd)

    def release(self) -> None:
        """Unload; a module that stays loaded fails the teardown (the next test could
        not load it afresh)."""
        k = self.kernel
        with k.unobserved():
            if self.loaded:
                r = k.delete_module(MODULE.encode(), k.O_NONBLOCK)
                assert r.ok, f"{MODULE} could not be unloaded after the test: {r.errno}"


@pytest.fixture
def modules(kernel: Kernel) -> Iterator[Modules]:
    holder = Modules(kernel)
    try:
        yield holder
    finally:
        holder.release()


@pytest.fixture
def ramdisk(kernel: Kernel, modules: Modules, tmp: Path) -> Iterator[Path]:
    """A block device node in tmp for brd's first 8 MiB RAM disk, brd loaded for it;
    swap on it is switched off at teardown (before tmp, and the node, go)."""
    modules.load().unwrap()
    node = tmp / "ram0"
    kernel.mknodat(
        kernel.AT_FDCWD, node, kernel.S_IFBLK | 0o600, os.makedev(RAMDISK_MAJOR, 0)
    ).unwrap()
    try:
        yield node
    finally:
        with kernel.unobserved():
            kernel.swapoff(node)
