"""syscalls.readiness: poll/epoll_wait, or ppoll/epoll_pwait where the table lacks them."""

import os

import pytest

from syscalls import readiness
from syscalls.abi import Platform
from syscalls.kernel import Kernel


@pytest.fixture(params=["own", "successor"])
def k(request: pytest.FixtureRequest) -> Kernel:
    p = Platform.load()
    if p.os != "linux":
        pytest.skip("Linux calls")
    if request.param == "successor":  # as on arm64: the generic table has neither
        del p.syscalls["poll"], p.syscalls["epoll_wait"]
    return Kernel(p)


def test_poll_sees_a_readable_pipe_and_times_out_on_an_empty_one(k: Kernel) -> None:
    made = []
    k.observers.append(made.append)
    r, w = os.pipe()
    try:
        p = k.new("struct pollfd *", (r, k.POLLIN, 0))
        assert readiness.poll(k, p, 1, 10).unwrap() == 0
        os.write(w, b"x")
        assert readiness.poll(k, p, 1, -1).unwrap() == 1
        assert p.revents == k.POLLIN
    finally:
        os.close(r), os.close(w)
    assert {m.name for m in made} == ({"poll"} if k.has("poll") else {"ppoll"})


def test_epoll_wait_reports_a_readable_pipe(k: Kernel) -> None:
    r, w = os.pipe()
    ep = k.epoll_create1(0).unwrap()
    try:
        ev = k.new("struct epoll_event *", {"events": k.EPOLLIN, "data": 7})
        k.epoll_ctl(ep, k.EPOLL_CTL_ADD, r, ev).unwrap()
        out = k.new("struct epoll_event[]", 2)
        assert readiness.epoll_wait(k, ep, out, 2, 0).unwrap() == 0
        os.write(w, b"x")
        assert readiness.epoll_wait(k, ep, out, 2, 1000).unwrap() == 1
        assert (out[0].events, out[0].data) == (k.EPOLLIN, 7)
    finally:
        os.close(r), os.close(w), os.close(ep)
