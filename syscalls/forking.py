"""Raw fork for tests: the kernel's fork (or clone(SIGCHLD) where there is no fork).

Python's os.fork() goes through libc and the interpreter's own fork hooks; tests of the
kernel's process calls use the syscall itself. The child runs a small body and leaves
with _exit() whatever happens, so it never returns into pytest. Keep bodies short and
free of printing: locks held by other threads at fork time stay held in the child.
Call these from inside `in_child`, so that a hang or crash is contained.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from syscalls.kernel import Kernel


def fork(kernel: Kernel, body: Callable[[], int | None] | None = None) -> int:
    """Fork; the child runs body() and exits with its result (0 for None, 1 if it raised).

    Without a body the child exits 0 at once. Returns the child's pid in the parent.
    """
    if kernel.has("fork"):
        r = kernel.fork()
    else:  # aarch64, riscv64: no fork syscall; clone with only an exit signal is the same
        r = kernel.clone(kernel.SIGCHLD, 0, 0, 0, 0)
    return child_side(r.unwrap(), body)


def child_side(pid: int, body: Callable[[], int | None] | None = None) -> int:
    """After a fork-like call returned `pid`: in the child (0) run body() and _exit with
    its result (0 for None, 1 if it raised); in the parent return pid."""
    if pid == 0:
        code = 1
        try:
            code = (body() if body else 0) or 0
        finally:
            os._exit(code)
    return pid


def wait(kernel: Kernel, pid: int, options: int = 0) -> int:
    """wait4() for this child; its raw wait status (decode with os.WIFEXITED & co)."""
    status = kernel.new("int *")
    got = kernel.wait4(pid, status, options, None).unwrap()
    if got != pid:
        raise AssertionError(f"wait4({pid}) returned {got}")
    return int(status[0])


class Argv:
    """A NULL-terminated char *[] for execve-like calls, built from bytes and kept alive
    with its strings (the kernel reads them only when the call is made)."""

    def __init__(self, kernel: Kernel, items: list[bytes]) -> None:
        self.strings = [kernel.ffi.new("char[]", s) for s in items]
        self.array = kernel.ffi.new("char *[]", [*self.strings, kernel.ffi.NULL])


def exit_code(kernel: Kernel, pid: int) -> int:
    """Wait for the child and return its exit code; fail if a signal killed it."""
    status = wait(kernel, pid)
    if not os.WIFEXITED(status):
        raise AssertionError(f"child {pid} did not exit normally: status {status:#x}")
    return os.WEXITSTATUS(status)
