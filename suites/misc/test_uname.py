"""uname(2): the kernel's own names, as struct new_utsname (six 65-byte fields)."""

import os
import platform as pyplatform

import pytest

from syscalls.expect import ByOS
from syscalls.kernel import Kernel

SYSNAME = ByOS(linux="Linux", freebsd="FreeBSD", netbsd="NetBSD", openbsd="OpenBSD")


def _uname(kernel: Kernel) -> dict[str, str]:
    uname = kernel.uname  # first: where there is no uname syscall (the BSDs), a skip
    u = kernel.new("struct new_utsname *")
    uname(u).unwrap()
    fields = ("sysname", "nodename", "release", "version", "machine", "domainname")
    return {f: kernel.ffi.string(getattr(u, f)).decode() for f in fields}


def test_uname_sysname_names_the_os(kernel: Kernel, platform, observe) -> None:
    u = _uname(kernel)
    observe("release", u["release"])
    assert u["sysname"] == SYSNAME[platform.os]


def test_uname_release_matches_os_uname(kernel: Kernel) -> None:
    assert _uname(kernel)["release"] == os.uname().release


def test_uname_nodename_and_version_match_os_uname(kernel: Kernel) -> None:
    u = _uname(kernel)
    assert (u["nodename"], u["version"]) == (os.uname().nodename, os.uname().version)


@pytest.mark.os("linux")
def test_uname_machine_names_the_arch(kernel: Kernel) -> None:
    assert _uname(kernel)["machine"] == pyplatform.machine()


@pytest.mark.requires("fault_handler")
def test_uname_unmapped_buffer_is_efault(kernel: Kernel) -> None:
    assert kernel.uname(8).errno == "EFAULT"
