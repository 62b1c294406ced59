"""chroot(2): a new root for path lookups, set as root inside a child (the change is
per process and dies with it). Users are refused (CAP_SYS_CHROOT)."""

import os
from pathlib import Path

import pytest

from syscalls.kernel import Kernel

AS_USER = pytest.mark.as_user("root may chroot (CAP_SYS_CHROOT)")


@pytest.mark.root
def test_chroot_resolves_absolute_paths_under_the_new_root(
    kernel: Kernel, tmp: Path, in_child
) -> None:
    (tmp / "marker").write_bytes(b"inside")

    def run() -> bytes:
        kernel.chroot(tmp).unwrap()
        os.chdir("/")
        with open("/marker", "rb") as f:
            return f.read()

    assert in_child(run) == b"inside"


@pytest.mark.root
def test_chroot_dotdot_at_the_new_root_stays_there(kernel: Kernel, tmp: Path, in_child) -> None:
    def run() -> bool:
        kernel.chroot(tmp).unwrap()
        os.chdir("/")
        return os.stat("/..").st_ino == os.stat("/").st_ino

    assert in_child(run) is True


@pytest.mark.root
def test_chroot_to_a_file_is_enotdir(kernel: Kernel, tmp: Path, in_child) -> None:
    (tmp / "f").write_bytes(b"")
    assert in_child(lambda: kernel.chroot(tmp / "f").outcome) == "ENOTDIR"


@pytest.mark.root
def test_chroot_to_a_missing_directory_is_enoent(kernel: Kernel, tmp: Path, in_child) -> None:
    assert in_child(lambda: kernel.chroot(tmp / "absent").outcome) == "ENOENT"


@AS_USER
def test_chroot_without_privilege_is_eperm(kernel: Kernel, tmp: Path) -> None:
    assert kernel.chroot(tmp).errno == "EPERM"
