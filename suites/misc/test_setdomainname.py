"""setdomainname(2): the NIS domain name of the caller's UTS namespace (kernel/sys.c).
It needs CAP_SYS_ADMIN over that namespace: a user gets EPERM, and changes it only inside
a new UTS namespace of a user namespace of its own; root changes it only inside a fresh
UTS namespace in a child, so the host's is never touched. At most 64 bytes (EINVAL).
"""

import os
from pathlib import Path

import pytest

from syscalls import namespaces
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

AS_USER = pytest.mark.as_user("root may set the domain name (CAP_SYS_ADMIN)")


def _domainname(kernel: Kernel) -> bytes:
    u = kernel.new("struct new_utsname *")
    kernel.uname(u).unwrap()
    return kernel.ffi.string(u.domainname)


def _own_uts(kernel: Kernel) -> None:
    """A UTS namespace of the caller's own: unshared by root, inside a user namespace
    for anyone else."""
    if os.geteuid() == 0:
        kernel.unshare(kernel.CLONE_NEWUTS).unwrap()
    else:
        namespaces.user_namespace_or_skip(kernel, kernel.CLONE_NEWUTS)


@AS_USER
def test_setdomainname_as_a_user_is_eperm(kernel: Kernel) -> None:
    name = _domainname(kernel)
    assert kernel.setdomainname(b"syscalls", 8).errno == "EPERM"
    assert _domainname(kernel) == name


def test_setdomainname_in_a_new_uts_namespace_shows_in_uname_and_proc(
    kernel: Kernel, in_child
) -> None:
    host = _domainname(kernel)

    def run() -> tuple[bytes, str]:
        _own_uts(kernel)
        kernel.setdomainname(b"syscalls.test", 13).unwrap()
        return _domainname(kernel), Path("/proc/sys/kernel/domainname").read_text().strip()

    assert in_child(run) == (b"syscalls.test", "syscalls.test")
    assert _domainname(kernel) == host


def test_setdomainname_takes_len_bytes_not_the_string(kernel: Kernel, in_child) -> None:
    def run() -> bytes:
        _own_uts(kernel)
        kernel.setdomainname(b"abcdef", 3).unwrap()
        return _domainname(kernel)

    assert in_child(run) == b"abc"


def test_setdomainname_of_64_bytes_is_kept_whole(kernel: Kernel, in_child) -> None:
    def run() -> bytes:
        _own_uts(kernel)
        kernel.setdomainname(b"d" * 64, 64).unwrap()
        return _domainname(kernel)

    assert in_child(run) == b"d" * 64


def test_setdomainname_of_zero_bytes_empties_it(kernel: Kernel, in_child) -> None:
    def run() -> bytes:
        _own_uts(kernel)
        kernel.setdomainname(b"x", 1).unwrap()
        kernel.setdomainname(b"", 0).unwrap()
        return _domainname(kernel)

    assert in_child(run) == b""


@pytest.mark.parametrize("length", [65, -1])
def test_setdomainname_length_out_of_range_is_einval(kernel: Kernel, in_child, length: int) -> None:
    def run() -> str:
        _own_uts(kernel)
        return kernel.setdomainname(b"d" * 65, length).outcome

    assert in_child(run) == "EINVAL"


@pytest.mark.requires("fault_handler")
def test_setdomainname_unmapped_name_is_efault(kernel: Kernel, in_child) -> None:
    def run() -> str:
        _own_uts(kernel)
        return kernel.setdomainname(8, 4).outcome

    assert in_child(run) == "EFAULT"


def test_setdomainname_in_a_user_namespace_without_its_own_uts_is_eperm(
    kernel: Kernel, in_child
) -> None:
    def run() -> str:
        namespaces.user_namespace_or_skip(kernel)  # the UTS namespace is still the host's
        return kernel.setdomainname(b"x", 1).outcome

    assert in_child(run) == "EPERM"
