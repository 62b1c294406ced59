"""exit(2) and exit_group(2): the status a parent sees is the code's low 8 bits."""

import os

import pytest

from syscalls import forking
from syscalls.kernel import Kernel


@pytest.mark.parametrize(
    ("code", "seen"), [(0, 0), (1, 1), (255, 255), (256, 0), (257, 1), (-1, 255)]
)
def test_exit_group_code_is_truncated_to_8_bits(
    kernel: Kernel, in_child, code: int, seen: int
) -> None:
    status = in_child(
        lambda: forking.wait(kernel, forking.fork(kernel, lambda: kernel.exit_group(code) and 100))
    )
    assert os.WIFEXITED(status)
    assert os.WEXITSTATUS(status) == seen


def test_exit_of_the_only_thread_ends_the_process(kernel: Kernel, in_child) -> None:
    status = in_child(
        lambda: forking.wait(kernel, forking.fork(kernel, lambda: kernel.exit(3) and 100))
    )
    assert os.WIFEXITED(status)
    assert os.WEXITSTATUS(status) == 3
