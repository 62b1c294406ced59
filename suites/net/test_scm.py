"""Ancillary data over AF_UNIX: SCM_RIGHTS passes open files, SCM_CREDENTIALS (with
SO_PASSCRED, Linux) carries the sender's pid/uid/gid.

Control messages are laid out as the CMSG_* macros do: a struct cmsghdr, then the data,
each padded to the alignment of size_t (include/linux/socket.h).
"""

import os
import resource
from pathlib import Path
from typing import Any

import pytest

from syscalls.expect import ByOS
from syscalls.kernel import Kernel

AS_USER = pytest.mark.as_user("root (CAP_SYS_ADMIN) may claim any pid")


# Rights sent to a receiver that gave no control buffer: NetBSD 7 drops them without
# MSG_CTRUNC (sys/kern/uipc_syscalls.c, copyout_msg_control with msg_controllen 0).
CTRUNC_WITHOUT_ROOM = ByOS(default=True, netbsd=False)

SCM_MAX_FD = 253  # Linux's limit on descriptors in one SCM_RIGHTS message (include/net/scm.h)


def _align(kernel: Kernel, n: int) -> int:
    a = kernel.ffi.sizeof("size_t")
    return (n + a - 1) & ~(a - 1)


def _cmsg_len(kernel: Kernel, n: int) -> int:
    return _align(kernel, kernel.ffi.sizeof("struct cmsghdr")) + n


def _cmsg_space(kernel: Kernel, n: int) -> int:
    return _align(kernel, kernel.ffi.sizeof("struct cmsghdr")) + _align(kernel, n)


def _inode(kernel: Kernel, fd: int) -> int:
    st = kernel.new("struct stat *")
    kernel.fstat(fd, st).unwrap()
    return int(st.st_ino)


def _msg(kernel: Kernel, data: Any, size: int, control: Any, control_len: int) -> tuple:
    iov = kernel.new("struct iovec *", (data, size))
    msg = kernel.new("struct msghdr *")
    msg.msg_iov, msg.msg_iovlen = iov, 1
    msg.msg_control, msg.msg_controllen = control or kernel.ffi.NULL, control_len
    return msg, iov


def _send_cmsg(kernel: Kernel, fd: int, level: int, kind: int, payload: bytes) -> Any:
    control = kernel.buf(_cmsg_space(kernel, len(payload)))
    hdr = kernel.ffi.cast("struct cmsghdr *", control)
    hdr.cmsg_len, hdr.cmsg_level, hdr.cmsg_type = _cmsg_len(kernel, len(payload)), level, kind
    off = _cmsg_len(kernel, 0)
    kernel.ffi.memmove(kernel.ffi.addressof(control, off), payload, len(payload))
    data = kernel.buf(b"m")  # named: msg only points at it
    msg, _iov = _msg(kernel, data, 1, control, len(control))
    return kernel.sendmsg(fd, msg, 0)


def _recv_cmsg(kernel: Kernel, fd: int, room: int, flags: int = 0) -> tuple[int, list, int]:
    """recvmsg: (msg_flags, [(level, type, payload bytes)], bytes read)."""
    control = kernel.buf(room)
    data = kernel.buf(16)
    msg, _iov = _msg(kernel, data, 16, control, room)
    n = kernel.recvmsg(fd, msg, flags).unwrap()
    out, off, base = [], 0, _cmsg_len(kernel, 0)
    while off + base <= msg.msg_controllen:
        hdr = kernel.ffi.cast("struct cmsghdr *", kernel.ffi.addressof(control, off))
        payload = kernel.bytes(kernel.ffi.addressof(control, off + base), hdr.cmsg_len - base)
        out.append((hdr.cmsg_level, hdr.cmsg_type, payload))
        off += _align(kernel, hdr.cmsg_len)
    return msg.msg_flags, out, n


def _fds_of(kernel: Kernel, payload: bytes) -> list[int]:
    ints = kernel.new("int[]", len(payload) // kernel.ffi.sizeof("int"))
    kernel.ffi.memmove(ints, payload, len(payload))
    return list(ints)


def _send_fds(kernel: Kernel, sock: int, *fds_to_send: int) -> None:
    payload = bytes(kernel.ffi.buffer(kernel.new("int[]", list(fds_to_send))))
    assert _send_cmsg(kernel, sock, kernel.SOL_SOCKET, kernel.SCM_RIGHTS, payload).unwrap() == 1


def test_scm_rights_received_fd_refers_to_the_same_file(kernel: Kernel, fds, tmp: Path) -> None:
    a, b = fds.socketpair()
    (tmp / "f").write_bytes(b"")
    fd = fds(kernel.openat(kernel.AT_FDCWD, tmp / "f", kernel.O_RDWR))
    _send_fds(kernel, a, fd)
    _, cmsgs, n = _recv_cmsg(kernel, b, _cmsg_space(kernel, 4))
    [(level, kind, payload)] = cmsgs
    assert (level, kind, n) == (kernel.SOL_SOCKET, kernel.SCM_RIGHTS, 1)
    [got] = _fds_of(kernel, payload)
    fds.held.append(got)
    assert got != fd
    kernel.write(got, b"via passed fd", 13).unwrap()
    assert (tmp / "f").read_bytes() == b"via passed fd"
    assert _inode(kernel, got) == _inode(kernel, fd)


def test_scm_rights_shares_the_file_offset(kernel: Kernel, fds, tmp: Path) -> None:
    a, b = fds.socketpair()
    (tmp / "f").write_bytes(b"0123456789")
    fd = fds(kernel.openat(kernel.AT_FDCWD, tmp / "f", kernel.O_RDONLY))
    _send_fds(kernel, a, fd)
    _, [(_, _, payload)], _ = _recv_cmsg(kernel, b, _cmsg_space(kernel, 4))
    [got] = _fds_of(kernel, payload)
    fds.held.append(got)
    kernel.lseek(got, 4, kernel.SEEK_SET).unwrap()
    assert kernel.lseek(fd, 0, kernel.SEEK_CUR).unwrap() == 4


def test_scm_rights_passes_several_fds_in_one_message(kernel: Kernel, fds) -> None:
    a, b = fds.socketpair()
    r, w = fds.pipe()
    _send_fds(kernel, a, r, w)
    _, [(_, _, payload)], _ = _recv_cmsg(kernel, b, _cmsg_space(kernel, 8))
    got_r, got_w = _fds_of(kernel, payload)
    fds.held += [got_r, got_w]
    kernel.write(got_w, b"p", 1).unwrap()
    buf = kernel.buf(1)
    assert kernel.read(r, buf, 1).unwrap() == 1


@pytest.mark.os("linux")
def test_scm_rights_passes_scm_max_fd_descriptors_and_no_more(kernel: Kernel, fds) -> None:
    a, b = fds.socketpair()
    r, _ = fds.pipe()

    def payload(n: int) -> bytes:
        return bytes(kernel.ffi.buffer(kernel.new("int[]", [r] * n)))

    too_many = _send_cmsg(kernel, a, kernel.SOL_SOCKET, kernel.SCM_RIGHTS, payload(SCM_MAX_FD + 1))
    assert too_many.errno == "EINVAL"
    most = payload(SCM_MAX_FD)
    assert _send_cmsg(kernel, a, kernel.SOL_SOCKET, kernel.SCM_RIGHTS, most).unwrap() == 1
    flags, [(_, kind, got)], n = _recv_cmsg(kernel, b, _cmsg_space(kernel, len(most)))
    received = _fds_of(kernel, got)
    fds.held += received
    assert (kind, n, flags & kernel.MSG_CTRUNC) == (kernel.SCM_RIGHTS, 1, 0)
    assert len(received) == SCM_MAX_FD
    assert len(set(received)) == SCM_MAX_FD  # each one a new descriptor


def test_scm_rights_cmsg_cloexec_marks_received_fd(kernel: Kernel, fds) -> None:
    a, b = fds.socketpair()
    r, _ = fds.pipe()
    _send_fds(kernel, a, r)
    _, [(_, _, payload)], _ = _recv_cmsg(kernel, b, _cmsg_space(kernel, 4), kernel.MSG_CMSG_CLOEXEC)
    [got] = _fds_of(kernel, payload)
    fds.held.append(got)
    assert kernel.fcntl(got, kernel.F_GETFD, 0).unwrap() & kernel.FD_CLOEXEC


def test_scm_rights_without_room_for_control_is_ctrunc(kernel: Kernel, fds) -> None:
    a, b = fds.socketpair()
    r, _ = fds.pipe()
    _send_fds(kernel, a, r)
    flags, cmsgs, n = _recv_cmsg(kernel, b, 0)
    assert (n, cmsgs) == (1, [])
    assert bool(flags & kernel.MSG_CTRUNC) == CTRUNC_WITHOUT_ROOM[kernel.platform.os]


def test_scm_rights_of_a_closed_fd_is_ebadf(kernel: Kernel, fds) -> None:
    a, _ = fds.socketpair()
    r, _ = fds.pipe()
    fds.close(r)
    payload = bytes(kernel.ffi.buffer(kernel.new("int *", r)))
    assert _send_cmsg(kernel, a, kernel.SOL_SOCKET, kernel.SCM_RIGHTS, payload).errno == "EBADF"


@pytest.mark.os("linux")
def test_scm_credentials_with_passcred_carry_sender_ids(kernel: Kernel, fds) -> None:
    a, b = fds.socketpair(kernel.SOCK_DGRAM)
    kernel.setsockopt(b, kernel.SOL_SOCKET, kernel.SO_PASSCRED, kernel.new("int *", 1), 4).unwrap()
    kernel.write(a, b"c", 1).unwrap()
    size = kernel.ffi.sizeof("struct ucred")
    _, cmsgs, _ = _recv_cmsg(kernel, b, _cmsg_space(kernel, size))
    [(level, kind, payload)] = cmsgs
    assert (level, kind) == (kernel.SOL_SOCKET, kernel.SCM_CREDENTIALS)
    cred = kernel.new("struct ucred *")
    kernel.ffi.memmove(cred, payload, size)
    assert (cred.pid, cred.uid, cred.gid) == (os.getpid(), os.geteuid(), os.getegid())


def test_scm_credentials_are_absent_without_passcred(kernel: Kernel, fds) -> None:
    a, b = fds.socketpair(kernel.SOCK_DGRAM)
    kernel.write(a, b"c", 1).unwrap()
    _, cmsgs, _ = _recv_cmsg(kernel, b, _cmsg_space(kernel, 12))
    assert cmsgs == []


@pytest.mark.os("linux")
@AS_USER
def test_scm_credentials_claiming_another_pid_is_eperm(kernel: Kernel, fds) -> None:
    a, b = fds.socketpair(kernel.SOCK_DGRAM)
    kernel.setsockopt(b, kernel.SOL_SOCKET, kernel.SO_PASSCRED, kernel.new("int *", 1), 4).unwrap()
    cred = kernel.new("struct ucred *", (1, os.geteuid(), os.getegid()))
    payload = bytes(kernel.ffi.buffer(cred))
    r = _send_cmsg(kernel, a, kernel.SOL_SOCKET, kernel.SCM_CREDENTIALS, payload)
    assert r.errno == "EPERM"


@pytest.mark.os("linux")
def test_scm_credentials_naming_oneself_are_accepted(kernel: Kernel, fds) -> None:
    a, b = fds.socketpair(kernel.SOCK_DGRAM)
    kernel.setsockopt(b, kernel.SOL_SOCKET, kernel.SO_PASSCRED, kernel.new("int *", 1), 4).unwrap()
    cred = kernel.new("struct ucred *", (os.getpid(), os.geteuid(), os.getegid()))
    payload = bytes(kernel.ffi.buffer(cred))
    _send_cmsg(kernel, a, kernel.SOL_SOCKET, kernel.SCM_CREDENTIALS, payload).unwrap()
    _, [(_, kind, got)], _ = _recv_cmsg(kernel, b, _cmsg_space(kernel, len(payload)))
    assert (kind, got) == (kernel.SCM_CREDENTIALS, payload)


@pytest.mark.os("linux")
def test_scm_rights_with_no_descriptor_sends_the_data_alone(kernel: Kernel, fds) -> None:
    """An SCM_RIGHTS header with no fds is no error: nothing is passed."""
    a, b = fds.socketpair()
    assert _send_cmsg(kernel, a, kernel.SOL_SOCKET, kernel.SCM_RIGHTS, b"").unwrap() == 1
    _, cmsgs, n = _recv_cmsg(kernel, b, _cmsg_space(kernel, 4))
    assert (n, cmsgs) == (1, [])


@pytest.mark.os("linux")
def test_scm_unknown_socket_level_message_is_einval(kernel: Kernel, fds) -> None:
    a, _ = fds.socketpair()
    payload = bytes(4)
    assert _send_cmsg(kernel, a, kernel.SOL_SOCKET, 0x7FFF, payload).errno == "EINVAL"


@pytest.mark.os("linux")
def test_scm_cmsg_len_beyond_the_control_buffer_is_einval(kernel: Kernel, fds) -> None:
    a, _ = fds.socketpair()
    r, _ = fds.pipe()
    payload = bytes(kernel.ffi.buffer(kernel.new("int *", r)))
    control = kernel.buf(_cmsg_space(kernel, len(payload)))
    hdr = kernel.ffi.cast("struct cmsghdr *", control)
    hdr.cmsg_len = len(control) + 64  # claims more than msg_controllen holds
    hdr.cmsg_level, hdr.cmsg_type = kernel.SOL_SOCKET, kernel.SCM_RIGHTS
    kernel.ffi.memmove(kernel.ffi.addressof(control, _cmsg_len(kernel, 0)), payload, len(payload))
    data = kernel.buf(b"m")
    msg, _iov = _msg(kernel, data, 1, control, len(control))
    assert kernel.sendmsg(a, msg, 0).errno == "EINVAL"


@pytest.mark.os("linux")
def test_scm_rights_peeked_installs_descriptors_and_the_read_installs_more(
    kernel: Kernel, fds, tmp: Path
) -> None:
    """A MSG_PEEK hands over copies of the passed files and leaves them queued, so the
    real read installs another descriptor for the same file (net/unix/af_unix.c)."""
    a, b = fds.socketpair()
    f = fds(kernel.openat(kernel.AT_FDCWD, tmp / "f", kernel.O_CREAT | kernel.O_RDWR, 0o600))
    _send_fds(kernel, a, f)
    room = _cmsg_space(kernel, kernel.ffi.sizeof("int"))
    _, peeked, _ = _recv_cmsg(kernel, b, room, kernel.MSG_PEEK)
    _, read, _ = _recv_cmsg(kernel, b, room)
    [first] = _fds_of(kernel, peeked[0][2])
    [second] = _fds_of(kernel, read[0][2])
    fds.held += [first, second]
    assert first != second
    assert _inode(kernel, first) == _inode(kernel, second) == _inode(kernel, f)


# Descriptors in flight (sent, not yet received) count against their sender's user: past
# its RLIMIT_NOFILE, SCM_RIGHTS is ETOOMANYREFS unless the sender holds CAP_SYS_RESOURCE
# or CAP_SYS_ADMIN (Linux net/unix/scm.c too_many_unix_fds). Counted before each send:
# with the limit at 4, five go, the sixth is refused. In a child, whose limit it lowers.
INFLIGHT_LIMIT = 4


@pytest.mark.os("linux")
@pytest.mark.as_user("root may keep any number of descriptors in flight (CAP_SYS_RESOURCE)")
def test_scm_rights_beyond_rlimit_nofile_in_flight_is_etoomanyrefs(
    kernel: Kernel, fds, in_child
) -> None:
    def run() -> list[str]:
        a, b = fds.socketpair()  # before the limit: no descriptor is opened after it
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (INFLIGHT_LIMIT, hard))
        payload = bytes(kernel.ffi.buffer(kernel.new("int[]", [b])))
        outcomes = []
        for _ in range(3 * INFLIGHT_LIMIT):
            r = _send_cmsg(kernel, a, kernel.SOL_SOCKET, kernel.SCM_RIGHTS, payload)
            outcomes.append(r.outcome)
            if not r.ok:
                break
        return outcomes

    assert in_child(run) == ["ok"] * (INFLIGHT_LIMIT + 1) + ["ETOOMANYREFS"]
