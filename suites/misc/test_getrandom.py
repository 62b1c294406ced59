"""getrandom(2): bytes from the kernel's random pool, and the flags it refuses
(Linux >= 3.17; GRND_INSECURE since 5.6)."""

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")


def _random(kernel: Kernel, n: int, flags: int = 0) -> bytes:
    buf = kernel.buf(n)
    got = kernel.getrandom(buf, n, flags).unwrap()
    assert 0 < got <= n
    return kernel.bytes(buf, got)


def test_getrandom_fills_the_whole_small_buffer(kernel: Kernel) -> None:
    assert len(_random(kernel, 64)) == 64


def test_getrandom_two_calls_give_different_bytes(kernel: Kernel) -> None:
    assert _random(kernel, 32) != _random(kernel, 32)


def test_getrandom_output_is_not_all_zero(kernel: Kernel) -> None:
    assert _random(kernel, 64) != bytes(64)


def test_getrandom_nonblock_succeeds_once_seeded(kernel: Kernel) -> None:
    assert len(_random(kernel, 16, kernel.GRND_NONBLOCK)) == 16


def test_getrandom_random_pool_returns_bytes(kernel: Kernel) -> None:
    assert _random(kernel, 16, kernel.GRND_RANDOM | kernel.GRND_NONBLOCK)


@pytest.mark.min_kernel("5.6")
def test_getrandom_insecure_returns_bytes(kernel: Kernel) -> None:
    assert len(_random(kernel, 16, kernel.GRND_INSECURE)) == 16


def test_getrandom_zero_length_returns_zero(kernel: Kernel) -> None:
    assert kernel.getrandom(kernel.buf(1), 0, 0).unwrap() == 0


def test_getrandom_unknown_flag_is_einval(kernel: Kernel) -> None:
    assert kernel.getrandom(kernel.buf(8), 8, 0x100).errno == "EINVAL"


@pytest.mark.min_kernel("5.6")
def test_getrandom_insecure_with_random_is_einval(kernel: Kernel) -> None:
    r = kernel.getrandom(kernel.buf(8), 8, kernel.GRND_INSECURE | kernel.GRND_RANDOM)
    assert r.errno == "EINVAL"


@pytest.mark.requires("fault_handler")
def test_getrandom_unmapped_buffer_is_efault(kernel: Kernel) -> None:
    assert kernel.getrandom(8, 8, 0).errno == "EFAULT"
