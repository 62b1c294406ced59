"""eventfd2(2): a 64-bit counter read and written 8 bytes at a time (Linux only).

The counter's ceiling is 0xfffffffffffffffe: a write that would pass it blocks, or fails
with EAGAIN when non-blocking; 0xffffffffffffffff itself is refused with EINVAL
(fs/eventfd.c).
"""

import signal

import pytest

from syscalls import readiness
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

MAX = 0xFFFFFFFFFFFFFFFE


def _write(kernel: Kernel, fd: int, value: int):
    return kernel.write(fd, kernel.new("uint64_t *", value), 8)


def _read(kernel: Kernel, fd: int) -> int:
    out = kernel.new("uint64_t *")
    assert kernel.read(fd, out, 8).unwrap() == 8
    return int(out[0])


@pytest.fixture
def efd(kernel: Kernel, fds) -> int:
    return fds(kernel.eventfd2(0, kernel.EFD_NONBLOCK | kernel.EFD_CLOEXEC))


def test_eventfd_read_returns_initial_value(kernel: Kernel, fds) -> None:
    fd = fds(kernel.eventfd2(42, kernel.EFD_NONBLOCK))
    assert _read(kernel, fd) == 42


def test_eventfd_writes_add_to_the_counter(kernel: Kernel, efd: int) -> None:
    assert _write(kernel, efd, 3).unwrap() == 8
    _write(kernel, efd, 4).unwrap()
    assert _read(kernel, efd) == 7


def test_eventfd_read_resets_counter_to_zero(kernel: Kernel, efd: int) -> None:
    _write(kernel, efd, 5).unwrap()
    _read(kernel, efd)
    assert kernel.read(efd, kernel.new("uint64_t *"), 8).errno == "EAGAIN"


def test_eventfd_nonblocking_read_at_zero_is_eagain(kernel: Kernel, efd: int) -> None:
    assert kernel.read(efd, kernel.new("uint64_t *"), 8).errno == "EAGAIN"


def test_eventfd_semaphore_reads_one_at_a_time(kernel: Kernel, fds) -> None:
    fd = fds(kernel.eventfd2(2, kernel.EFD_SEMAPHORE | kernel.EFD_NONBLOCK))
    assert [_read(kernel, fd), _read(kernel, fd)] == [1, 1]
    assert kernel.read(fd, kernel.new("uint64_t *"), 8).errno == "EAGAIN"


def test_eventfd_write_of_all_ones_is_einval(kernel: Kernel, efd: int) -> None:
    assert _write(kernel, efd, 0xFFFFFFFFFFFFFFFF).errno == "EINVAL"


def test_eventfd_write_past_the_ceiling_is_eagain_when_nonblocking(
    kernel: Kernel, efd: int
) -> None:
    _write(kernel, efd, MAX).unwrap()
    assert _write(kernel, efd, 1).errno == "EAGAIN"
    assert _read(kernel, efd) == MAX


def test_eventfd_write_past_the_ceiling_blocks(kernel: Kernel, fds, in_child) -> None:
    fd = fds(kernel.eventfd2(0, 0))
    _write(kernel, fd, MAX).unwrap()

    def blocked_write() -> str:
        # The write can only end by a signal: SIGALRM every 20 ms interrupts it (the
        # first may come before the write blocks, on a slow target such as UML).
        signal.signal(signal.SIGALRM, lambda s, f: None)
        signal.setitimer(signal.ITIMER_REAL, 0.02, 0.02)
        return _write(kernel, fd, 1).outcome

    assert in_child(blocked_write) == "EINTR"


def test_eventfd_counter_at_ceiling_is_not_writable(kernel: Kernel, efd: int) -> None:
    _write(kernel, efd, MAX).unwrap()
    p = kernel.new("struct pollfd *", (efd, kernel.POLLIN | kernel.POLLOUT, 0))
    assert readiness.poll(kernel, p, 1, 0).unwrap() == 1
    assert p.revents == kernel.POLLIN


def test_eventfd_is_readable_only_when_nonzero(kernel: Kernel, efd: int) -> None:
    p = kernel.new("struct pollfd *", (efd, kernel.POLLIN, 0))
    assert readiness.poll(kernel, p, 1, 0).unwrap() == 0
    _write(kernel, efd, 1).unwrap()
    assert readiness.poll(kernel, p, 1, 0).unwrap() == 1


@pytest.mark.parametrize("op", ["read", "write"])
def test_eventfd_transfer_shorter_than_8_bytes_is_einval(kernel: Kernel, efd: int, op: str) -> None:
    _write(kernel, efd, 1).unwrap()
    assert getattr(kernel, op)(efd, kernel.new("uint64_t *", 1), 4).errno == "EINVAL"


def test_eventfd_unknown_flag_is_einval(kernel: Kernel) -> None:
    assert kernel.eventfd2(0, 1 << 30).errno == "EINVAL"


def test_eventfd_nonblock_flag_shows_in_status_flags(kernel: Kernel, efd: int) -> None:
    assert kernel.fcntl(efd, kernel.F_GETFL, 0).unwrap() & kernel.O_NONBLOCK
    assert kernel.fcntl(efd, kernel.F_GETFD, 0).unwrap() & kernel.FD_CLOEXEC


# --- eventfd(2), the legacy call: an initial count and no flags ----------------------------


def test_eventfd_legacy_reads_its_initial_count(kernel: Kernel, fds) -> None:
    assert _read(kernel, fds(kernel.eventfd(9))) == 9


def test_eventfd_legacy_descriptor_is_blocking_and_kept_across_exec(kernel: Kernel, fds) -> None:
    fd = fds(kernel.eventfd(0))
    assert kernel.fcntl(fd, kernel.F_GETFL, 0).unwrap() & kernel.O_NONBLOCK == 0
    assert kernel.fcntl(fd, kernel.F_GETFD, 0).unwrap() & kernel.FD_CLOEXEC == 0


def test_eventfd_legacy_is_a_counter_not_a_semaphore(kernel: Kernel, fds) -> None:
    fd = fds(kernel.eventfd(2))
    _write(kernel, fd, 3).unwrap()
    assert _read(kernel, fd) == 5  # the whole count, reset to zero
    p = kernel.new("struct pollfd *", (fd, kernel.POLLIN, 0))
    assert readiness.poll(kernel, p, 1, 0).unwrap() == 0


def test_eventfd_legacy_count_is_a_32_bit_argument(kernel: Kernel, fds) -> None:
    assert _read(kernel, fds(kernel.eventfd(1 << 32 | 5))) == 5  # unsigned int count


def test_eventfd_legacy_write_of_all_ones_is_einval(kernel: Kernel, fds) -> None:
    fd = fds(kernel.eventfd(0))
    # Non-blocking, so that a kernel taking the value answers EAGAIN at once instead of
    # waiting for room that never comes (until pytest's timeout).
    kernel.fcntl(fd, kernel.F_SETFL, kernel.O_NONBLOCK).unwrap()
    assert _write(kernel, fd, 0xFFFFFFFFFFFFFFFF).errno == "EINVAL"


def test_eventfd_read_into_a_larger_buffer_returns_8_bytes(kernel: Kernel, fds) -> None:
    fd = fds(kernel.eventfd2(9, kernel.EFD_NONBLOCK))
    buf = kernel.new("uint64_t[4]", [0, 0, 0, 0])
    assert kernel.read(fd, buf, 32).unwrap() == 8
    assert list(buf) == [9, 0, 0, 0]


def test_eventfd_write_of_zero_leaves_the_counter(kernel: Kernel, fds) -> None:
    fd = fds(kernel.eventfd2(3, kernel.EFD_NONBLOCK))
    assert kernel.write(fd, kernel.new("uint64_t *", 0), 8).unwrap() == 8
    assert _read(kernel, fd) == 3


def test_eventfd_semaphore_at_zero_nonblocking_read_is_eagain(kernel: Kernel, fds) -> None:
    fd = fds(kernel.eventfd2(1, kernel.EFD_NONBLOCK | kernel.EFD_SEMAPHORE))
    assert _read(kernel, fd) == 1
    assert kernel.read(fd, kernel.new("uint64_t *"), 8).errno == "EAGAIN"
