"""getcpu(2): the CPU and NUMA node the caller runs on (Linux only)."""

import os

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")


def test_getcpu_reports_a_cpu_this_process_may_use(kernel: Kernel) -> None:
    cpu, node = kernel.new("unsigned int *"), kernel.new("unsigned int *")
    kernel.getcpu(cpu, node, None).unwrap()
    assert cpu[0] < os.cpu_count()
    assert node[0] < 1024


def test_getcpu_follows_an_affinity_of_one_cpu(kernel: Kernel, in_child) -> None:
    target = max(os.sched_getaffinity(0))

    def run() -> int:
        os.sched_setaffinity(0, {target})
        cpu = kernel.new("unsigned int *")
        kernel.getcpu(cpu, None, None).unwrap()
        return cpu[0]

    assert in_child(run) == target


def test_getcpu_accepts_null_pointers(kernel: Kernel) -> None:
    kernel.getcpu(None, None, None).unwrap()


def test_getcpu_writes_the_node_over_what_was_there(kernel: Kernel) -> None:
    """*node starts as 0xffffffff, which is no node's number (MAX_NUMNODES is at most
    1024): getcpu must store the node, as it stores the CPU."""
    node = kernel.new("unsigned int *", 0xFFFFFFFF)
    kernel.getcpu(None, node, None).unwrap()
    assert node[0] < 1024
