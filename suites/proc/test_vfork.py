"""vfork(2) and clone(CLONE_VM|CLONE_VFORK): the parent sleeps until the child exits.

The child shares the parent's memory and stack, so it is the machine-code stub of the
proc conftest (x86_64 only; elsewhere a skip): it sleeps 20 ms, sets a flag in the
shared block and exits 7. gVisor and UML implement vfork as the same suspension.
The stub's syscalls are declared with @pytest.mark.calls for `syscalls list`.
"""

import os
import time

import pytest

from syscalls import forking
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

SLEEP_NS = 20_000_000


def _vfork_in_child(kernel: Kernel, vm_fork, name: str, flags: int) -> tuple[int, int, float]:
    block = kernel.new("long[3]", [0, 0, SLEEP_NS])
    start = time.monotonic()
    pid = vm_fork(name, flags, block)
    elapsed = time.monotonic() - start
    flag = block[0]  # read before anything else can run
    assert pid > 0, f"{name} failed: errno {-pid}"
    return flag, forking.exit_code(kernel, pid), elapsed


@pytest.mark.calls("vfork", "nanosleep", "exit_group")
def test_vfork_parent_resumes_only_after_the_child_exits(kernel: Kernel, vm_fork, in_child) -> None:
    flag, code, elapsed = in_child(lambda: _vfork_in_child(kernel, vm_fork, "vfork", 0))
    assert flag == 1  # written by the child into the shared memory before it exited
    assert code == 7
    assert elapsed >= SLEEP_NS / 1e9


@pytest.mark.calls("clone", "nanosleep", "exit_group")
def test_clone_vm_vfork_shares_memory_and_suspends_parent(
    kernel: Kernel, vm_fork, in_child
) -> None:
    flags = kernel.CLONE_VM | kernel.CLONE_VFORK | kernel.SIGCHLD

    flag, code, elapsed = in_child(lambda: _vfork_in_child(kernel, vm_fork, "clone", flags))
    assert flag == 1
    assert code == 7
    assert elapsed >= SLEEP_NS / 1e9


def test_clone_vfork_without_vm_suspends_parent_over_a_copy(kernel: Kernel, in_child) -> None:
    """Without CLONE_VM the child is an ordinary copy, so it can be Python."""

    def run() -> tuple[float, int]:
        cell = kernel.new("long *", 0)
        start = time.monotonic()
        pid = kernel.clone(kernel.CLONE_VFORK | kernel.SIGCHLD, 0, 0, 0, 0).unwrap()
        if pid == 0:
            try:
                time.sleep(SLEEP_NS / 1e9)
                cell[0] = 1
            finally:
                os._exit(3)
        elapsed = time.monotonic() - start
        assert forking.exit_code(kernel, pid) == 3
        return elapsed, cell[0]

    elapsed, cell = in_child(run)
    assert elapsed >= SLEEP_NS / 1e9
    assert cell == 0  # the child wrote its own copy
