"""io_uring_setup(2): ring creation and its refusals (Linux >= 5.1). Kernels may switch
io_uring off (sysctl kernel.io_uring_disabled, Linux >= 6.6: EPERM) and gVisor answers
ENOSYS; both are skips. struct io_uring_params (include/uapi/linux/io_uring.h) is 120
bytes, sq_entries and cq_entries its first two u32s, flags the third."""

import pytest

from syscalls.kernel import Kernel

pytestmark = [pytest.mark.os("linux"), pytest.mark.min_kernel("5.1")]

PARAMS_SIZE = 120


def _setup(kernel: Kernel, entries: int, flags: int = 0):
    params = kernel.new("uint32_t[]", PARAMS_SIZE // 4)
    params[2] = flags
    r = kernel.io_uring_setup(entries, params)
    if r.errno == "EPERM" and entries > 0:
        pytest.skip("io_uring is disabled here (io_uring_setup: EPERM)")
    return r, params


def test_io_uring_setup_rounds_entries_to_power_of_two(kernel: Kernel, fds) -> None:
    r, params = _setup(kernel, 5)
    fds(r)
    assert (params[0], params[1]) == (8, 16)  # the completion ring is twice as deep


def test_io_uring_setup_zero_entries_is_einval(kernel: Kernel) -> None:
    r, _ = _setup(kernel, 0)
    assert r.errno == "EINVAL"


def test_io_uring_setup_unknown_flag_is_einval(kernel: Kernel) -> None:
    r, _ = _setup(kernel, 4, 1 << 30)
    assert r.errno == "EINVAL"


def test_io_uring_setup_nonzero_reserved_field_is_einval(kernel: Kernel) -> None:
    params = kernel.new("uint32_t[]", PARAMS_SIZE // 4)
    params[7] = (
        1  # resv[0] (after sq_entries, cq_entries, flags, sq_thread_cpu/idle, features, wq_fd)
    )
    r = kernel.io_uring_setup(4, params)
    if r.errno == "EPERM":
        pytest.skip("io_uring is disabled here (io_uring_setup: EPERM)")
    assert r.errno == "EINVAL"
