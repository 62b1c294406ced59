"""PTRACE_PEEKDATA and PTRACE_POKEDATA: words of the tracee's memory.

A cffi buffer allocated before fork has the same address in the child, whose copy
is what the tracer reads and writes. The raw syscall stores a peeked word through
`data` and returns 0; it is libc's wrapper that returns the word.
"""

import os

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

WORD = 0x1122334455667788  # cut to a word of the arch's long (0x55667788 on i386)


def _word(kernel: Kernel) -> int:
    return WORD & ((1 << 8 * kernel.ffi.sizeof("long")) - 1)


def test_peekdata_stores_the_word_through_data(kernel: Kernel, ptrace, in_child) -> None:
    def run() -> tuple[int, int]:
        cell = kernel.new("unsigned long *", _word(kernel))
        with ptrace.traceme() as pid:
            cell[0] = 0  # the parent's copy changes; the tracee's does not
            out = kernel.new("unsigned long *")
            ret = ptrace("PTRACE_PEEKDATA", pid, cell, out).unwrap()
            return ret, out[0]

    assert in_child(run) == (0, _word(kernel))


def test_pokedata_changes_the_tracees_memory(kernel: Kernel, ptrace, in_child) -> None:
    def run() -> tuple[int, int]:
        cell = kernel.new("unsigned long *", 1)
        with ptrace.traceme(lambda: cell[0] & 0xFF) as pid:  # exit code from its copy
            ptrace("PTRACE_POKEDATA", pid, cell, 0xAB).unwrap()
            back = kernel.new("unsigned long *")
            ptrace("PTRACE_PEEKDATA", pid, cell, back).unwrap()
            ptrace("PTRACE_CONT", pid, 0, 0).unwrap()
            status = ptrace.wait(pid)
            return back[0], os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1

    assert in_child(run) == (0xAB, 0xAB)


def test_pokedata_writes_every_byte_of_the_word(kernel: Kernel, ptrace, in_child) -> None:
    def run() -> int:
        cell = kernel.new("unsigned long *", 0)
        with ptrace.traceme() as pid:
            ptrace("PTRACE_POKEDATA", pid, cell, _word(kernel)).unwrap()
            back = kernel.new("unsigned long *")
            ptrace("PTRACE_PEEKDATA", pid, cell, back).unwrap()
            return back[0]

    assert in_child(run) == _word(kernel)


def test_peekdata_at_an_unmapped_address_is_eio(kernel: Kernel, ptrace, in_child) -> None:
    def run() -> str:
        with ptrace.traceme() as pid:
            return ptrace("PTRACE_PEEKDATA", pid, 0, kernel.new("unsigned long *")).outcome

    assert in_child(run) == "EIO"


def test_pokedata_at_an_unmapped_address_is_eio(kernel: Kernel, ptrace, in_child) -> None:
    def run() -> str:
        with ptrace.traceme() as pid:
            return ptrace("PTRACE_POKEDATA", pid, 0, 1).outcome

    assert in_child(run) == "EIO"
