"""Raw fork for tests: the kernel's fork (or clone(SIGCHLD) where there is no fork).

Python's os.fork() goes through libc and the interpreter's own fork hooks; tests of the
kernel's process calls use the syscall itself. The child runs a small body and leaves
with _exit() whatever happens, so it never returns into pytest. Keep bodies short and
free of printing: locks held by other threads at fork time stay held in the child.
Call these from inside `in_child`, so that a hang or crash is contained.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import struct
from collections.abc import Callable, Iterator

from syscalls.kernel import Kernel, Unsupported


def need(kernel: Kernel, *names: str) -> None:
    """Skip, as a missing call does, unless this platform implements every one of these
    syscalls: for tests whose forked children make them, where the Unsupported a missing
    call raises cannot reach pytest (or whose structs only those arches declare)."""
    p = kernel.platform
    for name in names:
        if not p.has(name):
            raise Unsupported(f"{name}: not in the {p.name} table")
        if p.resolve(name) in p.left_out:
            raise Unsupported(f"{name}: {p.left_out[p.resolve(name)]}")


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
    its result (0 for None, 1 if it raised); in the parent return pid.

    The child's fatal signal is what the test watches (a SIGSEGV or SIGBUS it provokes
    on purpose), so Python's fault handler is off in it: its dump went to the run's
    real stderr, "Fatal Python error" in the middle of a passing run's progress."""
    if pid == 0:
        code = 1
        try:
            faulthandler.disable()
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


# Linux's ceiling for pid_max (include/linux/threads.h, 64-bit): where the sysctl is
# missing (gVisor), no pid is above it either.
PID_MAX_LIMIT = 4 * 1024 * 1024


def missing_pid() -> int:
    """A pid no process has: pid_max itself (pids are below it)."""
    try:
        with open("/proc/sys/kernel/pid_max") as f:
            return int(f.read())
    except OSError:
        return PID_MAX_LIMIT


@contextlib.contextmanager
def waiting_child(
    kernel: Kernel, prepare: Callable[[], int | None] | None = None
) -> Iterator[tuple[int, int]]:
    """A raw-forked child that runs prepare(), then waits while the block runs.

    Yields (pid, what prepare returned, or 0) once prepare has finished, so the block
    can act on the child's state (its fds, its memory); at the end the child is let go
    and reaped. Call it from inside `in_child`."""
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()

    def child() -> int:
        os.close(ready_r)
        os.close(go_w)
        value = (prepare() if prepare else 0) or 0
        os.write(ready_w, struct.pack("q", value))
        os.read(go_r, 1)  # EOF when the parent lets go
        return 0

    pid = fork(kernel, child)
    os.close(ready_w)
    os.close(go_r)
    try:
        data = os.read(ready_r, 8)
        if len(data) != 8:
            raise AssertionError(f"child {pid} died before it was ready")
        yield pid, struct.unpack("q", data)[0]
    finally:
        os.close(ready_r)
        os.close(go_w)
        wait(kernel, pid)
