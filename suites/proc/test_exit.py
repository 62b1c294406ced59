"""exit(2) and exit_group(2): the status a parent sees is the code's low 8 bits."""

import os
import threading
import time

import pytest

from syscalls import forking
from syscalls.child import TIME_SCALE
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


@pytest.mark.os("linux")
def test_exit_group_from_a_thread_ends_the_process_with_its_code(kernel: Kernel, in_child):
    def child() -> int:
        threading.Thread(target=lambda: kernel.exit_group(7)).start()
        time.sleep(30)  # ended by the thread long before
        return 100

    status = in_child(lambda: forking.wait(kernel, forking.fork(kernel, child)))
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 7


@pytest.mark.os("linux")
def test_exit_of_the_main_thread_leaves_the_others_running(kernel: Kernel, in_child) -> None:
    """exit(2) ends only the calling thread: the process goes on in its other thread,
    which reports through a pipe and then ends the process with its own code."""

    def run() -> tuple[int, bytes]:
        r, w = os.pipe()

        def later() -> None:
            deadline = time.monotonic() + 10 * TIME_SCALE
            while not _main_thread_gone() and time.monotonic() < deadline:
                time.sleep(0.001)
            os.write(w, b"still here" if _main_thread_gone() else b"main thread did not end")
            kernel.exit_group(5)

        def child() -> int:
            threading.Thread(target=later).start()
            kernel.exit(0)  # this thread only
            return 100

        status = forking.wait(kernel, forking.fork(kernel, child))
        os.close(w)
        return status, os.read(r, 64)

    status, said = in_child(run)
    assert said == b"still here"
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 5


def _main_thread_gone() -> bool:
    """The process's first thread has exited: a zombie (Z) until the whole group has."""
    with open(f"/proc/self/task/{os.getpid()}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] in "ZX"
