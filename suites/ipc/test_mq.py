"""POSIX message queues: mq_open(2), mq_timedsend(2), mq_timedreceive(2), mq_notify(2),
mq_getsetattr(2), mq_unlink(2).

The raw calls name a queue without the leading "/" that mq_open(3) strips (a "/" in
the name is EACCES); /dev/mqueue need not be mounted. Messages come out highest
priority first, first in first out within one. Timeouts are absolute CLOCK_REALTIME
times, so one already past times out at once. Users are held to
/proc/sys/fs/mqueue/msg_max messages and msgsize_max bytes per message. Every queue has
a name of its own (pid and a random part) and is unlinked at teardown, whatever the
test did.
"""

import os
import signal
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from syscalls import sysctl
from syscalls.kernel import Kernel

pytestmark = [pytest.mark.os("linux"), pytest.mark.min_kernel("2.6.6")]

AS_USER = pytest.mark.as_user("root may pass msg_max (CAP_SYS_RESOURCE)")
PAST = (1, 0)  # an absolute time long gone
SI_MESGQ = -3  # asm-generic/siginfo.h: a message arrived on an empty queue


class Queues:
    """Queue names for a test; each is unlinked at teardown (raw, unrecorded)."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.names: list[bytes] = []

    def name(self) -> bytes:
        name = f"syscalls-{os.getpid()}-{uuid.uuid4().hex[:12]}".encode()
        self.names.append(name)
        return name

    def open(self, maxmsg: int = 4, msgsize: int = 64, flags: int = 0, name: bytes | None = None):
        """Create a queue (O_RDWR) with these limits; (fd, name)."""
        k = self.kernel
        name = name or self.name()
        attr = k.new("struct mq_attr *", [0, maxmsg, msgsize, 0])
        fd = k.mq_open(name, k.O_RDWR | k.O_CREAT | k.O_EXCL | flags, 0o600, attr).unwrap()
        return fd, name

    def release(self) -> None:
        with self.kernel.unobserved():
            for name in self.names:
                self.kernel.mq_unlink(name)


@pytest.fixture
def queues(kernel: Kernel) -> Iterator[Queues]:
    q = Queues(kernel)
    try:
        yield q
    finally:
        q.release()


@pytest.fixture
def mq(queues: Queues, fds) -> int:
    """A fresh queue of 4 messages of up to 64 bytes, O_NONBLOCK."""
    fd, _ = queues.open(flags=os.O_NONBLOCK)
    fds.held.append(fd)
    return fd


def _attr(kernel: Kernel, fd: int) -> tuple[int, int, int, int]:
    old = kernel.new("struct mq_attr *")
    kernel.mq_getsetattr(fd, None, old).unwrap()
    return old.mq_flags, old.mq_maxmsg, old.mq_msgsize, old.mq_curmsgs


def _ts(kernel: Kernel, when: tuple[int, int] | None) -> Any:
    return None if when is None else kernel.new("struct timespec *", when)


def _send(kernel: Kernel, fd: int, data: bytes, prio: int = 0, timeout=None):
    return kernel.mq_timedsend(fd, data, len(data), prio, _ts(kernel, timeout))


def _receive(kernel: Kernel, fd: int, size: int = 64, timeout=None) -> tuple[Any, bytes, int]:
    buf, prio = kernel.buf(size), kernel.new("unsigned int *")
    r = kernel.mq_timedreceive(fd, buf, size, prio, _ts(kernel, timeout))
    return r, kernel.bytes(buf, r.value) if r.ok else b"", int(prio[0])


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_mq_open_creates_a_queue_with_the_limits_given(kernel: Kernel, mq: int) -> None:
    assert _attr(kernel, mq) == (kernel.O_NONBLOCK, 4, 64, 0)


def test_mq_open_without_attr_takes_the_defaults(kernel: Kernel, queues: Queues, fds) -> None:
    k = kernel
    fd = fds(k.mq_open(queues.name(), k.O_RDWR | k.O_CREAT, 0o600, None))
    maxmsg = sysctl.number("fs/mqueue/msg_default")
    msgsize = sysctl.number("fs/mqueue/msgsize_default")
    assert _attr(kernel, fd)[1:] == (maxmsg, msgsize, 0)


def test_mq_open_mode_is_the_queues_mode(kernel: Kernel, queues: Queues, fds) -> None:
    fd, _ = queues.open()
    fds.held.append(fd)
    assert os.fstat(fd).st_mode & 0o777 == 0o600 & ~_umask()


def test_messages_come_out_highest_priority_first(kernel: Kernel, mq: int) -> None:
    for data, prio in ((b"low", 1), (b"high", 5), (b"middle", 3)):
        _send(kernel, mq, data, prio).unwrap()
    got = [_receive(kernel, mq)[1:] for _ in range(3)]
    assert got == [(b"high", 5), (b"middle", 3), (b"low", 1)]


def test_messages_of_one_priority_come_out_in_order(kernel: Kernel, mq: int) -> None:
    for data in (b"first", b"second", b"third"):
        _send(kernel, mq, data, 2).unwrap()
    assert [_receive(kernel, mq)[1] for _ in range(3)] == [b"first", b"second", b"third"]


def test_curmsgs_counts_the_queued_messages(kernel: Kernel, mq: int) -> None:
    _send(kernel, mq, b"a").unwrap()
    _send(kernel, mq, b"b").unwrap()
    assert _attr(kernel, mq)[3] == 2
    _receive(kernel, mq)
    assert _attr(kernel, mq)[3] == 1


def test_receive_into_a_buffer_smaller_than_msgsize_is_emsgsize(kernel: Kernel, mq: int) -> None:
    _send(kernel, mq, b"x").unwrap()
    assert _receive(kernel, mq, size=63)[0].errno == "EMSGSIZE"


def test_send_longer_than_msgsize_is_emsgsize(kernel: Kernel, mq: int) -> None:
    assert _send(kernel, mq, b"x" * 65).errno == "EMSGSIZE"


def test_empty_message_is_delivered(kernel: Kernel, mq: int) -> None:
    _send(kernel, mq, b"", 7).unwrap()
    r, data, prio = _receive(kernel, mq)
    assert (r.unwrap(), data, prio) == (0, b"", 7)


def test_priority_of_mq_prio_max_is_einval(kernel: Kernel, mq: int) -> None:
    assert _send(kernel, mq, b"x", kernel.MQ_PRIO_MAX).errno == "EINVAL"


def test_send_to_a_full_nonblocking_queue_is_eagain(kernel: Kernel, mq: int) -> None:
    for _ in range(4):
        _send(kernel, mq, b"x").unwrap()
    assert _send(kernel, mq, b"x").errno == "EAGAIN"


def test_receive_from_an_empty_nonblocking_queue_is_eagain(kernel: Kernel, mq: int) -> None:
    assert _receive(kernel, mq)[0].errno == "EAGAIN"


def test_blocking_receive_with_a_past_deadline_is_etimedout(
    kernel: Kernel, queues: Queues, fds
) -> None:
    fd, _ = queues.open()
    fds.held.append(fd)
    assert _receive(kernel, fd, timeout=PAST)[0].errno == "ETIMEDOUT"


def test_blocking_send_to_a_full_queue_with_a_past_deadline_is_etimedout(
    kernel: Kernel, queues: Queues, fds
) -> None:
    fd, _ = queues.open(maxmsg=1)
    fds.held.append(fd)
    _send(kernel, fd, b"fills it").unwrap()
    assert _send(kernel, fd, b"x", timeout=PAST).errno == "ETIMEDOUT"


def test_blocking_receive_with_a_message_ignores_a_past_deadline(
    kernel: Kernel, queues: Queues, fds
) -> None:
    fd, _ = queues.open()
    fds.held.append(fd)
    _send(kernel, fd, b"ready").unwrap()
    assert _receive(kernel, fd, timeout=PAST)[1] == b"ready"


def test_receive_with_an_invalid_timeout_is_einval(kernel: Kernel, queues: Queues, fds) -> None:
    fd, _ = queues.open()
    fds.held.append(fd)
    assert _receive(kernel, fd, timeout=(0, 1_000_000_000))[0].errno == "EINVAL"


def test_mq_open_exclusive_of_an_existing_queue_is_eexist(
    kernel: Kernel, queues: Queues, fds
) -> None:
    fd, name = queues.open()
    fds.held.append(fd)
    k = kernel
    r = k.mq_open(name, k.O_RDWR | k.O_CREAT | k.O_EXCL, 0o600, None)
    assert r.errno == "EEXIST"


def test_mq_open_of_a_missing_queue_is_enoent(kernel: Kernel, queues: Queues) -> None:
    assert kernel.mq_open(queues.name(), kernel.O_RDWR, 0, None).errno == "ENOENT"


def test_mq_open_of_a_name_with_a_slash_is_eacces(kernel: Kernel, queues: Queues) -> None:
    name = queues.name() + b"/inner"
    assert kernel.mq_open(name, kernel.O_RDWR | kernel.O_CREAT, 0o600, None).errno == "EACCES"


@pytest.mark.parametrize(("maxmsg", "msgsize"), [(0, 64), (4, 0), (-1, 64)])
def test_mq_open_with_limits_out_of_range_is_einval(
    kernel: Kernel, queues: Queues, maxmsg: int, msgsize: int
) -> None:
    k = kernel
    attr = k.new("struct mq_attr *", [0, maxmsg, msgsize, 0])
    assert k.mq_open(queues.name(), k.O_RDWR | k.O_CREAT, 0o600, attr).errno == "EINVAL"


@AS_USER
def test_mq_open_above_msg_max_as_a_user_is_einval(kernel: Kernel, queues: Queues) -> None:
    k = kernel
    over = sysctl.number("fs/mqueue/msg_max") + 1
    attr = k.new("struct mq_attr *", [0, over, 64, 0])
    assert k.mq_open(queues.name(), k.O_RDWR | k.O_CREAT, 0o600, attr).errno == "EINVAL"


def test_mq_unlink_removes_the_name_but_not_the_open_queue(
    kernel: Kernel, queues: Queues, fds
) -> None:
    fd, name = queues.open()
    fds.held.append(fd)
    kernel.mq_unlink(name).unwrap()
    assert kernel.mq_open(name, kernel.O_RDWR, 0, None).errno == "ENOENT"
    _send(kernel, fd, b"still works").unwrap()
    assert _receive(kernel, fd)[1] == b"still works"


def test_mq_unlink_of_a_missing_queue_is_enoent(kernel: Kernel, queues: Queues) -> None:
    assert kernel.mq_unlink(queues.name()).errno == "ENOENT"


def test_mq_getsetattr_changes_only_the_nonblocking_flag(kernel: Kernel, mq: int) -> None:
    new = kernel.new("struct mq_attr *", [0, 99, 999, 9])
    old = kernel.new("struct mq_attr *")
    kernel.mq_getsetattr(mq, new, old).unwrap()
    assert old.mq_flags == kernel.O_NONBLOCK
    assert _attr(kernel, mq) == (0, 4, 64, 0)


def test_mq_getsetattr_with_unknown_flags_is_einval(kernel: Kernel, mq: int) -> None:
    new = kernel.new("struct mq_attr *", [kernel.O_APPEND, 4, 64, 0])
    assert kernel.mq_getsetattr(mq, new, None).errno == "EINVAL"


def test_mq_calls_on_a_descriptor_that_is_no_queue_are_ebadf(kernel: Kernel, fds) -> None:
    rfd, _wfd = fds.pipe()
    assert kernel.mq_getsetattr(rfd, None, kernel.new("struct mq_attr *")).errno == "EBADF"
    assert _send(kernel, rfd, b"x").errno == "EBADF"


def test_reading_the_descriptor_shows_the_queue_state(kernel: Kernel, mq: int) -> None:
    _send(kernel, mq, b"12345").unwrap()
    text = os.read(mq, 256).decode()
    assert text.split()[0] == "QSIZE:5"
    assert "NOTIFY:0" in text.split()


def _notify(kernel: Kernel, fd: int, how: int, signo: int = 0, value: int = 0):
    ev = kernel.new("struct sigevent *")
    ev.sigev_notify, ev.sigev_signo, ev.sigev_value.sival_int = how, signo, value
    return kernel.mq_notify(fd, ev)


def test_second_notification_request_is_ebusy(kernel: Kernel, mq: int) -> None:
    _notify(kernel, mq, kernel.SIGEV_NONE).unwrap()
    assert _notify(kernel, mq, kernel.SIGEV_NONE).errno == "EBUSY"


def test_notification_removed_with_null_can_be_requested_again(kernel: Kernel, mq: int) -> None:
    _notify(kernel, mq, kernel.SIGEV_NONE).unwrap()
    kernel.mq_notify(mq, None).unwrap()
    assert _notify(kernel, mq, kernel.SIGEV_NONE).outcome == "ok"


@pytest.mark.parametrize(("how", "signo"), [(42, 0), (0, 65)], ids=["unknown-how", "signal-65"])
def test_notification_request_with_a_bad_sigevent_is_einval(
    kernel: Kernel, mq: int, how: int, signo: int
) -> None:
    how = kernel.SIGEV_SIGNAL if how == 0 else how
    assert _notify(kernel, mq, how, signo).errno == "EINVAL"


def test_sigev_signal_arrives_when_an_empty_queue_gets_a_message(
    kernel: Kernel, queues: Queues, in_child
) -> None:
    name = queues.name()

    def run() -> tuple[int, int, int, int, str]:
        fd, _ = queues.open(name=name)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
        _notify(kernel, fd, kernel.SIGEV_SIGNAL, signal.SIGUSR1, 4242).unwrap()
        _send(kernel, fd, b"wake").unwrap()
        info = kernel.new("siginfo_t *")
        mask = kernel.new("uint64_t *", 1 << (signal.SIGUSR1 - 1))
        timeout = kernel.new("struct timespec *", (5, 0))
        kernel.rt_sigtimedwait(mask, info, timeout, 8).unwrap()
        again = _notify(kernel, fd, kernel.SIGEV_NONE).outcome  # one shot: free again
        return info.si_signo, info.si_code, info.si_value.sival_int, info.si_pid, again

    signo, code, value, pid, again = in_child(run)
    assert (signo, code, value) == (signal.SIGUSR1, SI_MESGQ, 4242)
    assert pid > 0  # the sender
    assert again == "ok"


def test_no_signal_when_the_queue_was_not_empty(kernel: Kernel, queues: Queues, in_child) -> None:
    name = queues.name()

    def run() -> tuple[str, str]:
        fd, _ = queues.open(name=name)
        _send(kernel, fd, b"already there").unwrap()
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
        _notify(kernel, fd, kernel.SIGEV_SIGNAL, signal.SIGUSR1, 1).unwrap()
        _send(kernel, fd, b"second").unwrap()
        mask = kernel.new("uint64_t *", 1 << (signal.SIGUSR1 - 1))
        waited = kernel.rt_sigtimedwait(mask, None, kernel.new("struct timespec *", (0, 0)), 8)
        return waited.outcome, _notify(kernel, fd, kernel.SIGEV_NONE).outcome

    assert in_child(run) == ("EAGAIN", "EBUSY")  # nothing sent; still registered


def test_send_with_an_invalid_timeout_is_einval(kernel: Kernel, queues: Queues, fds) -> None:
    fd, _ = queues.open()
    fds.held.append(fd)
    assert _send(kernel, fd, b"x", timeout=(0, 1_000_000_000)).errno == "EINVAL"
    assert _attr(kernel, fd)[3] == 0


@pytest.mark.as_user("root may pass msgsize_max (CAP_SYS_RESOURCE)")
def test_mq_open_above_msgsize_max_as_a_user_is_einval(kernel: Kernel, queues: Queues) -> None:
    k = kernel
    over = sysctl.number("fs/mqueue/msgsize_max") + 1
    attr = k.new("struct mq_attr *", [0, 4, over, 0])
    assert k.mq_open(queues.name(), k.O_RDWR | k.O_CREAT, 0o600, attr).errno == "EINVAL"


@pytest.fixture
def roots_queue(queues: Queues) -> bytes:
    """The name of a 0600 queue of root's (a fixture's: root's in a root run, where an
    as_user test's body is nobody's); a skip in a user's run."""
    if os.geteuid() != 0:
        pytest.skip("only root can make a queue of another user's")
    fd, name = queues.open()
    os.close(fd)
    return name


# Another user's queue: opened as its mode allows (ipc/mqueue.c prepare_open:
# inode_permission), removed only by its owner, its directory being sticky (the
# mqueue root is 01777: fs/namei.c may_delete, check_sticky).
@pytest.mark.as_user("root may open and remove any queue (CAP_DAC_OVERRIDE, CAP_FOWNER)")
def test_another_users_queue_is_eacces_to_open_and_eperm_to_unlink(
    kernel: Kernel, roots_queue: bytes
) -> None:
    assert kernel.mq_open(roots_queue, kernel.O_RDONLY, 0, None).errno == "EACCES"
    assert kernel.mq_open(roots_queue, kernel.O_WRONLY, 0, None).errno == "EACCES"
    assert kernel.mq_unlink(roots_queue).errno == "EPERM"
