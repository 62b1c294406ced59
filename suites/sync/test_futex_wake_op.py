"""futex(2) FUTEX_WAKE_OP: an atomic operation on a second word, then a wake of the first
word's waiters and, if a comparison of the second word's old value holds, of its own.

The encoded op (include/uapi/linux/futex.h FUTEX_OP): bits 28-31 the operation (with
FUTEX_OP_OPARG_SHIFT, 8, meaning "oparg is a shift count: use 1 << oparg"), 24-27 the
comparison, 12-23 oparg, 0-11 cmparg. Both 12-bit arguments are sign-extended and the
comparison is of signed ints (kernel/futex/waitwake.c futex_atomic_op_inuser). The
nr_wake2 count travels in the timeout argument. Each op and each comparison is a case.
"""

import operator

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

SHIFT = 8  # FUTEX_OP_OPARG_SHIFT, as the op field holds it


def _encode(kernel: Kernel, op: str, oparg: int, cmp: str = "EQ", cmparg: int = 0, shift=False):
    code = getattr(kernel, f"FUTEX_OP_{op}") | (SHIFT if shift else 0)
    return (
        code << 28
        | getattr(kernel, f"FUTEX_OP_CMP_{cmp}") << 24
        | (oparg & 0xFFF) << 12
        | (cmparg & 0xFFF)
    )


def _wake_op(kernel: Kernel, a, b, op: int, nr_wake: int = 1, nr_wake2: int = 1):
    return kernel.futex(a, kernel.FUTEX_WAKE_OP_PRIVATE, nr_wake, nr_wake2, b, op)


# (operation, oparg, with FUTEX_OP_OPARG_SHIFT, old value, new value)
OPS = [
    ("SET", 5, False, 0x0F, 5),
    ("SET", 5, True, 0x0F, 32),  # 1 << 5
    ("ADD", 5, False, 10, 15),
    ("ADD", 4, True, 10, 26),  # 10 + (1 << 4)
    ("ADD", -3, False, 10, 7),  # oparg is sign-extended from 12 bits
    ("OR", 0b0010, False, 0b0101, 0b0111),
    ("OR", 3, True, 0b0101, 0b1101),
    ("ANDN", 0x0F, False, 0xFF, 0xF0),
    ("ANDN", 0, True, 0xFF, 0xFE),
    ("XOR", 0b1010, False, 0b1100, 0b0110),
    ("XOR", 2, True, 0b1100, 0b1000),
]


@pytest.mark.parametrize(("op", "oparg", "shift", "old", "new"), OPS)
def test_futex_wake_op_operation_sets_the_second_word(
    kernel: Kernel, futex, op: str, oparg: int, shift: bool, old: int, new: int
) -> None:
    a, b = futex.word(0), futex.word(old)
    assert _wake_op(kernel, a, b, _encode(kernel, op, oparg, shift=shift)).unwrap() == 0
    assert b[0] == new


CMPS = {
    "EQ": operator.eq,
    "NE": operator.ne,
    "LT": operator.lt,
    "LE": operator.le,
    "GT": operator.gt,
    "GE": operator.ge,
}
CMPARG = 5


def _woken_on_b(kernel: Kernel, futex, in_child, old: int, cmp: str, cmparg: int) -> int:
    """WAKE_OP with a waiter queued on b (holding `old`) and none on a: how many it woke."""

    def run() -> tuple[int, str]:
        a, b = futex.word(0), futex.word(old & 0xFFFFFFFF)
        waiter = futex.in_thread(lambda: futex.wait(b, old & 0xFFFFFFFF).outcome)
        futex.until_waiting(waiter.tid, b)
        woken = _wake_op(kernel, a, b, _encode(kernel, "SET", 0, cmp, cmparg)).unwrap()
        if not woken:
            futex.wake(b).unwrap()  # the comparison failed: let the waiter go
        return woken, waiter.join()

    woken, outcome = in_child(run)
    assert outcome == "ok"
    return woken


@pytest.mark.parametrize("old", [4, 5, 6])  # below, at and above CMPARG
@pytest.mark.parametrize("cmp", ["EQ", "NE", "LT", "LE", "GT", "GE"])
def test_futex_wake_op_comparison_decides_whether_the_second_waiters_wake(
    kernel: Kernel, futex, in_child, cmp: str, old: int
) -> None:
    expected = 1 if CMPS[cmp](old, CMPARG) else 0
    assert _woken_on_b(kernel, futex, in_child, old, cmp, CMPARG) == expected


def test_futex_wake_op_compares_signed_values(kernel: Kernel, futex, in_child) -> None:
    """-2 < -1 as ints (0xfffffffe > 0xfff as unsigned): the waiter on b is woken."""
    assert _woken_on_b(kernel, futex, in_child, -2, "LT", -1) == 1


def test_futex_wake_op_counts_waiters_woken_on_both_words(kernel: Kernel, futex, in_child) -> None:
    def run() -> tuple[int, list[str]]:
        a, b = futex.word(0), futex.word(0)
        on_a = futex.in_thread(lambda: futex.wait(a, 0).outcome)
        on_b = futex.in_thread(lambda: futex.wait(b, 0).outcome)
        futex.until_waiting(on_a.tid, a)
        futex.until_waiting(on_b.tid, b)
        woken = _wake_op(kernel, a, b, _encode(kernel, "SET", 1, "EQ", 0)).unwrap()
        return woken, [on_a.join(), on_b.join()]

    assert in_child(run) == (2, ["ok", "ok"])


def test_futex_wake_op_nr_wake2_zero_still_wakes_one(kernel: Kernel, futex, in_child) -> None:
    """The count is checked after each wake-up (`if (++op_ret >= nr_wake2) break`), so
    0 acts as 1, as FUTEX_WAKE's own count does."""

    def run() -> tuple[int, int, str]:
        a, b = futex.word(0), futex.word(0)
        waiter = futex.in_thread(lambda: futex.wait(b, 0).outcome)
        futex.until_waiting(waiter.tid, b)
        op = _encode(kernel, "ADD", 0, "EQ", 0)  # b stays 0, the comparison holds
        woken = _wake_op(kernel, a, b, op, nr_wake2=0).unwrap()
        return woken, futex.wake(b).unwrap(), waiter.join()

    assert in_child(run) == (1, 0, "ok")
