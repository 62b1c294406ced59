"""System V message queues: msgget/msgsnd/msgrcv on IPC_PRIVATE queues, which the
`sysv` fixture removes whatever the test did. A message is a C long mtype followed by
its text (struct msgbuf, include/uapi/linux/msg.h). IPC_STAT and IPC_SET take struct
msqid64_ds (platforms/linux/lp64.h, i386.h); its times are CLOCK_REALTIME seconds."""

import os
import time

import pytest

from syscalls import forking, namespaces, sysctl
from syscalls.kernel import Kernel, Result

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


def _stat(kernel: Kernel, q: int):
    ds = kernel.new("struct msqid64_ds *")
    kernel.msgctl(q, kernel.IPC_STAT, ds).unwrap()
    return ds


def _set_qbytes(kernel: Kernel, q: int, qbytes: int) -> None:
    ds = _stat(kernel, q)
    ds.msg_qbytes = qbytes  # lowering needs no privilege
    kernel.msgctl(q, kernel.IPC_SET, ds).unwrap()


def _around(before: int, t: int) -> bool:
    """t (seconds) was taken between `before` and now, give or take a second."""
    return before - 1 <= t <= time.time() + 1


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
    above = 1 << 8 * kernel.ffi.sizeof("long") - 1  # LONG_MAX + 1 of this ABI
    assert kernel.msgrcv(q, buf, above, 0, kernel.IPC_NOWAIT).errno == "EINVAL"
    assert _recv(kernel, q) == (1, b"kept")


# MSG_COPY needs CONFIG_CHECKPOINT_RESTORE: without it msgrcv answers ENOSYS, which the
# tests below take as a skip saying so (syscalls.enosys), and as a failure where the
# kernel has checkpoint/restore.
def _copy(kernel: Kernel, q: int, index: int, flags: int = 0):
    return _recv(kernel, q, mtype=index, flags=kernel.MSG_COPY | flags)


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
    assert kernel.msgrcv(q, buf, 32, 0, kernel.MSG_COPY).errno == "EINVAL"


def test_msgctl_ipc_stat_of_a_new_queue_reports_creator_mode_and_no_traffic(
    kernel: Kernel, sysv
) -> None:
    before = int(time.time())
    q = sysv.msg(0o640)
    ds = _stat(kernel, q)
    assert ds.msg_perm.mode & 0o777 == 0o640
    assert (ds.msg_perm.uid, ds.msg_perm.cuid) == (os.geteuid(), os.geteuid())
    assert (ds.msg_perm.gid, ds.msg_perm.cgid) == (os.getegid(), os.getegid())
    assert (ds.msg_qnum, ds.msg_cbytes, ds.msg_lspid, ds.msg_lrpid) == (0, 0, 0, 0)
    assert (ds.msg_stime, ds.msg_rtime) == (0, 0)
    assert _around(before, ds.msg_ctime)
    assert ds.msg_qbytes == _proc_int("/proc/sys/kernel/msgmnb")[0]


def test_msgctl_ipc_stat_counts_queued_messages_bytes_and_who_sent_and_received(
    kernel: Kernel, sysv
) -> None:
    q = sysv.msg()
    before = int(time.time())
    _send(kernel, q, 1, b"abc").unwrap()
    _send(kernel, q, 2, b"defgh").unwrap()
    ds = _stat(kernel, q)
    assert (ds.msg_qnum, ds.msg_cbytes) == (2, 8)
    assert (ds.msg_lspid, ds.msg_lrpid, ds.msg_rtime) == (os.getpid(), 0, 0)
    assert _around(before, ds.msg_stime)
    assert _recv(kernel, q) == (1, b"abc")
    ds = _stat(kernel, q)
    assert (ds.msg_qnum, ds.msg_cbytes) == (1, 5)
    assert ds.msg_lrpid == os.getpid()
    assert _around(before, ds.msg_rtime)


def test_msgctl_ipc_stat_names_the_process_that_sent_last(kernel: Kernel, sysv, in_child) -> None:
    q = sysv.msg()

    def run() -> tuple[int, int, int, int]:
        def sender() -> None:
            _send(kernel, q, 3, b"from the child").unwrap()

        child = forking.fork(kernel, sender)
        assert forking.exit_code(kernel, child) == 0
        assert _recv(kernel, q) == (3, b"from the child")
        ds = _stat(kernel, q)
        return child, os.getpid(), ds.msg_lspid, ds.msg_lrpid

    child, me, lspid, lrpid = in_child(run)
    assert (lspid, lrpid) == (child, me)


def test_msgctl_ipc_set_changes_only_the_permission_bits_of_the_mode(kernel: Kernel, sysv) -> None:
    q = sysv.msg(0o600)
    ds = _stat(kernel, q)
    ds.msg_perm.mode = 0o7640  # set-id and sticky bits are not a queue's to keep
    kernel.msgctl(q, kernel.IPC_SET, ds).unwrap()
    assert _stat(kernel, q).msg_perm.mode & 0o7777 == 0o640


def test_msgsnd_nowait_into_a_queue_without_room_for_the_message_is_eagain(
    kernel: Kernel, sysv
) -> None:
    q = sysv.msg()
    _set_qbytes(kernel, q, 10)
    assert _stat(kernel, q).msg_qbytes == 10
    assert _send(kernel, q, 1, b"x" * 11, kernel.IPC_NOWAIT).errno == "EAGAIN"  # never fits
    _send(kernel, q, 1, b"12345678").unwrap()
    assert _send(kernel, q, 1, b"abc", kernel.IPC_NOWAIT).errno == "EAGAIN"
    _send(kernel, q, 1, b"ab", kernel.IPC_NOWAIT).unwrap()  # exactly fills it
    assert (_stat(kernel, q).msg_cbytes, _stat(kernel, q).msg_qnum) == (10, 2)


def test_msgsnd_counts_every_message_against_msg_qbytes_even_an_empty_one(
    kernel: Kernel, sysv
) -> None:
    # Each message counts as one byte towards the limit too, so that empty messages
    # cannot fill kernel memory without bound (ipc/msg.c msg_fits_inqueue).
    q = sysv.msg()
    _set_qbytes(kernel, q, 2)
    _send(kernel, q, 1, b"").unwrap()
    _send(kernel, q, 1, b"").unwrap()
    assert _send(kernel, q, 1, b"", kernel.IPC_NOWAIT).errno == "EAGAIN"
    assert _stat(kernel, q).msg_qnum == 2


def _info(kernel: Kernel, cmd: int) -> tuple[int, object]:
    info = kernel.new("struct msginfo *")
    return kernel.msgctl(0, cmd, info).unwrap(), info


def test_msgctl_msg_info_counts_the_queues_messages_and_bytes_of_its_namespace(
    kernel: Kernel, in_child
) -> None:
    def run() -> tuple[int, tuple[int, int, int], list[int], list[int]]:
        namespaces.own_ipc_namespace(kernel)  # the counts are of this namespace's alone
        first = kernel.msgget(kernel.IPC_PRIVATE, kernel.IPC_CREAT | 0o600).unwrap()
        kernel.msgget(kernel.IPC_PRIVATE, kernel.IPC_CREAT | 0o600).unwrap()
        _send(kernel, first, 1, b"abc").unwrap()
        _send(kernel, first, 2, b"defgh").unwrap()
        top, info = _info(kernel, kernel.MSG_INFO)
        limits = [_proc_int(f"/proc/sys/kernel/msg{n}")[0] for n in ("max", "mnb", "mni")]
        usage = (info.msgpool, info.msgmap, info.msgtql)
        return top, usage, limits, [info.msgmax, info.msgmnb, info.msgmni]

    top, usage, limits, reported = in_child(run)
    assert top == 1  # the highest index in use: two queues, 0 and 1
    assert usage == (2, 2, 8)  # queues, messages, bytes of text
    assert reported == limits


def test_msgctl_ipc_info_reports_the_limits_and_no_usage(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int, int, list[int], list[int]]:
        namespaces.own_ipc_namespace(kernel)
        q = kernel.msgget(kernel.IPC_PRIVATE, kernel.IPC_CREAT | 0o600).unwrap()
        _send(kernel, q, 1, b"abc").unwrap()
        top, info = _info(kernel, kernel.IPC_INFO)
        limits = [_proc_int(f"/proc/sys/kernel/msg{n}")[0] for n in ("max", "mnb", "mni")]
        return top, info.msgmap, info.msgtql, limits, [info.msgmax, info.msgmnb, info.msgmni]

    top, msgmap, msgtql, limits, reported = in_child(run)
    assert top == 0
    assert reported == limits
    # IPC_INFO gives the compile-time figures (MSGMAP, MSGTQL: both MSGMNB's default),
    # not the queue's one message and three bytes, as MSG_INFO would.
    assert (msgmap, msgtql) == (16384, 16384)


@pytest.mark.parametrize(
    "cmd", ["MSG_STAT", pytest.param("MSG_STAT_ANY", marks=pytest.mark.min_kernel("4.17"))]
)
def test_msgctl_msg_stat_takes_an_index_and_answers_the_queues_id(
    kernel: Kernel, in_child, stat_by_index, cmd: str
) -> None:
    def run() -> tuple[set[int], dict[int, int], str]:
        namespaces.own_ipc_namespace(kernel)
        made = {
            kernel.msgget(kernel.IPC_PRIVATE, kernel.IPC_CREAT | 0o600).unwrap() for _ in range(2)
        }
        top, _ = _info(kernel, kernel.MSG_INFO)
        ds = kernel.new("struct msqid64_ds *")

        def stat(index: int) -> Result:
            return kernel.msgctl(index, getattr(kernel, cmd), ds)

        return made, *stat_by_index(stat, top, lambda: ds.msg_qbytes)

    made, found, past_the_top = in_child(run)
    assert set(found) == made
    assert all(qbytes > 0 for qbytes in found.values())  # each queue's own figures
    assert past_the_top == "EINVAL"


# Only an object's creator or owner, or a holder of CAP_SYS_ADMIN, may change or remove
# it (ipc/util.c ipcctl_obtain_check), whatever its mode lets others do; using it is its
# mode's to allow (ipcperms), else CAP_IPC_OWNER's. The queue is root's (a fixture's).
# msgget (semget, shmget) checks only the access its flags ask for (ipc/util.c
# ipc_check_perms): with none asked, another's queue is found whatever its mode.
@pytest.mark.as_user("root may change or remove any queue (CAP_SYS_ADMIN)")
@pytest.mark.parametrize("anothers", [("msg", 0o666)], indirect=True, ids=["666"])
def test_msgctl_set_or_rmid_of_another_users_queue_is_eperm(kernel: Kernel, anothers) -> None:
    _, q = anothers
    ds = kernel.buf(256)  # struct msqid64_ds, as IPC_STAT fills it
    kernel.msgctl(q, kernel.IPC_STAT, ds).unwrap()
    assert kernel.msgctl(q, kernel.IPC_SET, ds).errno == "EPERM"
    assert kernel.msgctl(q, kernel.IPC_RMID, None).errno == "EPERM"
    _send(kernel, q, 1, b"still there", kernel.IPC_NOWAIT).unwrap()  # 0666: ours to use
    assert _recv(kernel, q) == (1, b"still there")


@pytest.mark.as_user("root may use any queue (CAP_IPC_OWNER)")
@pytest.mark.parametrize("anothers", [("msg", 0o600)], indirect=True, ids=["600"])
def test_another_users_queue_without_permission_is_eacces_to_get_stat_and_use(
    kernel: Kernel, anothers
) -> None:
    key, q = anothers
    assert kernel.msgget(key, 0).unwrap() == q  # asking for no access: granted
    assert kernel.msgget(key, 0o400).errno == "EACCES"
    assert kernel.msgget(key, 0o200).errno == "EACCES"
    assert kernel.msgctl(q, kernel.IPC_STAT, kernel.buf(256)).errno == "EACCES"
    assert _send(kernel, q, 1, b"x", kernel.IPC_NOWAIT).errno == "EACCES"
    assert _recv(kernel, q) == "EACCES"


# A queue's owner may resize it up to kernel.msgmnb; past that is CAP_SYS_RESOURCE's
# (ipc/msg.c msgctl_down). The queue is the test's own, removed by it.
@pytest.mark.as_user("root may size a queue past msgmnb (CAP_SYS_RESOURCE)")
def test_msgctl_set_msg_qbytes_past_msgmnb_as_a_user_is_eperm(kernel: Kernel) -> None:
    mnb = sysctl.number("kernel/msgmnb")
    q = kernel.msgget(kernel.IPC_PRIVATE, kernel.IPC_CREAT | 0o600).unwrap()
    try:
        ds = kernel.new("struct msqid64_ds *")
        kernel.msgctl(q, kernel.IPC_STAT, ds).unwrap()
        ds.msg_qbytes = mnb + 1
        refused = kernel.msgctl(q, kernel.IPC_SET, ds).outcome
        kernel.msgctl(q, kernel.IPC_STAT, ds).unwrap()
        kept = ds.msg_qbytes
        ds.msg_qbytes = mnb // 2
        lowered = kernel.msgctl(q, kernel.IPC_SET, ds).outcome
    finally:
        kernel.msgctl(q, kernel.IPC_RMID, None).unwrap()
    assert (refused, kept, lowered) == ("EPERM", mnb, "ok")
