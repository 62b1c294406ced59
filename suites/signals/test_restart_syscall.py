"""restart_syscall(2): the kernel's own way back into an interrupted call with a
timeout; called by a process with no restart pending it answers EINTR
(kernel/signal.c: do_no_restart_syscall)."""

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")


def test_restart_syscall_with_nothing_to_restart_is_eintr(kernel: Kernel) -> None:
    assert kernel.restart_syscall().errno == "EINTR"


def test_restart_syscall_ignores_its_arguments(kernel: Kernel) -> None:
    assert kernel.restart_syscall(1, 2, 3).errno == "EINTR"
