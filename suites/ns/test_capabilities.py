"""capget(2) and capset(2): a process's capability sets (version 3: two 32-bit words per
set). Capabilities are dropped only inside a child; the test process keeps its own.
"""

from pathlib import Path

import pytest

from syscalls import forking
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

VERSION_3 = 0x20080522  # include/uapi/linux/capability.h; not in the generated table
AS_USER = pytest.mark.as_user("root holds capabilities")


def _capget(kernel: Kernel, pid: int = 0, version: int = VERSION_3):
    header = kernel.new("struct __user_cap_header_struct *", (version, pid))
    data = kernel.new("struct __user_cap_data_struct[2]")
    return kernel.capget(header, data), header, data


def _effective(data) -> int:
    return data[0].effective | data[1].effective << 32


def _has(data, cap: int, field: str = "effective") -> bool:
    return bool(getattr(data[cap // 32], field) >> (cap % 32) & 1)


@pytest.mark.root
def test_capget_of_root_shows_sys_admin_effective(kernel: Kernel) -> None:
    r, _, data = _capget(kernel)
    r.unwrap()
    assert _has(data, kernel.CAP_SYS_ADMIN)


@AS_USER
def test_capget_of_a_user_process_shows_no_effective_caps(kernel: Kernel) -> None:
    r, _, data = _capget(kernel)
    r.unwrap()
    assert _effective(data) == 0


def test_capget_unknown_version_is_einval_and_names_the_preferred(kernel: Kernel) -> None:
    r, header, _ = _capget(kernel, version=0x12345678)
    assert r.errno == "EINVAL"
    assert header.version == VERSION_3


def test_capget_of_missing_process_is_esrch(kernel: Kernel) -> None:
    assert _capget(kernel, pid=forking.missing_pid())[0].errno == "ESRCH"


@pytest.mark.root
def test_capset_dropping_chown_makes_chown_eperm(kernel: Kernel, tmp: Path, in_child) -> None:
    (tmp / "f").write_bytes(b"")

    def run() -> tuple[bool, str]:
        r, header, data = _capget(kernel)
        r.unwrap()
        bit = 1 << kernel.CAP_CHOWN
        data[0].effective &= ~bit
        data[0].permitted &= ~bit
        kernel.capset(header, data).unwrap()
        _, _, after = _capget(kernel)
        return _has(after, kernel.CAP_CHOWN), kernel.fchownat(
            kernel.AT_FDCWD, tmp / "f", 65534, 65534, 0
        ).outcome

    still_has, outcome = in_child(run)
    assert not still_has
    assert outcome == "EPERM"


@pytest.mark.root
def test_capset_raising_beyond_permitted_is_eperm(kernel: Kernel, in_child) -> None:
    def run() -> str:
        r, header, data = _capget(kernel)
        r.unwrap()
        bit = 1 << kernel.CAP_CHOWN
        data[0].effective &= ~bit
        data[0].permitted &= ~bit
        kernel.capset(header, data).unwrap()
        data[0].effective |= bit  # not permitted any more: cannot come back
        return kernel.capset(header, data).outcome

    assert in_child(run) == "EPERM"


@AS_USER
def test_capset_raising_a_capability_as_user_is_eperm(kernel: Kernel, in_child) -> None:
    def run() -> str:
        r, header, data = _capget(kernel)
        r.unwrap()
        data[0].effective |= 1 << kernel.CAP_CHOWN
        return kernel.capset(header, data).outcome

    assert in_child(run) == "EPERM"
