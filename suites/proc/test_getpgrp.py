"""getpgrp(2): the caller's process group, what getpgid(0) says (x86 only: the generic
tables of arm64 and riscv have getpgid alone, and those skip)."""

import os

import pytest

from syscalls import forking
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")


@pytest.fixture(autouse=True)
def has_getpgrp(kernel: Kernel) -> None:
    forking.need(kernel, "getpgrp")  # the forked children below call it


def test_getpgrp_is_getpgid_of_zero(kernel: Kernel) -> None:
    assert kernel.getpgrp().unwrap() == kernel.getpgid(0).unwrap() == os.getpgrp()


def test_getpgrp_follows_setpgid(kernel: Kernel, in_child) -> None:
    """in_child leads a group of its own; its forked child joins it, then leaves for
    a group named after itself."""

    def run() -> int:
        def child() -> int:
            before = kernel.getpgrp().unwrap()
            kernel.setpgid(0, 0).unwrap()
            after = kernel.getpgrp().unwrap()
            return 0 if (before, after) == (os.getppid(), os.getpid()) else 1

        return forking.exit_code(kernel, forking.fork(kernel, child))

    assert in_child(run) == 0


def test_getpgrp_after_setsid_is_the_new_session(kernel: Kernel, in_child) -> None:
    def run() -> int:
        def child() -> int:
            sid = kernel.setsid().unwrap()
            return 0 if kernel.getpgrp().unwrap() == sid == os.getpid() else 1

        return forking.exit_code(kernel, forking.fork(kernel, child))

    assert in_child(run) == 0
