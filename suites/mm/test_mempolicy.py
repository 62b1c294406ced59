"""set_mempolicy(2), get_mempolicy(2), mbind(2), set_mempolicy_home_node(2): NUMA
memory policies of a process and of address ranges, on node 0 (every NUMA kernel has
it; a kernel without CONFIG_NUMA answers ENOSYS, a skip).

Node masks come from the mm area's `nodemask` fixture. Process policies change only in
a child; range policies are set on the test's own mappings.
"""

from typing import Any

import pytest

from syscalls.kernel import Kernel

pytestmark = [pytest.mark.os("linux")]

AS_USER = pytest.mark.as_user("root may move pages of any process")


def _get(nm: Any, flags: int = 0, addr: int = 0) -> tuple[int, set[int]]:
    mode, mask = nm.kernel.new("int *"), nm()
    nm.kernel.get_mempolicy(mode, mask, nm.maxnode, addr, flags).unwrap()
    return int(mode[0]), nm.members(mask)


def _set(nm: Any, mode: int, nodes=()) -> str:
    mask, maxnode = (nm(nodes), nm.maxnode) if nodes is not None else (None, 0)
    return nm.kernel.set_mempolicy(mode, mask, maxnode).outcome


def _mbind(nm: Any, addr: int, length: int, mode: int, nodes=(), flags: int = 0) -> str:
    return nm.kernel.mbind(addr, length, mode, nm(nodes), nm.maxnode, flags).outcome


def test_get_mempolicy_of_a_process_that_set_none_is_default(
    kernel: Kernel, in_child, nodemask
) -> None:
    assert in_child(lambda: _get(nodemask)) == (kernel.MPOL_DEFAULT, set())


@pytest.mark.parametrize("mode", ["MPOL_BIND", "MPOL_PREFERRED", "MPOL_INTERLEAVE"])
def test_set_mempolicy_on_node_0_is_read_back(
    kernel: Kernel, in_child, mode: str, nodemask
) -> None:
    def run() -> tuple[str, tuple[int, set[int]]]:
        return _set(nodemask, getattr(kernel, mode), {0}), _get(nodemask)

    assert in_child(run) == ("ok", (getattr(kernel, mode), {0}))


def test_set_mempolicy_local_takes_no_nodes(kernel: Kernel, in_child, nodemask) -> None:
    def run() -> tuple[str, int]:
        return _set(nodemask, kernel.MPOL_LOCAL, ()), _get(nodemask)[0]

    assert in_child(run) == ("ok", kernel.MPOL_LOCAL)


def test_set_mempolicy_default_puts_the_default_back(kernel: Kernel, in_child, nodemask) -> None:
    def run() -> tuple[int, set[int]]:
        _set(nodemask, kernel.MPOL_BIND, {0})
        _set(nodemask, kernel.MPOL_DEFAULT, None)
        return _get(nodemask)

    assert in_child(run) == (kernel.MPOL_DEFAULT, set())


def test_set_mempolicy_static_nodes_flag_is_reported_with_the_mode(
    kernel: Kernel, in_child, nodemask
) -> None:
    mode = kernel.MPOL_BIND | kernel.MPOL_F_STATIC_NODES
    assert in_child(lambda: (_set(nodemask, mode, {0}), _get(nodemask)[0])) == ("ok", mode)


@pytest.mark.parametrize(
    ("mode", "nodes"),
    [
        ("MPOL_BIND", ()),
        ("MPOL_INTERLEAVE", ()),
        ("MPOL_DEFAULT", (0,)),
        ("MPOL_LOCAL", (0,)),
    ],
    ids=["bind-no-nodes", "interleave-no-nodes", "default-with-nodes", "local-with-nodes"],
)
def test_set_mempolicy_with_nodes_its_mode_cannot_take_is_einval(
    kernel: Kernel, in_child, mode: str, nodes: tuple, nodemask
) -> None:
    assert in_child(lambda: _set(nodemask, getattr(kernel, mode), nodes)) == "EINVAL"


def test_set_mempolicy_unknown_mode_is_einval(kernel: Kernel, in_child, nodemask) -> None:
    assert in_child(lambda: _set(nodemask, 42, {0})) == "EINVAL"


def test_set_mempolicy_static_and_relative_together_is_einval(
    kernel: Kernel, in_child, nodemask
) -> None:
    mode = kernel.MPOL_BIND | kernel.MPOL_F_STATIC_NODES | kernel.MPOL_F_RELATIVE_NODES
    assert in_child(lambda: _set(nodemask, mode, {0})) == "EINVAL"


def test_set_mempolicy_bind_to_a_node_not_online_is_einval(
    kernel: Kernel, in_child, nodemask
) -> None:
    node = nodemask.offline()
    assert in_child(lambda: _set(nodemask, kernel.MPOL_BIND, {node})) == "EINVAL"


def test_get_mempolicy_mems_allowed_includes_node_0(kernel: Kernel, nodemask) -> None:
    mode, nodes = _get(nodemask, kernel.MPOL_F_MEMS_ALLOWED)
    assert mode == 0
    assert 0 in nodes


def test_get_mempolicy_mems_allowed_with_f_node_is_einval(kernel: Kernel, nodemask) -> None:
    flags = kernel.MPOL_F_MEMS_ALLOWED | kernel.MPOL_F_NODE
    r = kernel.get_mempolicy(kernel.new("int *"), nodemask(), nodemask.maxnode, 0, flags)
    assert r.errno == "EINVAL"


def test_get_mempolicy_node_of_a_touched_page_is_node_0(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(page)
    kernel.ffi.cast("char *", addr)[0] = b"x"
    node = kernel.new("int *", -1)
    flags = kernel.MPOL_F_NODE | kernel.MPOL_F_ADDR
    kernel.get_mempolicy(node, None, 0, addr, flags).unwrap()
    assert node[0] == 0


def test_get_mempolicy_with_a_mask_shorter_than_the_nodes_is_einval(
    kernel: Kernel, nodemask
) -> None:
    assert kernel.get_mempolicy(kernel.new("int *"), nodemask(), 0, 0, 0).errno == "EINVAL"


def test_get_mempolicy_unknown_flags_is_einval(kernel: Kernel) -> None:
    assert kernel.get_mempolicy(kernel.new("int *"), None, 0, 0, 1 << 10).errno == "EINVAL"


@pytest.mark.requires("fault_handler")
def test_get_mempolicy_of_an_unmapped_address_is_efault(kernel: Kernel) -> None:
    mode = kernel.new("int *")
    assert kernel.get_mempolicy(mode, None, 0, 4096, kernel.MPOL_F_ADDR).errno == "EFAULT"


# mbind: a range's policy


def test_mbind_sets_the_ranges_policy_and_not_the_processs(
    kernel: Kernel, maps, page: int, nodemask
) -> None:
    addr = maps.anon(2 * page)
    assert _mbind(nodemask, addr, 2 * page, kernel.MPOL_BIND, {0}) == "ok"
    assert _get(nodemask, kernel.MPOL_F_ADDR, addr + page) == (kernel.MPOL_BIND, {0})
    assert _get(nodemask)[0] == kernel.MPOL_DEFAULT


def test_mbind_default_clears_the_ranges_policy(kernel: Kernel, maps, page: int, nodemask) -> None:
    addr = maps.anon(page)
    _mbind(nodemask, addr, page, kernel.MPOL_INTERLEAVE, {0})
    kernel.mbind(addr, page, kernel.MPOL_DEFAULT, None, 0, 0).unwrap()
    assert _get(nodemask, kernel.MPOL_F_ADDR, addr)[0] == kernel.MPOL_DEFAULT


def test_mbind_strict_over_pages_already_on_node_0(
    kernel: Kernel, maps, page: int, nodemask
) -> None:
    addr = maps.anon(4 * page)
    kernel.ffi.memmove(kernel.ffi.cast("char *", addr), b"x" * 4 * page, 4 * page)
    flags = kernel.MPOL_MF_STRICT | kernel.MPOL_MF_MOVE
    assert _mbind(nodemask, addr, 4 * page, kernel.MPOL_BIND, {0}, flags) == "ok"


def test_mbind_unaligned_start_is_einval(kernel: Kernel, maps, page: int, nodemask) -> None:
    addr = maps.anon(page)
    assert _mbind(nodemask, addr + 8, page, kernel.MPOL_BIND, {0}) == "EINVAL"


def test_mbind_unknown_flags_are_einval(kernel: Kernel, maps, page: int, nodemask) -> None:
    addr = maps.anon(page)
    assert _mbind(nodemask, addr, page, kernel.MPOL_BIND, {0}, flags=1 << 10) == "EINVAL"


def test_mbind_over_an_unmapped_range_is_efault(kernel: Kernel, maps, page: int, nodemask) -> None:
    addr = maps.anon(3 * page)
    maps.unmap(addr + page, page)  # a hole in the middle
    assert _mbind(nodemask, addr, 3 * page, kernel.MPOL_BIND, {0}) == "EFAULT"


@AS_USER
def test_mbind_move_all_as_a_user_is_eperm(kernel: Kernel, maps, page: int, nodemask) -> None:
    addr = maps.anon(page)
    flags = kernel.MPOL_MF_MOVE_ALL
    assert _mbind(nodemask, addr, page, kernel.MPOL_BIND, {0}, flags) == "EPERM"


# set_mempolicy_home_node: the preferred node of a bound range (Linux >= 5.17)


@pytest.mark.min_kernel("5.17")
def test_home_node_of_a_bound_range_is_set(kernel: Kernel, maps, page: int, nodemask) -> None:
    addr = maps.anon(page)
    _mbind(nodemask, addr, page, kernel.MPOL_BIND, {0})
    assert kernel.set_mempolicy_home_node(addr, page, 0, 0).unwrap() == 0
    assert _get(nodemask, kernel.MPOL_F_ADDR, addr) == (kernel.MPOL_BIND, {0})


@pytest.mark.min_kernel("5.17")
def test_home_node_of_a_range_without_a_policy_is_enoent(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(page)
    assert kernel.set_mempolicy_home_node(addr, page, 0, 0).errno == "ENOENT"


@pytest.mark.min_kernel("5.17")
def test_home_node_of_an_interleaved_range_is_eopnotsupp(
    kernel: Kernel, maps, page: int, nodemask
) -> None:
    addr = maps.anon(page)
    _mbind(nodemask, addr, page, kernel.MPOL_INTERLEAVE, {0})
    assert kernel.set_mempolicy_home_node(addr, page, 0, 0).errno == "EOPNOTSUPP"


@pytest.mark.min_kernel("5.17")
def test_home_node_not_online_is_einval(kernel: Kernel, maps, page: int, nodemask) -> None:
    addr = maps.anon(page)
    _mbind(nodemask, addr, page, kernel.MPOL_BIND, {0})
    assert kernel.set_mempolicy_home_node(addr, page, nodemask.offline(), 0).errno == "EINVAL"


@pytest.mark.min_kernel("5.17")
def test_home_node_with_flags_or_unaligned_start_is_einval(
    kernel: Kernel, maps, page: int, nodemask
) -> None:
    addr = maps.anon(page)
    _mbind(nodemask, addr, page, kernel.MPOL_BIND, {0})
    assert kernel.set_mempolicy_home_node(addr, page, 0, 1).errno == "EINVAL"
    assert kernel.set_mempolicy_home_node(addr + 8, page, 0, 0).errno == "EINVAL"
