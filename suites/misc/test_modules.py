"""init_module(2), finit_module(2), delete_module(2) (kernel/module/main.c).

Without CAP_SYS_MODULE, or with kernel.modules_disabled set, all three are EPERM. As
root the host sees only what loads nothing: data that is no ELF module is ENOEXEC
(EKEYREJECTED first where signatures are enforced), a bad descriptor EBADF, a module name
that is not loaded ENOENT. Loading and unloading for real is disposable: in a VM the
tests load brd, the RAM disk driver (suites/misc/conftest.py), and unload it. A kernel
without module support answers ENOSYS, and the tests skip.
"""

import os
from pathlib import Path

import pytest

from syscalls import namespaces
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

AS_USER = pytest.mark.as_user("root may load modules (CAP_SYS_MODULE)")
GARBAGE = b"\x7fELF, but no module" + bytes(200)


def _enforced() -> bool:
    try:
        return Path("/sys/module/module/parameters/sig_enforce").read_text().strip() == "Y"
    except OSError:
        return False


def _root_outcome(expected: str, unsigned: bool = False) -> str:
    """What root gets: EPERM where module loading is switched off, EKEYREJECTED for
    unsigned data where signatures are enforced, else `expected`."""
    try:
        if int(Path("/proc/sys/kernel/modules_disabled").read_text()):
            return "EPERM"
    except OSError:
        pass
    return "EKEYREJECTED" if unsigned and _enforced() else expected


# --- as a user -------------------------------------------------------------------------------


@AS_USER
def test_init_module_as_a_user_is_eperm(kernel: Kernel) -> None:
    assert kernel.init_module(GARBAGE, len(GARBAGE), b"").errno == "EPERM"


@AS_USER
def test_finit_module_as_a_user_is_eperm(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "m.ko", GARBAGE, kernel.O_RDONLY)
    assert kernel.finit_module(fd, b"", 0).errno == "EPERM"


@AS_USER
def test_delete_module_as_a_user_is_eperm(kernel: Kernel) -> None:
    assert kernel.delete_module(b"syscalls_no_such_module", 0).errno == "EPERM"


def test_init_module_as_root_of_a_user_namespace_is_eperm(kernel: Kernel, in_child) -> None:
    def run() -> str:
        namespaces.user_namespace_or_skip(kernel)
        return kernel.init_module(GARBAGE, len(GARBAGE), b"").outcome

    assert in_child(run) == "EPERM"


# --- as root: nothing that loads --------------------------------------------------------------


@pytest.mark.root
def test_init_module_of_data_that_is_no_module_is_enoexec(kernel: Kernel) -> None:
    r = kernel.init_module(GARBAGE, len(GARBAGE), b"")
    assert r.outcome == _root_outcome("ENOEXEC", unsigned=True)


@pytest.mark.root
def test_init_module_shorter_than_an_elf_header_is_enoexec(kernel: Kernel) -> None:
    assert kernel.init_module(b"\x7fELF", 4, b"").outcome == _root_outcome("ENOEXEC")


@pytest.mark.root
def test_finit_module_of_a_file_that_is_no_module_is_enoexec(
    kernel: Kernel, tmp: Path, fds
) -> None:
    fd = fds.file(tmp / "m.ko", GARBAGE, kernel.O_RDONLY)
    assert kernel.finit_module(fd, b"", 0).outcome == _root_outcome("ENOEXEC", unsigned=True)


@pytest.mark.root
def test_finit_module_unknown_flag_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "m.ko", GARBAGE, kernel.O_RDONLY)
    assert kernel.finit_module(fd, b"", 1 << 10).outcome == _root_outcome("EINVAL")


@pytest.mark.root
def test_finit_module_of_a_bad_descriptor_is_ebadf(kernel: Kernel) -> None:
    assert kernel.finit_module(-1, b"", 0).outcome == _root_outcome("EBADF")


@pytest.mark.root
def test_finit_module_of_a_write_only_descriptor_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "m.ko", GARBAGE, kernel.O_WRONLY)
    assert kernel.finit_module(fd, b"", 0).outcome == _root_outcome("EBADF")


@pytest.mark.root
def test_finit_module_of_an_empty_file_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "m.ko", b"", kernel.O_RDONLY)
    assert kernel.finit_module(fd, b"", 0).outcome == _root_outcome("EINVAL")


@pytest.mark.root
def test_delete_module_of_a_name_not_loaded_is_enoent(kernel: Kernel) -> None:
    assert kernel.delete_module(b"syscalls_no_such_module", 0).outcome == _root_outcome("ENOENT")


@pytest.mark.root
def test_delete_module_of_an_empty_name_is_enoent(kernel: Kernel) -> None:
    assert kernel.delete_module(b"", 0).outcome == _root_outcome("ENOENT")


# --- a disposable VM: brd loaded and unloaded --------------------------------------------------


@pytest.mark.disposable
@pytest.mark.root
def test_finit_module_loads_the_module_and_delete_module_unloads_it(
    kernel: Kernel, modules
) -> None:
    modules.load().unwrap()
    loaded = modules.loaded and Path("/sys/block/ram0").exists()
    kernel.delete_module(b"brd", kernel.O_NONBLOCK).unwrap()
    assert loaded and not modules.loaded


@pytest.mark.disposable
@pytest.mark.root
def test_init_module_from_memory_applies_its_parameters(kernel: Kernel, modules) -> None:
    image = modules.path.read_bytes()
    kernel.init_module(image, len(image), b"rd_nr=2 rd_size=1024").unwrap()
    assert Path("/sys/block/ram1").exists() and not Path("/sys/block/ram2").exists()
    assert Path("/sys/module/brd/parameters/rd_size").read_text().strip() == "1024"


@pytest.mark.disposable
@pytest.mark.root
def test_finit_module_of_a_loaded_module_is_eexist(kernel: Kernel, modules) -> None:
    modules.load().unwrap()
    assert modules.load().errno == "EEXIST"


@pytest.mark.disposable
@pytest.mark.root
def test_finit_module_bad_parameter_value_is_einval(kernel: Kernel, modules) -> None:
    assert modules.load(b"rd_nr=lots").errno == "EINVAL"
    assert not modules.loaded


@pytest.mark.disposable
@pytest.mark.root
def test_delete_module_of_a_module_in_use_would_block(kernel: Kernel, ramdisk: Path) -> None:
    fd = os.open(ramdisk, os.O_RDONLY)  # an open disk holds a reference to its driver
    try:
        assert kernel.delete_module(b"brd", kernel.O_NONBLOCK).errno == "EWOULDBLOCK"
    finally:
        os.close(fd)
