"""pipe(2)/pipe2(2): byte streams, end-of-file, EPIPE and SIGPIPE, PIPE_BUF atomicity,
non-blocking behaviour, and Linux's pipe capacity (F_GETPIPE_SZ/F_SETPIPE_SZ).

Python ignores SIGPIPE; tests about it set the disposition they need inside a child.
"""

import os
import signal

import pytest

from syscalls import forking, sysctl
from syscalls.kernel import Kernel


def _read(kernel: Kernel, fd: int, n: int = 4096) -> bytes:
    buf = kernel.buf(n)
    return kernel.bytes(buf, kernel.read(fd, buf, n).unwrap())


@pytest.mark.smoke
def test_pipe_carries_bytes_in_order(kernel: Kernel, fds) -> None:
    r, w = fds.pipe()
    kernel.write(w, b"abc", 3).unwrap()
    kernel.write(w, b"def", 3).unwrap()
    assert _read(kernel, r) == b"abcdef"


# The BSDs' pipe() returns the two fds in two registers, which this interface cannot read.
@pytest.mark.os("linux")
def test_pipe_legacy_call_returns_two_fds(kernel: Kernel, fds) -> None:
    pair = kernel.new("int[2]")
    kernel.pipe(pair).unwrap()
    fds.held += [pair[0], pair[1]]
    kernel.write(pair[1], b"x", 1).unwrap()
    assert _read(kernel, pair[0]) == b"x"


@pytest.mark.smoke
def test_pipe2_cloexec_sets_both_ends(kernel: Kernel, fds) -> None:
    for fd in fds.pipe(kernel.O_CLOEXEC):
        assert kernel.fcntl(fd, kernel.F_GETFD, 0).unwrap() & kernel.FD_CLOEXEC


@pytest.mark.smoke
def test_pipe2_nonblock_sets_both_ends(kernel: Kernel, fds) -> None:
    for fd in fds.pipe(kernel.O_NONBLOCK):
        assert kernel.fcntl(fd, kernel.F_GETFL, 0).unwrap() & kernel.O_NONBLOCK


def test_pipe2_unknown_flag_is_einval(kernel: Kernel) -> None:
    assert kernel.pipe2(kernel.new("int[2]"), kernel.O_CREAT).errno == "EINVAL"


# O_DIRECT (Linux 3.4) makes a packet pipe: each write is a packet and a read returns at
# most one, where a byte-stream pipe merges them (fs/pipe.c, pipe_write and pipe_read,
# PIPE_BUF_FLAG_PACKET). Non-blocking, so that a read finding nothing left fails at once.
@pytest.mark.os("linux")
def test_pipe2_direct_reads_one_write_at_a_time(kernel: Kernel, fds) -> None:
    r, w = fds.pipe(kernel.O_DIRECT | kernel.O_NONBLOCK)
    kernel.write(w, b"one", 3).unwrap()
    kernel.write(w, b"two", 3).unwrap()
    assert [_read(kernel, r), _read(kernel, r)] == [b"one", b"two"]


# NetBSD's pipe2 also takes O_NOSIGPIPE (sys/kern/sys_pipe.c, pipe1), which fcntl's
# F_GETNOSIGPIPE reads back on both ends and F_SETNOSIGPIPE changes on one file.
@pytest.mark.os("netbsd")
def test_pipe2_nosigpipe_sets_both_ends(kernel: Kernel, fds) -> None:
    for fd in fds.pipe(kernel.O_NOSIGPIPE):
        assert kernel.fcntl(fd, kernel.F_GETNOSIGPIPE, 0).unwrap() == 1


@pytest.mark.os("netbsd")
def test_fcntl_setnosigpipe_changes_only_its_end(kernel: Kernel, fds) -> None:
    r, w = fds.pipe()
    kernel.fcntl(w, kernel.F_SETNOSIGPIPE, 1).unwrap()
    got = [kernel.fcntl(fd, kernel.F_GETNOSIGPIPE, 0).unwrap() for fd in (r, w)]
    assert got == [0, 1]


@pytest.mark.smoke
def test_pipe_nonblocking_read_when_empty_is_eagain(kernel: Kernel, fds) -> None:
    r, _ = fds.pipe(kernel.O_NONBLOCK)
    assert kernel.read(r, kernel.buf(8), 8).errno == "EAGAIN"


@pytest.mark.smoke
def test_pipe_read_after_writer_closes_drains_then_eof(kernel: Kernel, fds) -> None:
    r, w = fds.pipe()
    kernel.write(w, b"last", 4).unwrap()
    fds.close(w)
    assert _read(kernel, r) == b"last"
    assert kernel.read(r, kernel.buf(8), 8).unwrap() == 0


@pytest.mark.parametrize(("end", "op"), [(0, "write"), (1, "read")])
@pytest.mark.smoke
def test_pipe_wrong_direction_is_ebadf(kernel: Kernel, fds, end: int, op: str) -> None:
    fd = fds.pipe()[end]
    assert getattr(kernel, op)(fd, kernel.buf(1), 1).errno == "EBADF"


def test_pipe_lseek_is_espipe(kernel: Kernel, fds) -> None:
    r, _ = fds.pipe()
    assert kernel.lseek(r, 0, kernel.SEEK_CUR).errno == "ESPIPE"


@pytest.mark.smoke
def test_pipe_write_without_readers_is_epipe_when_sigpipe_ignored(
    kernel: Kernel, fds, in_child
) -> None:
    r, w = fds.pipe()
    fds.close(r)

    def write() -> str:
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        return kernel.write(w, b"x", 1).outcome

    assert in_child(write) == "EPIPE"


def test_pipe_write_without_readers_kills_with_default_sigpipe(
    kernel: Kernel, fds, in_child
) -> None:
    r, w = fds.pipe()
    fds.close(r)

    def run() -> int:
        def writer() -> None:
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
            kernel.write(w, b"x", 1)

        status = forking.wait(kernel, forking.fork(kernel, writer))
        return os.WTERMSIG(status) if os.WIFSIGNALED(status) else -1

    assert in_child(run) == signal.SIGPIPE


def test_pipe_writes_up_to_pipe_buf_never_interleave(kernel: Kernel, fds, in_child) -> None:
    chunk, writers, rounds = kernel.PIPE_BUF, 4, 32

    def run() -> list[bytes]:
        r, w = os.pipe()

        def writer(tag: bytes) -> None:
            data = tag * chunk
            for _ in range(rounds):
                assert kernel.write(w, data, chunk).unwrap() == chunk

        pids = [forking.fork(kernel, lambda t=bytes([65 + i]): writer(t)) for i in range(writers)]
        os.close(w)
        stream = bytearray()
        while block := os.read(r, 65536):
            stream += block
        assert all(forking.exit_code(kernel, pid) == 0 for pid in pids)
        return [bytes(stream[i : i + chunk]) for i in range(0, len(stream), chunk)]

    pieces = in_child(run, timeout=30)
    assert len(pieces) == writers * rounds
    assert all(p == p[:1] * chunk for p in pieces)  # each PIPE_BUF slice from one writer


def test_pipe_nonblocking_write_beyond_capacity_is_partial(kernel: Kernel, fds) -> None:
    _, w = fds.pipe(kernel.O_NONBLOCK)
    filler = kernel.buf(1 << 20)
    written = kernel.write(w, filler, 1 << 20).unwrap()
    assert 0 < written < 1 << 20
    assert kernel.write(w, filler, 1).errno == "EAGAIN"


@pytest.mark.os("linux")
def test_pipe_nonblocking_small_write_is_all_or_eagain(kernel: Kernel, fds) -> None:
    _, w = fds.pipe(kernel.O_NONBLOCK)
    size = kernel.fcntl(w, kernel.F_GETPIPE_SZ, 0).unwrap()
    assert kernel.write(w, kernel.buf(size - 100), size - 100).unwrap() == size - 100
    # Room for 100 bytes: a 200-byte write (<= PIPE_BUF) must not be split.
    assert kernel.write(w, kernel.buf(200), 200).errno == "EAGAIN"
    assert kernel.write(w, kernel.buf(50), 50).unwrap() == 50


@pytest.mark.os("linux")
def test_pipe_default_capacity_is_sixteen_pages(kernel: Kernel, fds, observe) -> None:
    r, _ = fds.pipe()
    size = kernel.fcntl(r, kernel.F_GETPIPE_SZ, 0).unwrap()
    observe("pipe_size", size)
    assert size == 16 * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.os("linux")
def test_pipe_setpipe_sz_rounds_up_to_power_of_two_pages(kernel: Kernel, fds) -> None:
    r, w = fds.pipe()
    page = os.sysconf("SC_PAGE_SIZE")
    got = kernel.fcntl(w, kernel.F_SETPIPE_SZ, 2 * page + 1).unwrap()
    assert got == 4 * page
    assert kernel.fcntl(r, kernel.F_GETPIPE_SZ, 0).unwrap() == 4 * page


@pytest.mark.os("linux")
def test_pipe_setpipe_sz_below_queued_data_is_ebusy(kernel: Kernel, fds) -> None:
    _, w = fds.pipe()
    page = os.sysconf("SC_PAGE_SIZE")
    for _ in range(4):  # four writes of a page fill four pipe buffers
        kernel.write(w, kernel.buf(page), page).unwrap()
    assert kernel.fcntl(w, kernel.F_SETPIPE_SZ, page).errno == "EBUSY"


# A write of nothing succeeds before the readers are looked at: 0, not EPIPE (fs/pipe.c
# pipe_write: "Null write succeeds").
@pytest.mark.os("linux")
def test_pipe_zero_length_write_without_readers_returns_zero(kernel: Kernel, fds) -> None:
    r, w = fds.pipe()
    fds.close(r).unwrap()
    assert kernel.write(w, b"x", 0).unwrap() == 0
    assert kernel.write(w, b"x", 1).errno == "EPIPE"  # Python ignores SIGPIPE


# Below a page the size is a page (POSIX's minimum), a power-of-two number of pages is
# kept, and above 2^31 there is no size: EINVAL (fs/pipe.c round_pipe_size).
@pytest.mark.os("linux")
def test_pipe_setpipe_sz_below_a_page_is_one_page(kernel: Kernel, fds) -> None:
    _, w = fds.pipe()
    page = os.sysconf("SC_PAGE_SIZE")
    assert kernel.fcntl(w, kernel.F_SETPIPE_SZ, 1).unwrap() == page
    assert kernel.fcntl(w, kernel.F_GETPIPE_SZ, 0).unwrap() == page
    assert kernel.fcntl(w, kernel.F_SETPIPE_SZ, 8 * page).unwrap() == 8 * page


@pytest.mark.os("linux")
def test_pipe_setpipe_sz_above_2_gib_is_einval(kernel: Kernel, fds) -> None:
    if kernel.ffi.sizeof("long") != 8:
        pytest.skip("fcntl's argument is 32 bits here: no size above 2^31 to pass")
    _, w = fds.pipe()
    before = kernel.fcntl(w, kernel.F_GETPIPE_SZ, 0).unwrap()
    assert kernel.fcntl(w, kernel.F_SETPIPE_SZ, (1 << 31) + 1).errno == "EINVAL"
    assert kernel.fcntl(w, kernel.F_GETPIPE_SZ, 0).unwrap() == before


@pytest.mark.os("linux")
def test_pipe_getpipe_sz_on_a_non_pipe_is_ebadf(kernel: Kernel, fds) -> None:
    fd = fds.open("/dev/null", kernel.O_RDONLY)
    assert kernel.fcntl(fd, kernel.F_GETPIPE_SZ, 0).errno == "EBADF"
    assert kernel.fcntl(fd, kernel.F_SETPIPE_SZ, 4096).errno == "EBADF"


# Growing past /proc/sys/fs/pipe-max-size needs CAP_SYS_RESOURCE: EPERM without it
# (fs/pipe.c pipe_set_size), and the size stays.
@pytest.mark.os("linux")
@pytest.mark.as_user("root may grow a pipe past pipe-max-size (CAP_SYS_RESOURCE)")
def test_pipe_setpipe_sz_above_pipe_max_size_without_privilege_is_eperm(
    kernel: Kernel, fds
) -> None:
    _, w = fds.pipe()
    limit = sysctl.number("fs/pipe-max-size")
    before = kernel.fcntl(w, kernel.F_GETPIPE_SZ, 0).unwrap()
    assert kernel.fcntl(w, kernel.F_SETPIPE_SZ, 2 * limit).errno == "EPERM"
    assert kernel.fcntl(w, kernel.F_GETPIPE_SZ, 0).unwrap() == before


# A read of nothing returns 0 at once, even from an empty pipe on a blocking descriptor
# (fs/pipe.c pipe_read). A kernel that waited would be ended by the child's time limit.
@pytest.mark.os("linux")
def test_pipe_zero_length_read_of_an_empty_pipe_returns_at_once(
    kernel: Kernel, fds, in_child
) -> None:
    r, _ = fds.pipe()
    assert in_child(lambda: kernel.read(r, kernel.buf(1), 0).outcome, timeout=5) == "ok"


def test_pipe_ends_are_read_only_and_write_only(kernel: Kernel, fds) -> None:
    r, w = fds.pipe()
    assert kernel.fcntl(r, kernel.F_GETFL, 0).unwrap() & kernel.O_ACCMODE == kernel.O_RDONLY
    assert kernel.fcntl(w, kernel.F_GETFL, 0).unwrap() & kernel.O_ACCMODE == kernel.O_WRONLY


# Shrinking to a size the queued data still fits keeps the data (fs/pipe.c
# pipe_resize_ring).
@pytest.mark.os("linux")
def test_pipe_setpipe_sz_shrinking_around_queued_data_keeps_it(kernel: Kernel, fds) -> None:
    r, w = fds.pipe()
    page = os.sysconf("SC_PAGE_SIZE")
    kernel.write(w, b"abc", 3).unwrap()
    assert kernel.fcntl(w, kernel.F_SETPIPE_SZ, page).unwrap() == page
    assert _read(kernel, r) == b"abc"
