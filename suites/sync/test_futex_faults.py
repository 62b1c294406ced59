"""futex(2) and bad addresses: which operations fault on which word (LTP futex_wait06,
futex_wake05, futex_cmp_requeue03).

What faults depends on what the operation reads (kernel/futex/core.c get_futex_key):
- every op checks access_ok() first, so a word above user space is EFAULT everywhere;
- a shared (non-private) op looks the page up to key it, so an unmapped or PROT_NONE
  word is EFAULT even for FUTEX_WAKE; a private op keys by address alone, and
  FUTEX_WAKE_PRIVATE never reads the word: on an unmapped page it wakes nobody, 0;
- FUTEX_WAIT reads the word (EFAULT either way) and copies its timeout before anything
  else, so a bad timeout is EFAULT whatever the word holds;
- FUTEX_WAKE_OP writes the second word: a read-only page there is EFAULT.
"""

import pytest

from syscalls.kernel import Kernel

pytestmark = [pytest.mark.os("linux"), pytest.mark.requires("fault_handler")]

WORD_KINDS = ["unmapped", "prot_none"]


def _bad(kernel: Kernel, bad_memory, kind: str) -> int:
    if kind == "unmapped":
        return bad_memory.unmapped()
    if kind == "above_user":
        addr = bad_memory.above_user()
        if addr is None:
            pytest.skip("a 32-bit arch has no address above user space to name")
        return addr
    return bad_memory.page(kernel.PROT_NONE)


@pytest.mark.parametrize("kind", WORD_KINDS)
@pytest.mark.parametrize("op", ["FUTEX_WAIT", "FUTEX_WAIT_PRIVATE"])
def test_futex_wait_on_a_bad_word_is_efault(
    kernel: Kernel, futex, bad_memory, op: str, kind: str
) -> None:
    assert futex.wait(_bad(kernel, bad_memory, kind), 0, op).errno == "EFAULT"


@pytest.mark.parametrize("op", ["FUTEX_WAIT_PRIVATE", "FUTEX_WAIT_BITSET_PRIVATE"])
def test_futex_wait_with_an_unmapped_timeout_is_efault(
    kernel: Kernel, futex, bad_memory, op: str
) -> None:
    word = futex.word(0)  # the value matches: only the timeout can fail it
    r = kernel.futex(word, getattr(kernel, op), 0, bad_memory.unmapped(), None, 1)
    assert r.errno == "EFAULT"


@pytest.mark.parametrize("kind", WORD_KINDS)
def test_futex_wake_shared_on_a_bad_word_is_efault(
    kernel: Kernel, futex, bad_memory, kind: str
) -> None:
    assert futex.wake(_bad(kernel, bad_memory, kind), 1, "FUTEX_WAKE").errno == "EFAULT"


@pytest.mark.parametrize("kind", WORD_KINDS)
def test_futex_wake_private_never_reads_the_word(
    kernel: Kernel, futex, bad_memory, kind: str
) -> None:
    assert futex.wake(_bad(kernel, bad_memory, kind), 1).unwrap() == 0


@pytest.mark.parametrize("op", ["FUTEX_WAKE", "FUTEX_WAKE_PRIVATE"])
def test_futex_wake_above_user_space_is_efault(kernel: Kernel, futex, bad_memory, op: str) -> None:
    assert futex.wake(_bad(kernel, bad_memory, "above_user"), 1, op).errno == "EFAULT"


@pytest.mark.parametrize("kind", WORD_KINDS)
@pytest.mark.parametrize("which", ["uaddr", "uaddr2"])
def test_futex_cmp_requeue_with_a_bad_word_is_efault(
    kernel: Kernel, futex, bad_memory, which: str, kind: str
) -> None:
    good, bad = futex.word(0), _bad(kernel, bad_memory, kind)
    a, b = (bad, good) if which == "uaddr" else (good, bad)
    assert kernel.futex(a, kernel.FUTEX_CMP_REQUEUE, 1, 1, b, 0).errno == "EFAULT"


@pytest.mark.parametrize("kind", ["unmapped", "read_only"])
def test_futex_wake_op_on_a_second_word_it_cannot_write_is_efault(
    kernel: Kernel, futex, bad_memory, kind: str
) -> None:
    b = bad_memory.unmapped() if kind == "unmapped" else bad_memory.page(kernel.PROT_READ)
    op = (kernel.FUTEX_OP_SET << 28) | (kernel.FUTEX_OP_CMP_EQ << 24) | (1 << 12)
    r = kernel.futex(futex.word(0), kernel.FUTEX_WAKE_OP_PRIVATE, 1, 1, b, op)
    assert r.errno == "EFAULT"


def test_futex_lock_pi_on_an_unmapped_word_is_efault(kernel: Kernel, bad_memory) -> None:
    word = bad_memory.unmapped()
    assert kernel.futex(word, kernel.FUTEX_LOCK_PI_PRIVATE, 0, None, None, 0).errno == "EFAULT"
