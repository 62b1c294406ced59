"""sigaltstack(2): the alternate signal stack, set and read back in a child.

pytest's faulthandler installs an alternate stack of its own, so there is no
"untouched default" to assert on here; tests set their own and read it back.
"""

import threading

import pytest

from syscalls import forking
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

# include/uapi/linux/signal.h and arch/x86/include/uapi/asm/signal.h; not in the table.
SIZE = 64 * 1024


def _query(kernel: Kernel):
    old = kernel.new("stack_t *")
    kernel.sigaltstack(None, old).unwrap()
    return old


def _install(kernel: Kernel, size: int = SIZE, flags: int = 0):
    mem = kernel.buf(size)
    new = kernel.new("stack_t *", (mem, flags, size))
    return kernel.sigaltstack(new, None), mem


def test_sigaltstack_set_is_read_back(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int, int]:
        r, mem = _install(kernel)
        r.unwrap()
        got = _query(kernel)
        return (
            kernel.address(got.ss_sp) - kernel.address(mem),
            got.ss_size,
            got.ss_flags,
        )

    assert in_child(run) == (0, SIZE, 0)


def test_sigaltstack_disable_is_read_back(kernel: Kernel, in_child) -> None:
    def run() -> int:
        _install(kernel)[0].unwrap()
        kernel.sigaltstack(
            kernel.new("stack_t *", (kernel.ffi.NULL, kernel.SS_DISABLE, 0)), None
        ).unwrap()
        return _query(kernel).ss_flags

    assert in_child(run) == kernel.SS_DISABLE


def test_sigaltstack_smaller_than_minimum_is_enomem(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: _install(kernel, kernel.MINSIGSTKSZ // 2)[0].outcome) == "ENOMEM"


def test_sigaltstack_unknown_flag_is_einval(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: _install(kernel, flags=0x10)[0].outcome) == "EINVAL"


def test_sigaltstack_outside_a_handler_is_not_onstack(kernel: Kernel, in_child) -> None:
    def run() -> int:
        _install(kernel)[0].unwrap()
        return _query(kernel).ss_flags & kernel.SS_ONSTACK

    assert in_child(run) == 0


def test_sigaltstack_is_inherited_by_fork(kernel: Kernel, in_child) -> None:
    def run() -> int:
        _install(kernel)[0].unwrap()
        pid = forking.fork(kernel, lambda: 0 if _query(kernel).ss_size == SIZE else 1)
        return forking.exit_code(kernel, pid)

    assert in_child(run) == 0


def test_a_new_thread_starts_without_the_alternate_stack(kernel: Kernel, in_child) -> None:
    """A thread shares the memory the stack is in but not the stack: clone with
    CLONE_VM and without CLONE_VFORK gives it none (kernel/fork.c: sas_ss_reset)."""

    def run() -> tuple[int, int, int]:
        _install(kernel)[0].unwrap()
        seen: list[tuple[int, int]] = []

        def thread() -> None:
            got = _query(kernel)
            seen.append((got.ss_flags, got.ss_size))

        t = threading.Thread(target=thread)
        t.start()
        t.join()
        return *seen[0], _query(kernel).ss_size

    flags, size, own_size = in_child(run)
    assert flags & kernel.SS_DISABLE and size == 0
    assert own_size == SIZE  # the creating thread keeps its own


def test_sigaltstack_disable_ignores_size_and_pointer(kernel: Kernel, in_child) -> None:
    """With SS_DISABLE the size is not checked against MINSIGSTKSZ and the stack is
    recorded as NULL and 0 (kernel/signal.c: do_sigaltstack)."""

    def run() -> tuple[str, int, int, int]:
        r0, mem = _install(kernel)
        r0.unwrap()
        tiny = kernel.buf(16)
        r = kernel.sigaltstack(kernel.new("stack_t *", (tiny, kernel.SS_DISABLE, 16)), None)
        got = _query(kernel)
        del mem
        return r.outcome, kernel.address(got.ss_sp), got.ss_size, got.ss_flags

    assert in_child(run) == ("ok", 0, 0, kernel.SS_DISABLE)


def test_sigaltstack_ss_onstack_mode_is_accepted_as_enable(kernel: Kernel, in_child) -> None:
    """SS_ONSTACK is accepted as a mode for old programs and sets the stack like 0."""

    def run() -> tuple[str, int, int]:
        r, _mem = _install(kernel, flags=kernel.SS_ONSTACK)
        got = _query(kernel)
        return r.outcome, got.ss_size, got.ss_flags & (kernel.SS_ONSTACK | kernel.SS_DISABLE)

    assert in_child(run) == ("ok", SIZE, 0)


@pytest.mark.min_kernel("4.7")
def test_sigaltstack_autodisarm_is_read_back(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        r, _mem = _install(kernel, flags=kernel.SS_AUTODISARM - (1 << 32))  # ss_flags is an int
        r.unwrap()
        got = _query(kernel)
        return got.ss_size, got.ss_flags & 0xFFFFFFFF

    assert in_child(run) == (SIZE, kernel.SS_AUTODISARM)


def test_sigaltstack_onstack_and_disable_together_is_einval(kernel: Kernel, in_child) -> None:
    flags = kernel.SS_ONSTACK | kernel.SS_DISABLE
    assert in_child(lambda: _install(kernel, flags=flags)[0].outcome) == "EINVAL"
