"""Waiting for readiness in tests whose subject is something else (sockets, eventfd,
pidfd, signalfd, timerfd, epoll_ctl): poll(2) and epoll_wait(2), or where the arch's
table has neither (arm64 and riscv64 have only the generic syscall table, which dropped
them) their successors with no signal mask, ppoll(2) and epoll_pwait(2), as glibc does
there. The kernel runs the same code either way (do_sys_poll, do_epoll_wait), and the
test's observations name the call that was made. Tests of poll and epoll_wait themselves
call them directly, and skip where the table lacks them.
"""

from __future__ import annotations

from typing import Any

from syscalls.kernel import Kernel, Result


def poll(kernel: Kernel, fds: Any, nfds: int, timeout_ms: int) -> Result:
    if kernel.has("poll"):
        return kernel.poll(fds, nfds, timeout_ms)
    ts = None
    if timeout_ms >= 0:
        ts = kernel.new("struct timespec *", (timeout_ms // 1000, timeout_ms % 1000 * 1_000_000))
    return kernel.ppoll(fds, nfds, ts, None, 0)


def epoll_wait(kernel: Kernel, epfd: int, events: Any, maxevents: int, timeout_ms: int) -> Result:
    if kernel.has("epoll_wait"):
        return kernel.epoll_wait(epfd, events, maxevents, timeout_ms)
    return kernel.epoll_pwait(epfd, events, maxevents, timeout_ms, None, 0)
