"""epoll_ctl(2): adding, modifying and removing interest, and what it refuses (Linux only).

struct epoll_event is packed on x86_64 (platforms/linux/x86_64-packed.h). EPOLLEXCLUSIVE
arrived in Linux 4.5 and is accepted on EPOLL_CTL_ADD only.
"""

from pathlib import Path
from typing import Any

import pytest

from syscalls import readiness
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")


def _event(kernel: Kernel, events: int, data: int = 0) -> Any:
    ev = kernel.new("struct epoll_event *")
    ev.events, ev.data = events, data
    return ev


def _ctl(kernel: Kernel, ep: int, op: str, fd: int, events: int = 0, data: int = 0) -> Any:
    return kernel.epoll_ctl(ep, getattr(kernel, op), fd, _event(kernel, events, data))


def _wait(kernel: Kernel, ep: int, n: int = 4) -> list[tuple[int, int]]:
    events = kernel.new("struct epoll_event[]", n)
    got = readiness.epoll_wait(kernel, ep, events, n, 0).unwrap()
    return [(events[i].events, events[i].data) for i in range(got)]


@pytest.fixture
def ep(kernel: Kernel, fds) -> int:
    return fds(kernel.epoll_create1(kernel.EPOLL_CLOEXEC))


@pytest.mark.smoke
def test_epoll_ctl_add_reports_ready_fd(kernel: Kernel, fds, ep: int) -> None:
    r, w = fds.pipe()
    _ctl(kernel, ep, "EPOLL_CTL_ADD", r, kernel.EPOLLIN, 7).unwrap()
    kernel.write(w, b"x", 1).unwrap()
    assert _wait(kernel, ep) == [(kernel.EPOLLIN, 7)]


@pytest.mark.smoke
def test_epoll_ctl_add_twice_is_eexist(kernel: Kernel, fds, ep: int) -> None:
    r, _ = fds.pipe()
    _ctl(kernel, ep, "EPOLL_CTL_ADD", r, kernel.EPOLLIN).unwrap()
    assert _ctl(kernel, ep, "EPOLL_CTL_ADD", r, kernel.EPOLLIN).errno == "EEXIST"


@pytest.mark.parametrize("op", ["EPOLL_CTL_MOD", "EPOLL_CTL_DEL"])
def test_epoll_ctl_on_unregistered_fd_is_enoent(kernel: Kernel, fds, ep: int, op: str) -> None:
    r, _ = fds.pipe()
    assert _ctl(kernel, ep, op, r, kernel.EPOLLIN).errno == "ENOENT"


def test_epoll_ctl_mod_changes_the_events_watched(kernel: Kernel, fds, ep: int) -> None:
    _, w = fds.pipe()
    _ctl(kernel, ep, "EPOLL_CTL_ADD", w, kernel.EPOLLIN, 1).unwrap()
    assert _wait(kernel, ep) == []
    _ctl(kernel, ep, "EPOLL_CTL_MOD", w, kernel.EPOLLOUT, 2).unwrap()
    assert _wait(kernel, ep) == [(kernel.EPOLLOUT, 2)]


@pytest.mark.smoke
def test_epoll_ctl_del_stops_reports(kernel: Kernel, fds, ep: int) -> None:
    _, w = fds.pipe()
    _ctl(kernel, ep, "EPOLL_CTL_ADD", w, kernel.EPOLLOUT).unwrap()
    kernel.epoll_ctl(ep, kernel.EPOLL_CTL_DEL, w, None).unwrap()
    assert _wait(kernel, ep) == []


def test_epoll_ctl_closing_the_last_fd_removes_interest(kernel: Kernel, fds, ep: int) -> None:
    _, w = fds.pipe()
    _ctl(kernel, ep, "EPOLL_CTL_ADD", w, kernel.EPOLLOUT).unwrap()
    fds.close(w)
    assert _wait(kernel, ep) == []


def test_epoll_ctl_regular_file_is_eperm(kernel: Kernel, fds, ep: int, tmp) -> None:
    (tmp / "f").write_bytes(b"")
    fd = fds(kernel.openat(kernel.AT_FDCWD, tmp / "f", kernel.O_RDONLY))
    assert _ctl(kernel, ep, "EPOLL_CTL_ADD", fd, kernel.EPOLLIN).errno == "EPERM"


def test_epoll_ctl_adding_epoll_to_itself_is_einval(kernel: Kernel, ep: int) -> None:
    assert _ctl(kernel, ep, "EPOLL_CTL_ADD", ep, kernel.EPOLLIN).errno == "EINVAL"


def test_epoll_ctl_cycle_between_two_epolls_is_eloop(kernel: Kernel, fds, ep: int) -> None:
    other = fds(kernel.epoll_create1(0))
    _ctl(kernel, ep, "EPOLL_CTL_ADD", other, kernel.EPOLLIN).unwrap()
    assert _ctl(kernel, other, "EPOLL_CTL_ADD", ep, kernel.EPOLLIN).errno == "ELOOP"


def test_epoll_ctl_nested_epoll_reports_inner_readiness(kernel: Kernel, fds, ep: int) -> None:
    inner = fds(kernel.epoll_create1(0))
    _, w = fds.pipe()
    _ctl(kernel, inner, "EPOLL_CTL_ADD", w, kernel.EPOLLOUT).unwrap()
    _ctl(kernel, ep, "EPOLL_CTL_ADD", inner, kernel.EPOLLIN, 5).unwrap()
    assert _wait(kernel, ep) == [(kernel.EPOLLIN, 5)]


def test_epoll_ctl_closed_fd_is_ebadf(kernel: Kernel, fds, ep: int) -> None:
    r, _ = fds.pipe()
    fds.close(r)
    assert _ctl(kernel, ep, "EPOLL_CTL_ADD", r, kernel.EPOLLIN).errno == "EBADF"


def test_epoll_ctl_on_non_epoll_fd_is_einval(kernel: Kernel, fds) -> None:
    r, w = fds.pipe()
    assert _ctl(kernel, r, "EPOLL_CTL_ADD", w, kernel.EPOLLOUT).errno == "EINVAL"


def test_epoll_ctl_unknown_op_is_einval(kernel: Kernel, fds, ep: int) -> None:
    r, _ = fds.pipe()
    assert kernel.epoll_ctl(ep, 99, r, _event(kernel, kernel.EPOLLIN)).errno == "EINVAL"


@pytest.mark.min_kernel("4.5")
def test_epoll_ctl_exclusive_is_accepted_on_add(kernel: Kernel, fds, ep: int) -> None:
    _, w = fds.pipe()
    _ctl(kernel, ep, "EPOLL_CTL_ADD", w, kernel.EPOLLOUT | kernel.EPOLLEXCLUSIVE, 3).unwrap()
    assert _wait(kernel, ep) == [(kernel.EPOLLOUT, 3)]


@pytest.mark.min_kernel("4.5")
def test_epoll_ctl_exclusive_on_mod_is_einval(kernel: Kernel, fds, ep: int) -> None:
    _, w = fds.pipe()
    _ctl(kernel, ep, "EPOLL_CTL_ADD", w, kernel.EPOLLOUT).unwrap()
    r = _ctl(kernel, ep, "EPOLL_CTL_MOD", w, kernel.EPOLLOUT | kernel.EPOLLEXCLUSIVE)
    assert r.errno == "EINVAL"


@pytest.mark.min_kernel("4.5")
def test_epoll_ctl_exclusive_with_oneshot_is_einval(kernel: Kernel, fds, ep: int) -> None:
    _, w = fds.pipe()
    flags = kernel.EPOLLOUT | kernel.EPOLLEXCLUSIVE | kernel.EPOLLONESHOT
    assert _ctl(kernel, ep, "EPOLL_CTL_ADD", w, flags).errno == "EINVAL"


# fs/eventpoll.c: EP_MAX_NESTS (not exported) bounds how deep epoll instances nest.
EP_MAX_NESTS = 4


def _nest(kernel: Kernel, outer: int, inner: int) -> str:
    return _ctl(kernel, outer, "EPOLL_CTL_ADD", inner, kernel.EPOLLIN).outcome


@pytest.mark.parametrize("order", ["bottom_up", "top_down"])
def test_epoll_ctl_nesting_deeper_than_ep_max_nests_is_eloop(
    kernel: Kernel, fds, order: str
) -> None:
    """A chain of EP_MAX_NESTS + 1 instances (4 links) is allowed, a fifth link is
    ELOOP, whichever end the chain grows from (ep_loop_check measures the depth below
    the added instance and, since the 2025 fix also in 6.1.y, the height above the
    instance it goes into)."""
    eps = [fds(kernel.epoll_create1(0)) for _ in range(EP_MAX_NESTS + 2)]
    links = list(zip(eps[1:], eps[:-1], strict=True))  # (outer, inner): eps[i+1] holds eps[i]
    if order == "top_down":
        links.reverse()
    outcomes = [_nest(kernel, outer, inner) for outer, inner in links]
    assert outcomes == ["ok"] * EP_MAX_NESTS + ["ELOOP"]


def test_epoll_ctl_cycle_through_three_instances_is_eloop(kernel: Kernel, fds) -> None:
    a, b, c = (fds(kernel.epoll_create1(0)) for _ in range(3))
    assert [_nest(kernel, a, b), _nest(kernel, b, c), _nest(kernel, c, a)] == [
        "ok",
        "ok",
        "ELOOP",
    ]


def test_epoll_ctl_too_many_deep_wakeup_paths_is_einval(kernel: Kernel, fds) -> None:
    """A pipe under four nested instances, the top one put into more and more instances:
    each adds a wakeup path of depth 4, and reverse_path_check allows 10 of those."""
    r, _ = fds.pipe()
    chain = [fds(kernel.epoll_create1(0)) for _ in range(EP_MAX_NESTS)]
    _ctl(kernel, chain[0], "EPOLL_CTL_ADD", r, kernel.EPOLLIN).unwrap()
    for outer, inner in zip(chain[1:], chain, strict=False):
        assert _nest(kernel, outer, inner) == "ok"
    tops = [fds(kernel.epoll_create1(0)) for _ in range(11)]
    outcomes = [_nest(kernel, top, chain[-1]) for top in tops]
    assert outcomes == ["ok"] * 10 + ["EINVAL"]


@pytest.mark.min_kernel("4.5")
@pytest.mark.parametrize("extra", ["EPOLLPRI", "EPOLLRDHUP"])
def test_epoll_ctl_exclusive_with_events_it_cannot_share_is_einval(
    kernel: Kernel, fds, ep: int, extra: str
) -> None:
    _, w = fds.pipe()
    flags = kernel.EPOLLOUT | kernel.EPOLLEXCLUSIVE | getattr(kernel, extra)
    assert _ctl(kernel, ep, "EPOLL_CTL_ADD", w, flags).errno == "EINVAL"


@pytest.mark.min_kernel("4.5")
def test_epoll_ctl_exclusive_on_an_epoll_instance_is_einval(kernel: Kernel, fds, ep: int) -> None:
    inner = fds(kernel.epoll_create1(0))
    flags = kernel.EPOLLIN | kernel.EPOLLEXCLUSIVE
    assert _ctl(kernel, ep, "EPOLL_CTL_ADD", inner, flags).errno == "EINVAL"


@pytest.mark.min_kernel("4.5")
def test_epoll_ctl_mod_of_an_exclusive_item_is_einval(kernel: Kernel, fds, ep: int) -> None:
    _, w = fds.pipe()
    _ctl(kernel, ep, "EPOLL_CTL_ADD", w, kernel.EPOLLOUT | kernel.EPOLLEXCLUSIVE).unwrap()
    assert _ctl(kernel, ep, "EPOLL_CTL_MOD", w, kernel.EPOLLOUT).errno == "EINVAL"


@pytest.mark.requires("fault_handler")
@pytest.mark.parametrize(("op", "outcome"), [("EPOLL_CTL_ADD", "EFAULT"), ("EPOLL_CTL_DEL", "ok")])
def test_epoll_ctl_reads_the_event_only_for_ops_that_take_one(
    kernel: Kernel, fds, ep: int, bad_memory, op: str, outcome: str
) -> None:
    r, _ = fds.pipe()
    if op == "EPOLL_CTL_DEL":
        _ctl(kernel, ep, "EPOLL_CTL_ADD", r, kernel.EPOLLIN).unwrap()
    bad = bad_memory.unmapped()
    assert kernel.epoll_ctl(ep, getattr(kernel, op), r, bad).outcome == outcome


def test_epoll_ctl_a_dup_of_a_registered_fd_is_a_new_item(kernel: Kernel, fds, ep: int) -> None:
    r, w = fds.pipe()
    dup = fds(kernel.dup(r))
    _ctl(kernel, ep, "EPOLL_CTL_ADD", r, kernel.EPOLLIN, 1).unwrap()
    _ctl(kernel, ep, "EPOLL_CTL_ADD", dup, kernel.EPOLLIN, 2).unwrap()
    kernel.write(w, b"x", 1).unwrap()
    assert sorted(_wait(kernel, ep)) == [(kernel.EPOLLIN, 1), (kernel.EPOLLIN, 2)]


def test_epoll_ctl_interest_outlives_the_fd_while_a_dup_holds_the_file(
    kernel: Kernel, fds, ep: int
) -> None:
    r, w = fds.pipe()
    dup = fds(kernel.dup(r))
    _ctl(kernel, ep, "EPOLL_CTL_ADD", r, kernel.EPOLLIN, 5).unwrap()
    fds.close(r)
    kernel.write(w, b"x", 1).unwrap()
    assert _wait(kernel, ep) == [(kernel.EPOLLIN, 5)]
    assert _ctl(kernel, ep, "EPOLL_CTL_DEL", dup).errno == "ENOENT"


def _fdinfo_events(ep: int) -> list[int]:
    """The events mask of every item, as /proc/self/fdinfo of the epoll fd shows it."""
    lines = Path(f"/proc/self/fdinfo/{ep}").read_text().splitlines()
    return [int(line.split("events:")[1].split()[0], 16) for line in lines if "tfd:" in line]


@pytest.mark.as_user("root holds CAP_BLOCK_SUSPEND, which may keep EPOLLWAKEUP")
def test_epoll_ctl_wakeup_without_cap_block_suspend_is_dropped(
    kernel: Kernel, fds, ep: int
) -> None:
    r, _ = fds.pipe()
    _ctl(kernel, ep, "EPOLL_CTL_ADD", r, kernel.EPOLLIN | kernel.EPOLLWAKEUP).unwrap()
    # ADD and MOD always add EPOLLERR | EPOLLHUP to what the item waits for.
    assert _fdinfo_events(ep) == [kernel.EPOLLIN | kernel.EPOLLERR | kernel.EPOLLHUP]
