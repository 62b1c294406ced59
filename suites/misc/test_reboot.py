"""reboot(2): on the host only its refusals (kernel/reboot.c), never a real reboot.

The order of its checks: CAP_SYS_BOOT in the user namespace that owns the caller's PID
namespace (EPERM), then the two magic numbers (EINVAL), then, in a PID namespace other
than the initial one, reboot_pid_ns: RESTART/RESTART2 and POWER_OFF/HALT kill the
namespace's init with SIGHUP or SIGINT as its exit status, and every other command is
EINVAL. Rebooting the machine cannot be checked from inside the suite, even in a VM: the
tests that do something (Ctrl-Alt-Del switching, "rebooting" a PID namespace) are
disposable and run only in a VM target. The host tests that reach the command use the
Ctrl-Alt-Del setting the machine already has (/proc/sys/kernel/ctrl-alt-del), so that a
kernel that wrongly accepted one would still change nothing.
"""

import os
import signal
from pathlib import Path

import pytest

from syscalls import forking, namespaces, sysctl
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

AS_USER = pytest.mark.as_user("root may reboot (CAP_SYS_BOOT)")
CAD = Path("/proc/sys/kernel/ctrl-alt-del")


def _same_cad(kernel: Kernel) -> int:
    """The Ctrl-Alt-Del command that leaves the current setting as it is."""
    return (
        kernel.LINUX_REBOOT_CMD_CAD_ON
        if sysctl.number("kernel/ctrl-alt-del")
        else kernel.LINUX_REBOOT_CMD_CAD_OFF
    )


def _reboot(kernel: Kernel, cmd: int, magic2: int | None = None):
    m2 = kernel.LINUX_REBOOT_MAGIC2 if magic2 is None else magic2
    return kernel.reboot(kernel.LINUX_REBOOT_MAGIC1, m2, cmd, None)


def _in_pid_namespace(kernel: Kernel, body, user: bool = False) -> int:
    """For in_child: unshare a PID namespace (inside a user namespace if `user`), fork its
    init to run body(); the init's raw wait status."""

    def run() -> int:
        if user:
            namespaces.user_namespace_or_skip(kernel, kernel.CLONE_NEWPID)
        else:
            kernel.unshare(kernel.CLONE_NEWPID).unwrap()
        return forking.wait(kernel, forking.fork(kernel, body))

    return run


# --- the host: refusals only ----------------------------------------------------------------


@AS_USER
def test_reboot_as_a_user_is_eperm(kernel: Kernel) -> None:
    assert _reboot(kernel, _same_cad(kernel)).errno == "EPERM"


@AS_USER
def test_reboot_as_a_user_is_eperm_before_the_magic_is_checked(kernel: Kernel) -> None:
    assert kernel.reboot(0, 0, _same_cad(kernel), None).errno == "EPERM"


@pytest.mark.root
def test_reboot_bad_first_magic_is_einval(kernel: Kernel) -> None:
    r = kernel.reboot(0x12345678, kernel.LINUX_REBOOT_MAGIC2, _same_cad(kernel), None)
    assert r.errno == "EINVAL"


@pytest.mark.root
def test_reboot_bad_second_magic_is_einval(kernel: Kernel) -> None:
    assert _reboot(kernel, _same_cad(kernel), magic2=0x12345678).errno == "EINVAL"


@pytest.mark.root
def test_reboot_unknown_command_is_einval(kernel: Kernel) -> None:
    assert _reboot(kernel, 0x0BAD0BAD).errno == "EINVAL"


def test_reboot_ctrl_alt_del_switch_in_a_pid_namespace_is_einval(kernel: Kernel, in_child) -> None:
    def init() -> int:
        return 0 if _reboot(kernel, _same_cad(kernel)).errno == "EINVAL" else 3

    status = in_child(_in_pid_namespace(kernel, init, user=os.geteuid() != 0))
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def test_reboot_bad_magic_in_a_user_namespaces_pid_namespace_is_einval(
    kernel: Kernel, in_child
) -> None:
    def init() -> int:
        return 0 if kernel.reboot(0, 0, _same_cad(kernel), None).errno == "EINVAL" else 3

    status = in_child(_in_pid_namespace(kernel, init, user=True))
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def test_reboot_in_a_pid_namespace_not_owned_is_eperm(kernel: Kernel, in_child) -> None:
    """Root of a user namespace, but the PID namespace is still the initial one's."""

    def run() -> str:
        namespaces.user_namespace_or_skip(kernel)
        return _reboot(kernel, _same_cad(kernel)).outcome

    assert in_child(run) == "EPERM"


# --- a disposable VM: commands that do something ----------------------------------------------


@pytest.mark.disposable
@pytest.mark.root
@pytest.mark.parametrize(
    ("magic2", "cad"), [("MAGIC2", "OFF"), ("MAGIC2A", "ON"), ("MAGIC2B", "OFF"), ("MAGIC2C", "ON")]
)
def test_reboot_each_second_magic_switches_ctrl_alt_del(
    kernel: Kernel, magic2: str, cad: str
) -> None:
    before = CAD.read_text()
    try:
        cmd = getattr(kernel, f"LINUX_REBOOT_CMD_CAD_{cad}")
        _reboot(kernel, cmd, getattr(kernel, f"LINUX_REBOOT_{magic2}")).unwrap()
        assert int(CAD.read_text()) == (cad == "ON")
    finally:
        CAD.write_text(before)


@pytest.mark.disposable
@pytest.mark.parametrize(
    ("command", "sig"), [("RESTART", "SIGHUP"), ("POWER_OFF", "SIGINT"), ("HALT", "SIGINT")]
)
def test_reboot_in_a_pid_namespace_ends_its_init_with_a_signal(
    kernel: Kernel, in_child, command: str, sig: str
) -> None:
    def init() -> int:
        _reboot(kernel, getattr(kernel, f"LINUX_REBOOT_CMD_{command}"))
        return 3  # reboot_pid_ns does not return

    status = in_child(_in_pid_namespace(kernel, init, user=os.geteuid() != 0))
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == getattr(signal, sig)
