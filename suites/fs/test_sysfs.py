"""sysfs(2), the System V call that lists the registered file system types
(fs/filesystems.c; CONFIG_SYSFS_SYSCALL): option 1 turns a name into its index, option 2
an index into its name, option 3 counts them. The order is the one /proc/filesystems
lists. The generic syscall table (arm64, riscv64) has no sysfs: these tests skip there.
"""

from pathlib import Path

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")


def _proc_filesystems() -> list[str]:
    return [line.split()[-1] for line in Path("/proc/filesystems").read_text().splitlines()]


def _name(kernel: Kernel, index: int) -> str:
    buf = kernel.buf(256)
    kernel.sysfs(2, index, buf).unwrap()
    return kernel.ffi.string(buf).decode()


def test_sysfs_counts_the_types_proc_filesystems_lists(kernel: Kernel) -> None:
    assert kernel.sysfs(3, 0, 0).unwrap() == len(_proc_filesystems())


def test_sysfs_names_the_types_in_proc_filesystems_order(kernel: Kernel) -> None:
    count = kernel.sysfs(3, 0, 0).unwrap()
    assert [_name(kernel, i) for i in range(count)] == _proc_filesystems()


def test_sysfs_index_zero_round_trips_through_its_name(kernel: Kernel) -> None:
    assert kernel.sysfs(1, _name(kernel, 0).encode(), 0).unwrap() == 0


def test_sysfs_index_of_tmpfs_names_tmpfs(kernel: Kernel) -> None:
    assert _name(kernel, kernel.sysfs(1, b"tmpfs", 0).unwrap()) == "tmpfs"


def test_sysfs_unknown_name_is_einval(kernel: Kernel) -> None:
    assert kernel.sysfs(1, b"no-such-fs", 0).errno == "EINVAL"


def test_sysfs_index_past_the_last_type_is_einval(kernel: Kernel) -> None:
    count = kernel.sysfs(3, 0, 0).unwrap()
    assert kernel.sysfs(2, count, kernel.buf(256)).errno == "EINVAL"


@pytest.mark.parametrize("option", [0, 4, -1])
def test_sysfs_unknown_option_is_einval(kernel: Kernel, option: int) -> None:
    assert kernel.sysfs(option, 0, 0).errno == "EINVAL"


@pytest.mark.requires("fault_handler")
def test_sysfs_unmapped_name_is_efault(kernel: Kernel) -> None:
    assert kernel.sysfs(1, 8, 0).errno == "EFAULT"


@pytest.mark.requires("fault_handler")
def test_sysfs_name_into_an_unmapped_buffer_is_efault(kernel: Kernel) -> None:
    assert kernel.sysfs(2, 0, 8).errno == "EFAULT"
