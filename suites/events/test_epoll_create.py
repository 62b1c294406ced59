"""epoll_create1(2) and epoll_create(2): flags and the legacy size argument (Linux only)."""

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")


def test_epoll_create1_cloexec_sets_fd_flag(kernel: Kernel, fds) -> None:
    ep = fds(kernel.epoll_create1(kernel.EPOLL_CLOEXEC))
    assert kernel.fcntl(ep, kernel.F_GETFD, 0).unwrap() & kernel.FD_CLOEXEC


def test_epoll_create1_without_flags_leaves_cloexec_clear(kernel: Kernel, fds) -> None:
    ep = fds(kernel.epoll_create1(0))
    assert kernel.fcntl(ep, kernel.F_GETFD, 0).unwrap() & kernel.FD_CLOEXEC == 0


@pytest.mark.parametrize("flags", ["O_NONBLOCK", "unknown"])
def test_epoll_create1_other_flags_are_einval(kernel: Kernel, flags: str) -> None:
    value = 1 << 30 if flags == "unknown" else getattr(kernel, flags)
    assert kernel.epoll_create1(value).errno == "EINVAL"


def test_epoll_create_zero_size_is_einval(kernel: Kernel) -> None:
    assert kernel.epoll_create(0).errno == "EINVAL"


def test_epoll_create_ignores_positive_size(kernel: Kernel, fds) -> None:
    ep = fds(kernel.epoll_create(1))
    events = kernel.new("struct epoll_event[1]")
    assert kernel.epoll_wait(ep, events, 1, 0).unwrap() == 0


@pytest.mark.parametrize("call", ["epoll_create1", "epoll_create"])
def test_epoll_create_without_a_free_descriptor_is_emfile(
    kernel: Kernel, in_child, call: str
) -> None:
    """RLIMIT_NOFILE lowered (in a child) to the lowest free descriptor number."""

    def run() -> str:
        lowest = kernel.fcntl(0, kernel.F_DUPFD, 0).unwrap()
        kernel.close(lowest).unwrap()
        limit = kernel.new("struct rlimit *")
        kernel.getrlimit(kernel.RLIMIT_NOFILE, limit).unwrap()
        limit.rlim_cur = lowest
        kernel.setrlimit(kernel.RLIMIT_NOFILE, limit).unwrap()
        return getattr(kernel, call)(0 if call == "epoll_create1" else 1).outcome

    assert in_child(run) == "EMFILE"


def test_epoll_create_negative_size_is_einval(kernel: Kernel) -> None:
    assert kernel.epoll_create(-1).errno == "EINVAL"
