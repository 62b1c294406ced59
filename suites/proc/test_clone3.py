"""clone3(2): struct clone_args, its size rules, pidfds and exit signals (Linux >= 5.3).

The struct is versioned by size: smaller than CLONE_ARGS_SIZE_VER0 is EINVAL, larger
than a page is E2BIG, and a larger struct is accepted only if the bytes the kernel
does not know are zero (E2BIG otherwise). gVisor answers ENOSYS (a skip).
"""

import os
import signal

import pytest

from syscalls import forking
from syscalls.kernel import Kernel, Result

pytestmark = [pytest.mark.os("linux"), pytest.mark.min_kernel("5.3")]


def _args(kernel: Kernel, **fields: int):
    args = kernel.new("struct clone_args *")
    for name, value in fields.items():
        setattr(args, name, value)
    return args


def _clone3(kernel: Kernel, args, size: int | None = None, body=None) -> Result:
    size = kernel.ffi.sizeof("struct clone_args") if size is None else size
    r = kernel.clone3(args, size)
    if r.ok:
        forking.child_side(r.value, body)  # returns only in the parent
    return r


def _set_tid(kernel: Kernel, pids: list[int], size: int) -> Result:
    """clone3 of a plain child asking for the pids `pids` (set_tid), `size` of them."""
    tids = kernel.new(f"int[{max(len(pids), 1)}]", pids)
    args = _args(
        kernel, exit_signal=signal.SIGCHLD, set_tid=kernel.address(tids), set_tid_size=size
    )
    return _clone3(kernel, args)


def test_clone3_child_exit_code_reaches_wait4(kernel: Kernel, in_child) -> None:
    def run() -> int:
        pid = _clone3(kernel, _args(kernel, exit_signal=signal.SIGCHLD), body=lambda: 9).unwrap()
        return forking.exit_code(kernel, pid)

    assert in_child(run) == 9


def test_clone3_pidfd_is_returned_in_args(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        pidfd = kernel.new("int *", -1)
        args = _args(
            kernel,
            flags=kernel.CLONE_PIDFD,
            pidfd=kernel.address(pidfd),
            exit_signal=signal.SIGCHLD,
        )
        pid = _clone3(kernel, args, body=lambda: os.read(os.pipe()[0], 1) and 0).unwrap()
        try:  # the child blocks on a pipe nobody writes: kill it through its pidfd
            kernel.pidfd_send_signal(pidfd[0], signal.SIGKILL, None, 0).unwrap()
        finally:
            status = forking.wait(kernel, pid)
        return pidfd[0], os.WTERMSIG(status) if os.WIFSIGNALED(status) else -1

    fd, sig = in_child(run)
    assert fd >= 0
    assert sig == signal.SIGKILL


def test_clone3_parent_settid_stores_tid(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        ptid = kernel.new("int *", 0)
        args = _args(
            kernel,
            flags=kernel.CLONE_PARENT_SETTID,
            parent_tid=kernel.address(ptid),
            exit_signal=signal.SIGCHLD,
        )
        pid = _clone3(kernel, args).unwrap()
        forking.wait(kernel, pid)
        return pid, ptid[0]

    pid, stored = in_child(run)
    assert stored == pid


def test_clone3_size_below_version_0_is_einval(kernel: Kernel, in_child) -> None:
    size = kernel.CLONE_ARGS_SIZE_VER0 - 8
    r = in_child(lambda: _clone3(kernel, _args(kernel, exit_signal=signal.SIGCHLD), size).outcome)
    assert r == "EINVAL"


def test_clone3_size_over_a_page_is_e2big(kernel: Kernel, in_child) -> None:
    def run() -> str:
        buf = kernel.buf(8192)
        kernel.ffi.cast("struct clone_args *", buf).exit_signal = signal.SIGCHLD
        return _clone3(kernel, buf, 4097).outcome

    assert in_child(run) == "E2BIG"


def test_clone3_unknown_nonzero_tail_is_e2big(kernel: Kernel, in_child) -> None:
    def run() -> str:
        size = kernel.ffi.sizeof("struct clone_args")
        buf = kernel.buf(size + 8)
        kernel.ffi.cast("struct clone_args *", buf).exit_signal = signal.SIGCHLD
        buf[size] = b"\x01"
        return _clone3(kernel, buf, size + 8).outcome

    assert in_child(run) == "E2BIG"


def test_clone3_larger_struct_with_zero_tail_is_accepted(kernel: Kernel, in_child) -> None:
    def run() -> int:
        size = kernel.ffi.sizeof("struct clone_args")
        buf = kernel.buf(size + 8)
        kernel.ffi.cast("struct clone_args *", buf).exit_signal = signal.SIGCHLD
        pid = _clone3(kernel, buf, size + 8, body=lambda: 4).unwrap()
        return forking.exit_code(kernel, pid)

    assert in_child(run) == 4


def test_clone3_exit_signal_in_flags_is_einval(kernel: Kernel, in_child) -> None:
    """clone3 takes the exit signal only in its own field, never in the CSIGNAL bits."""
    args = _args(kernel, flags=signal.SIGCHLD, exit_signal=signal.SIGCHLD)
    assert in_child(lambda: _clone3(kernel, args).outcome) == "EINVAL"


def test_clone3_exit_signal_beyond_nsig_is_einval(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: _clone3(kernel, _args(kernel, exit_signal=65)).outcome) == "EINVAL"


def test_clone3_stack_size_without_stack_is_einval(kernel: Kernel, in_child) -> None:
    args = _args(kernel, exit_signal=signal.SIGCHLD, stack_size=65536)
    assert in_child(lambda: _clone3(kernel, args).outcome) == "EINVAL"


def test_clone3_unknown_flag_is_einval(kernel: Kernel, in_child) -> None:
    args = _args(kernel, flags=1 << 40, exit_signal=signal.SIGCHLD)
    assert in_child(lambda: _clone3(kernel, args).outcome) == "EINVAL"


def test_clone3_stack_without_stack_size_is_einval(kernel: Kernel, in_child) -> None:
    def run() -> str:
        stack = kernel.buf(65536)
        args = _args(kernel, exit_signal=signal.SIGCHLD, stack=kernel.address(stack))
        return _clone3(kernel, args).outcome

    assert in_child(run) == "EINVAL"


@pytest.mark.min_kernel("5.5")
def test_clone3_clear_sighand_with_sighand_is_einval(kernel: Kernel, in_child) -> None:
    flags = kernel.CLONE_CLEAR_SIGHAND | kernel.CLONE_SIGHAND | kernel.CLONE_VM
    args = _args(kernel, flags=flags, exit_signal=signal.SIGCHLD)
    assert in_child(lambda: _clone3(kernel, args).outcome) == "EINVAL"


@pytest.mark.min_kernel("5.5")
def test_clone3_clear_sighand_resets_handlers_but_keeps_ignored(kernel: Kernel, in_child) -> None:
    """The child's caught signals go back to SIG_DFL; ignored ones stay ignored
    (kernel/fork.c copy_sighand: flush_signal_handlers(p, 0))."""

    def handler(sig: int) -> int:  # the kernel's sa_handler: the first word of its struct
        old = kernel.new("unsigned long[8]")
        kernel.rt_sigaction(sig, None, old, 8).unwrap()
        return int(old[0])

    def child() -> int:
        caught, ignored = handler(signal.SIGUSR1), handler(signal.SIGUSR2)
        return (caught != kernel.SIG_DFL) | (ignored != kernel.SIG_IGN) << 1

    def run() -> tuple[int, int]:
        signal.signal(signal.SIGUSR1, lambda *_: None)
        signal.signal(signal.SIGUSR2, signal.SIG_IGN)
        args = _args(kernel, flags=kernel.CLONE_CLEAR_SIGHAND, exit_signal=signal.SIGCHLD)
        pid = _clone3(kernel, args, body=child).unwrap()
        return handler(signal.SIGUSR1) != kernel.SIG_DFL, forking.exit_code(kernel, pid)

    assert in_child(run) == (True, 0)  # 1: USR1 still caught, 2: USR2 no longer ignored


@pytest.mark.min_kernel("5.5")
def test_clone3_set_tid_size_beyond_the_nesting_limit_is_einval(kernel: Kernel, in_child) -> None:
    """At most MAX_PID_NS_LEVEL (32) pids, one per pid namespace level."""

    assert in_child(lambda: _set_tid(kernel, [0] * 33, 33).outcome) == "EINVAL"


@pytest.mark.min_kernel("5.5")
def test_clone3_set_tid_size_without_array_is_einval(kernel: Kernel, in_child) -> None:
    args = _args(kernel, exit_signal=signal.SIGCHLD, set_tid=0, set_tid_size=1)
    assert in_child(lambda: _clone3(kernel, args).outcome) == "EINVAL"


@pytest.mark.min_kernel("5.5")
def test_clone3_set_tid_array_with_zero_size_is_einval(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: _set_tid(kernel, [forking.missing_pid()], 0).outcome) == "EINVAL"


@pytest.mark.root
@pytest.mark.min_kernel("5.5")
def test_clone3_set_tid_already_in_use_is_eexist(kernel: Kernel, in_child) -> None:
    """Root (CAP_CHECKPOINT_RESTORE) may choose the child's pid, but not one taken: the
    caller's own."""

    assert in_child(lambda: _set_tid(kernel, [os.getpid()], 1).outcome) == "EEXIST"


@pytest.mark.min_kernel("5.7")
def test_clone3_into_cgroup_beyond_int_max_is_einval(kernel: Kernel, in_child) -> None:
    args = _args(kernel, flags=kernel.CLONE_INTO_CGROUP, exit_signal=signal.SIGCHLD, cgroup=1 << 31)
    assert in_child(lambda: _clone3(kernel, args).outcome) == "EINVAL"


def test_clone3_parent_with_an_exit_signal_is_einval(kernel: Kernel, in_child) -> None:
    """A CLONE_PARENT child reports to the caller's parent, which chose no exit signal
    for it: clone3 wants exit_signal 0 there. Tried from a middle process, so that a
    kernel which let it through would leave the stray sibling with in_child to reap."""

    def middle() -> int:
        args = _args(kernel, flags=kernel.CLONE_PARENT, exit_signal=signal.SIGCHLD)
        return 0 if _clone3(kernel, args).errno == "EINVAL" else 1

    def run() -> int:
        code = forking.exit_code(kernel, forking.fork(kernel, middle))
        while kernel.wait4(-1, kernel.new("int *"), 0, None).ok:  # a stray sibling, if any
            pass
        return code

    assert in_child(run) == 0


@pytest.mark.min_kernel("5.5")
@pytest.mark.as_user("root may choose a child's pid (CAP_CHECKPOINT_RESTORE, CAP_SYS_ADMIN)")
def test_clone3_set_tid_as_a_user_is_eperm(kernel: Kernel, in_child) -> None:
    """kernel/pid.c alloc_pid: a free pid, in range, asked for without
    CAP_CHECKPOINT_RESTORE in the pid namespace's user namespace."""

    free = forking.missing_pid() - 1  # the highest pid there may be: free, or a skip
    if os.path.exists(f"/proc/{free}"):
        pytest.skip(f"pid {free} is taken: no free pid to ask for")

    def run() -> str:
        r = _set_tid(kernel, [free], 1)
        if r.ok:
            forking.wait(kernel, r.value)
        return r.outcome

    assert in_child(run) == "EPERM"
