"""migrate_pages(2), move_pages(2): moving a process's pages between NUMA nodes, here from
node 0 to node 0 (every NUMA kernel has it; without CONFIG_NUMA or CONFIG_MIGRATION the
calls are ENOSYS, a skip).

migrate_pages returns how many pages it could not move. move_pages with no target nodes
only reports where each page is: its node, or -EFAULT for an address not mapped; a
page mapped but never touched has none (6.1 reports -EFAULT, as for a hole:
follow_page with FOLL_DUMP; later kernels -ENOENT). Node masks come from the mm
area's `nodemask` fixture.
"""

import os

import pytest

from syscalls import forking
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

AS_USER = pytest.mark.as_user("root has CAP_SYS_NICE")
ROOT_ONLY = pytest.mark.root
ENOENT, EFAULT = 2, 14  # as status values, negated


def _status(kernel: Kernel, addrs: list[int], nodes: list[int] | None = None, flags: int = 0):
    pages = kernel.new("void *[]", [kernel.ffi.cast("void *", a) for a in addrs])
    status = kernel.new("int[]", [99] * len(addrs))
    targets = kernel.new("int[]", nodes) if nodes is not None else None
    r = kernel.move_pages(0, len(addrs), pages, targets, status, flags)
    return r, list(status)


def test_migrate_pages_node_0_to_node_0_moves_nothing_and_leaves_none(
    kernel: Kernel, nodemask
) -> None:
    assert kernel.migrate_pages(0, nodemask.maxnode, nodemask({0}), nodemask({0})).unwrap() == 0


def test_migrate_pages_of_own_pid_is_that_of_pid_0(kernel: Kernel, nodemask) -> None:
    r = kernel.migrate_pages(os.getpid(), nodemask.maxnode, nodemask({0}), nodemask({0}))
    assert r.unwrap() == 0


def test_migrate_pages_of_a_missing_pid_is_esrch(kernel: Kernel, nodemask) -> None:
    r = kernel.migrate_pages(forking.missing_pid(), nodemask.maxnode, nodemask({0}), nodemask({0}))
    assert r.errno == "ESRCH"


@ROOT_ONLY
def test_migrate_pages_to_a_node_not_online_is_einval(kernel: Kernel, nodemask) -> None:
    new = nodemask({nodemask.offline()})
    assert kernel.migrate_pages(0, nodemask.maxnode, nodemask({0}), new).errno == "EINVAL"


@AS_USER
def test_migrate_pages_to_a_node_outside_the_cpuset_as_a_user_is_eperm(
    kernel: Kernel, nodemask
) -> None:
    new = nodemask({nodemask.offline()})
    assert kernel.migrate_pages(0, nodemask.maxnode, nodemask({0}), new).errno == "EPERM"


@AS_USER
def test_migrate_pages_of_another_users_process_is_eperm(kernel: Kernel, nodemask) -> None:
    r = kernel.migrate_pages(1, nodemask.maxnode, nodemask({0}), nodemask({0}))
    assert r.errno == "EPERM"


def test_move_pages_without_nodes_reports_each_pages_node(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(3 * page)
    kernel.ffi.cast("char *", addr)[0] = b"x"  # only the first page is touched
    maps.unmap(addr + 2 * page, page)
    r, status = _status(kernel, [addr, addr + page, addr + 2 * page])
    assert r.unwrap() == 0
    assert status[0] == 0
    assert status[1] in (-ENOENT, -EFAULT)  # never touched: 6.1 says EFAULT, later ENOENT
    assert status[2] == -EFAULT


def test_move_pages_to_node_0_leaves_them_there(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(2 * page)
    kernel.ffi.memmove(kernel.ffi.cast("char *", addr), b"y" * 2 * page, 2 * page)
    r, status = _status(kernel, [addr, addr + page], nodes=[0, 0], flags=kernel.MPOL_MF_MOVE)
    assert r.unwrap() == 0
    assert status == [0, 0]
    assert kernel.bytes(kernel.ffi.cast("char *", addr), 2 * page) == b"y" * 2 * page


def test_move_pages_to_a_node_not_online_is_enodev(
    kernel: Kernel, maps, page: int, nodemask
) -> None:
    addr = maps.anon(page)
    kernel.ffi.cast("char *", addr)[0] = b"x"
    r, _ = _status(kernel, [addr], nodes=[nodemask.offline()], flags=kernel.MPOL_MF_MOVE)
    assert r.errno == "ENODEV"


def test_move_pages_to_a_negative_node_is_enodev(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(page)
    r, _ = _status(kernel, [addr], nodes=[-1], flags=kernel.MPOL_MF_MOVE)
    assert r.errno == "ENODEV"


def test_move_pages_unknown_flags_are_einval(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(page)
    assert _status(kernel, [addr], flags=kernel.MPOL_MF_STRICT)[0].errno == "EINVAL"


@AS_USER
def test_move_pages_move_all_as_a_user_is_eperm(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(page)
    r, _ = _status(kernel, [addr], nodes=[0], flags=kernel.MPOL_MF_MOVE_ALL)
    assert r.errno == "EPERM"


def test_move_pages_of_a_missing_pid_is_esrch(kernel: Kernel) -> None:
    pages = kernel.new("void *[1]")
    status = kernel.new("int[1]")
    assert kernel.move_pages(forking.missing_pid(), 1, pages, None, status, 0).errno == "ESRCH"


def test_move_pages_of_no_pages_is_zero(kernel: Kernel) -> None:
    assert kernel.move_pages(0, 0, None, None, None, 0).unwrap() == 0
