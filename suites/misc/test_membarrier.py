"""membarrier(2): the query answers which commands this kernel offers; private expedited
barriers need registration first (Linux >= 4.14). The offered set differs between kernels
(and gVisor): it is recorded, and each test uses only what the query reports."""

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")


def _offered(kernel: Kernel) -> int:
    return kernel.membarrier(kernel.MEMBARRIER_CMD_QUERY, 0, 0).unwrap()


def _need(kernel: Kernel, cmd: str) -> None:
    if not _offered(kernel) & getattr(kernel, cmd):
        pytest.skip(f"membarrier query does not offer {cmd} here")


@pytest.mark.parametrize(
    "cmd", ["GLOBAL_EXPEDITED", "PRIVATE_EXPEDITED", "PRIVATE_EXPEDITED_SYNC_CORE"]
)
def test_membarrier_query_offers_commands_with_their_registration(
    kernel: Kernel, observe, cmd: str
) -> None:
    mask = _offered(kernel)
    observe("query", hex(mask))
    command = getattr(kernel, f"MEMBARRIER_CMD_{cmd}")
    register = getattr(kernel, f"MEMBARRIER_CMD_REGISTER_{cmd}")
    assert bool(mask & command) == bool(mask & register)


def test_membarrier_private_expedited_unregistered_is_eperm(kernel: Kernel, in_child) -> None:
    _need(kernel, "MEMBARRIER_CMD_PRIVATE_EXPEDITED")
    r = in_child(lambda: kernel.membarrier(kernel.MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0).outcome)
    assert r == "EPERM"


def test_membarrier_private_expedited_after_registering(kernel: Kernel, in_child) -> None:
    _need(kernel, "MEMBARRIER_CMD_PRIVATE_EXPEDITED")

    def run() -> int:
        kernel.membarrier(kernel.MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0).unwrap()
        return kernel.membarrier(kernel.MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0).unwrap()

    assert in_child(run) == 0


def test_membarrier_query_with_flags_is_einval(kernel: Kernel) -> None:
    assert kernel.membarrier(kernel.MEMBARRIER_CMD_QUERY, 1, 0).errno == "EINVAL"


def test_membarrier_unknown_command_is_einval(kernel: Kernel) -> None:
    assert kernel.membarrier(1 << 20, 0, 0).errno == "EINVAL"
