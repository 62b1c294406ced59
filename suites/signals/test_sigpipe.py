"""SIGPIPE on sockets: writing to a stream whose peer is gone raises SIGPIPE (fatal by
default) and fails with EPIPE; MSG_NOSIGNAL keeps the error and drops the signal.
Pipes are covered in ipc/test_pipe.py."""

import os
import signal

import pytest

from syscalls.child import ChildFailed
from syscalls.kernel import Kernel

PIPE = signal.SIGPIPE


def _orphaned_socket(kernel: Kernel) -> int:
    pair = kernel.new("int[2]")
    kernel.socketpair(kernel.AF_UNIX, kernel.SOCK_STREAM, 0, pair).unwrap()
    os.close(pair[1])
    return pair[0]


def test_sigpipe_default_action_kills_the_writer(kernel: Kernel, in_child) -> None:
    def run() -> None:
        signal.signal(PIPE, signal.SIG_DFL)
        kernel.write(_orphaned_socket(kernel), b"x", 1)

    with pytest.raises(ChildFailed, match="killed by SIGPIPE"):
        in_child(run)


@pytest.mark.os("linux")
def test_sigpipe_blocked_leaves_epipe_and_a_pending_signal(kernel: Kernel, sigs, in_child) -> None:
    def run() -> tuple[str, bool]:
        signal.signal(PIPE, signal.SIG_DFL)
        sigs.block(PIPE)
        outcome = kernel.write(_orphaned_socket(kernel), b"x", 1).outcome
        return outcome, PIPE in sigs.pending()

    assert in_child(run) == ("EPIPE", True)


@pytest.mark.os("linux")
def test_send_with_msg_nosignal_is_epipe_without_signal(kernel: Kernel, sigs, in_child) -> None:
    def run() -> tuple[str, bool]:
        signal.signal(PIPE, signal.SIG_DFL)
        sigs.block(PIPE)
        fd = _orphaned_socket(kernel)
        outcome = kernel.sendto(fd, b"x", 1, kernel.MSG_NOSIGNAL, None, 0).outcome
        return outcome, PIPE in sigs.pending()

    assert in_child(run) == ("EPIPE", False)
