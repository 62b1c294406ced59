"""ioperm(2) and iopl(2): x86 I/O port access for user space (x86_64 and i386 only).

Raising access needs CAP_SYS_RAWIO (and no lockdown); giving it up needs nothing.
Ranges are checked first: the bitmap covers ports 0-65535 (IO_BITMAP_BITS), levels
0-3. A kernel built without CONFIG_X86_IOPL_IOPERM answers ENOSYS to both (a skip).
Root's grants happen in a child.
"""

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

AS_USER = pytest.mark.as_user("root has CAP_SYS_RAWIO")
PORTS = 65536  # IO_BITMAP_BITS


def test_ioperm_past_the_last_port_is_einval(kernel: Kernel) -> None:
    assert kernel.ioperm(PORTS - 1, 2, 1).errno == "EINVAL"


def test_ioperm_range_that_wraps_is_einval(kernel: Kernel) -> None:
    assert kernel.ioperm(-1 & 0xFFFFFFFF, 2, 0).errno == "EINVAL"


def test_iopl_above_3_is_einval(kernel: Kernel) -> None:
    assert kernel.iopl(4).errno == "EINVAL"


def test_ioperm_giving_up_access_needs_no_privilege(kernel: Kernel) -> None:
    assert kernel.ioperm(0x80, 1, 0).unwrap() == 0


def test_iopl_0_needs_no_privilege(kernel: Kernel) -> None:
    assert kernel.iopl(0).unwrap() == 0


@AS_USER
def test_ioperm_granting_access_as_a_user_is_eperm(kernel: Kernel) -> None:
    assert kernel.ioperm(0x80, 1, 1).errno == "EPERM"


@AS_USER
def test_iopl_3_as_a_user_is_eperm(kernel: Kernel) -> None:
    assert kernel.iopl(3).errno == "EPERM"


@pytest.mark.root
def test_ioperm_as_root_grants_and_gives_back(kernel: Kernel, in_child) -> None:
    def run() -> tuple[str, str]:
        return kernel.ioperm(0x80, 1, 1).outcome, kernel.ioperm(0x80, 1, 0).outcome

    assert in_child(run) == ("ok", "ok")


@pytest.mark.root
def test_iopl_3_as_root_is_granted(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: (kernel.iopl(3).outcome, kernel.iopl(0).outcome)) == ("ok", "ok")
