"""System V message queues: msgget/msgsnd/msgrcv on IPC_PRIVATE queues, which the
`sysv` fixture removes whatever the test did. A message is a C long mtype followed by
its text (struct msgbuf, include/uapi/linux/msg.h)."""

import time

import pytest

from syscalls import forking
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")


def _send(kernel: Kernel, q: int, mtype: int, text: bytes, flags: int = 0):
    head = kernel.new("long *", mtype)  # mtype is a C long: 8 bytes, or 4 on i386
    return kernel.msgsnd(q, kernel.bytes(head, kernel.ffi.sizeof("long")) + text, len(text), flags)


def _recv(kernel: Kernel, q: int, size: int = 64, mtype: int = 0, flags: int = 0):
    head = kernel.ffi.sizeof("long")
    buf = kernel.buf(head + size)
    r = kernel.msgrcv(q, buf, size, mtype, flags | kernel.IPC_NOWAIT)
    if not r.ok:
        return r.outcome
    return kernel.ffi.cast("long *", buf)[0], kernel.bytes(buf, head + r.value)[head:]


def test_msg_round_trip_keeps_type_and_text(kernel: Kernel, sysv) -> None:
    q = sysv.msg()
    _send(kernel, q, 7, b"hello").unwrap()
    assert _recv(kernel, q) == (7, b"hello")


def test_msgrcv_type_zero_takes_messages_in_order(kernel: Kernel, sysv) -> None:
    q = sysv.msg()
    for mtype, text in ((3, b"a"), (1, b"b"), (2, b"c")):
        _send(kernel, q, mtype, text).unwrap()
    assert [_recv(kernel, q) for _ in range(3)] == [(3, b"a"), (1, b"b"), (2, b"c")]


def test_msgrcv_positive_type_takes_first_of_that_type(kernel: Kernel, sysv) -> None:
    q = sysv.msg()
    for mtype, text in ((1, b"a"), (2, b"b"), (2, b"c")):
        _send(kernel, q, mtype, text).unwrap()
    assert _recv(kernel, q, mtype=2) == (2, b"b")


def test_msgrcv_negative_type_takes_lowest_type_up_to_it(kernel: Kernel, sysv) -> None:
    q = sysv.msg()
    for mtype, text in ((5, b"a"), (3, b"b"), (4, b"c")):
        _send(kernel, q, mtype, text).unwrap()
    assert _recv(kernel, q, mtype=-4) == (3, b"b")


def test_msgrcv_except_takes_first_of_another_type(kernel: Kernel, sysv) -> None:
    q = sysv.msg()
    for mtype, text in ((1, b"a"), (2, b"b")):
        _send(kernel, q, mtype, text).unwrap()
    assert _recv(kernel, q, mtype=1, flags=kernel.MSG_EXCEPT) == (2, b"b")


def test_msgrcv_empty_queue_nowait_is_enomsg(kernel: Kernel, sysv) -> None:
    assert _recv(kernel, sysv.msg()) == "ENOMSG"


def test_msgrcv_message_larger_than_buffer_is_e2big(kernel: Kernel, sysv) -> None:
    q = sysv.msg()
    _send(kernel, q, 1, b"0123456789").unwrap()
    assert _recv(kernel, q, size=4) == "E2BIG"
    assert _recv(kernel, q) == (1, b"0123456789")  # still queued


def test_msgrcv_noerror_truncates_the_message(kernel: Kernel, sysv) -> None:
    q = sysv.msg()
    _send(kernel, q, 1, b"0123456789").unwrap()
    assert _recv(kernel, q, size=4, flags=kernel.MSG_NOERROR) == (1, b"0123")
    assert _recv(kernel, q) == "ENOMSG"


@pytest.mark.parametrize("mtype", [0, -1])
def test_msgsnd_non_positive_type_is_einval(kernel: Kernel, sysv, mtype: int) -> None:
    assert _send(kernel, sysv.msg(), mtype, b"x").errno == "EINVAL"


def test_msgrcv_blocks_until_another_process_sends(kernel: Kernel, sysv, in_child) -> None:
    q = sysv.msg()

    def run() -> tuple[int, bytes, float]:
        def sender() -> None:
            time.sleep(0.02)
            _send(kernel, q, 9, b"late").unwrap()

        start = time.monotonic()
        pid = forking.fork(kernel, sender)
        head = kernel.ffi.sizeof("long")
        buf = kernel.buf(head + 16)
        n = kernel.msgrcv(q, buf, 16, 0, 0).unwrap()
        waited = time.monotonic() - start
        assert forking.exit_code(kernel, pid) == 0
        return kernel.ffi.cast("long *", buf)[0], kernel.bytes(buf, head + n)[head:], waited

    mtype, text, waited = in_child(run)
    assert (mtype, text) == (9, b"late")
    assert waited >= 0.02


def test_msgsnd_on_removed_queue_is_einval(kernel: Kernel, sysv) -> None:
    q = sysv.msg()
    sysv.remove("msgctl", q).unwrap()
    assert _send(kernel, q, 1, b"x").errno == "EINVAL"


def _proc_int(path: str) -> list[int]:
    with open(path) as f:
        return [int(v) for v in f.read().split()]


def test_msgsnd_larger_than_msgmax_is_einval(kernel: Kernel, sysv) -> None:
    q = sysv.msg()
    [msgmax] = _proc_int("/proc/sys/kernel/msgmax")
    if msgmax > 1 << 20:
        pytest.skip(f"msgmax is {msgmax}: too large a message to build")
    assert _send(kernel, q, 1, b"m" * (msgmax + 1)).errno == "EINVAL"
    assert _recv(kernel, q) == "ENOMSG"


def test_msgrcv_size_above_long_max_is_einval(kernel: Kernel, sysv) -> None:
    q = sysv.msg()
    _send(kernel, q, 1, b"kept").unwrap()
    buf = kernel.buf(64)
    assert kernel.msgrcv(q, buf, 1 << 63, 0, kernel.IPC_NOWAIT).errno == "EINVAL"
    assert _recv(kernel, q) == (1, b"kept")


def _copy(kernel: Kernel, q: int, index: int, flags: int = 0):
    r = _recv(kernel, q, mtype=index, flags=kernel.MSG_COPY | flags)
    if r == "ENOSYS":
        pytest.skip("MSG_COPY needs CONFIG_CHECKPOINT_RESTORE (ENOSYS)")
    return r


@pytest.mark.min_kernel("3.8")
def test_msgrcv_msg_copy_reads_the_nth_message_and_leaves_it(kernel: Kernel, sysv) -> None:
    q = sysv.msg()
    _send(kernel, q, 5, b"first").unwrap()
    _send(kernel, q, 6, b"second").unwrap()
    assert _copy(kernel, q, 1) == (6, b"second")
    assert _copy(kernel, q, 2) == "ENOMSG"
    assert [_recv(kernel, q) for _ in range(2)] == [(5, b"first"), (6, b"second")]


@pytest.mark.min_kernel("3.8")
def test_msgrcv_msg_copy_with_msg_except_is_einval(kernel: Kernel, sysv) -> None:
    q = sysv.msg()
    _send(kernel, q, 5, b"first").unwrap()
    assert _copy(kernel, q, 0, kernel.MSG_EXCEPT) == "EINVAL"


@pytest.mark.min_kernel("3.8")
def test_msgrcv_msg_copy_without_ipc_nowait_is_einval(kernel: Kernel, sysv) -> None:
    q = sysv.msg()
    _send(kernel, q, 5, b"first").unwrap()
    buf = kernel.buf(64)
    r = kernel.msgrcv(q, buf, 32, 0, kernel.MSG_COPY)
    if r.errno == "ENOSYS":
        pytest.skip("MSG_COPY needs CONFIG_CHECKPOINT_RESTORE (ENOSYS)")
    assert r.errno == "EINVAL"
