"""sethostname(2): refused without CAP_SYS_ADMIN; as root, changed only inside a fresh
UTS namespace in a child, so the host's name is never touched (Linux only)."""

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

AS_USER = pytest.mark.as_user("root may set the hostname (CAP_SYS_ADMIN)")


def _nodename(kernel: Kernel) -> bytes:
    u = kernel.new("struct new_utsname *")
    kernel.uname(u).unwrap()
    return kernel.ffi.string(u.nodename)


@AS_USER
def test_sethostname_without_privilege_is_eperm(kernel: Kernel) -> None:
    name = _nodename(kernel)
    assert kernel.sethostname(name, len(name)).errno == "EPERM"
    assert _nodename(kernel) == name


@pytest.mark.root
def test_sethostname_in_new_uts_namespace_shows_in_uname(kernel: Kernel, in_child) -> None:
    host = _nodename(kernel)

    def run() -> bytes:
        kernel.unshare(kernel.CLONE_NEWUTS).unwrap()
        kernel.sethostname(b"syscalls-test", 13).unwrap()
        return _nodename(kernel)

    assert in_child(run) == b"syscalls-test"
    assert _nodename(kernel) == host


@pytest.mark.root
def test_sethostname_longer_than_64_bytes_is_einval(kernel: Kernel, in_child) -> None:
    def run() -> str:
        kernel.unshare(kernel.CLONE_NEWUTS).unwrap()
        return kernel.sethostname(b"x" * 65, 65).outcome

    assert in_child(run) == "EINVAL"


@pytest.mark.root
def test_sethostname_negative_length_is_einval(kernel: Kernel, in_child) -> None:
    def run() -> str:
        kernel.unshare(kernel.CLONE_NEWUTS).unwrap()
        return kernel.sethostname(b"x", -1).outcome

    assert in_child(run) == "EINVAL"


@pytest.mark.root
def test_sethostname_of_64_bytes_is_kept_whole(kernel: Kernel, in_child) -> None:
    def run() -> bytes:
        kernel.unshare(kernel.CLONE_NEWUTS).unwrap()
        kernel.sethostname(b"h" * 64, 64).unwrap()
        return _nodename(kernel)

    assert in_child(run) == b"h" * 64


@pytest.mark.root
def test_sethostname_takes_len_bytes_and_ends_the_name_there(kernel: Kernel, in_child) -> None:
    def run() -> bytes:
        kernel.unshare(kernel.CLONE_NEWUTS).unwrap()
        kernel.sethostname(b"a-long-first-name", 17).unwrap()
        kernel.sethostname(b"shortXYZ", 5).unwrap()
        return _nodename(kernel)

    assert in_child(run) == b"short"
