"""io_uring_enter(2) and io_uring_register(2): real I/O through a ring (io_uring_setup's
own tests are in test_io_uring_setup.py).

The submission queue (head, tail, mask, and an index array), the completion queue and
the SQE array are mapped from the ring's descriptor at IORING_OFF_SQ_RING, _CQ_RING and
_SQES (one mapping for both rings where the kernel has IORING_FEAT_SINGLE_MMAP). An SQE
is filled, its index stored in the array, the tail advanced; io_uring_enter submits and,
with IORING_ENTER_GETEVENTS, waits for min_complete completions, each a CQE carrying
the SQE's user_data and res (bytes moved, or a negative errno: a failed operation is the
CQE's result, not the call's). Registered buffers (READ_FIXED/WRITE_FIXED) and files
(IOSQE_FIXED_FILE) are named by index. A kernel that switches io_uring off
(kernel.io_uring_disabled, Linux >= 6.6) answers io_uring_setup with EPERM: the tests
skip, saying so.
"""

import errno
import os
from pathlib import Path

import pytest

from syscalls.kernel import Kernel

pytestmark = [pytest.mark.os("linux"), pytest.mark.min_kernel("5.6")]

PAGE = os.sysconf("SC_PAGE_SIZE")
GETEVENTS_ARG = "struct { uint64_t sigmask; uint32_t sigmask_sz; uint32_t pad; uint64_t ts; } *"


class Ring:
    """A ring of `entries` SQEs, its queues mapped; unmapped and closed by close()."""

    def __init__(self, kernel: Kernel, entries: int = 8) -> None:
        k = self.kernel = kernel
        ffi = k.ffi
        self.params = p = k.new("struct io_uring_params *")
        r = k.io_uring_setup(entries, p)
        if r.errno == "EPERM":
            pytest.skip("io_uring is disabled here (io_uring_setup: EPERM)")
        self.fd = r.unwrap()
        self.maps: list[tuple[int, int]] = []
        sq_size = p.sq_off.array + p.sq_entries * 4
        cq_size = p.cq_off.cqes + p.cq_entries * ffi.sizeof("struct io_uring_cqe")
        single = p.features & k.IORING_FEAT_SINGLE_MMAP
        if single:
            sq_size = cq_size = max(sq_size, cq_size)
        sq = self._map(sq_size, k.IORING_OFF_SQ_RING)
        cq = sq if single else self._map(cq_size, k.IORING_OFF_CQ_RING)
        sqes = self._map(p.sq_entries * ffi.sizeof("struct io_uring_sqe"), k.IORING_OFF_SQES)
        u32 = "uint32_t *"
        self.sq_tail = ffi.cast(u32, sq + p.sq_off.tail)
        self.sq_mask = ffi.cast(u32, sq + p.sq_off.ring_mask)[0]
        self.sq_array = ffi.cast(u32, sq + p.sq_off.array)
        self.cq_head = ffi.cast(u32, cq + p.cq_off.head)
        self.cq_tail = ffi.cast(u32, cq + p.cq_off.tail)
        self.cq_mask = ffi.cast(u32, cq + p.cq_off.ring_mask)[0]
        self.cqes = ffi.cast("struct io_uring_cqe *", cq + p.cq_off.cqes)
        self.sqes = ffi.cast("struct io_uring_sqe *", sqes)
        self.keep: list = []  # buffers the kernel may still use
        self.queued = 0

    def _map(self, size: int, offset: int) -> int:
        k = self.kernel
        prot, flags = k.PROT_READ | k.PROT_WRITE, k.MAP_SHARED | k.MAP_POPULATE
        addr = k.mmap(0, size, prot, flags, self.fd, offset).unwrap()
        self.maps.append((addr, size))
        return addr

    def sqe(self, op: str, fd: int = -1, buf=None, length: int = 0, off: int = 0, data: int = 0):
        """The next free SQE, filled and queued (submitted by enter())."""
        k = self.kernel
        tail = self.sq_tail[0]
        index = tail & self.sq_mask
        s = self.sqes[index]
        k.ffi.memmove(k.ffi.addressof(s), b"\0" * k.ffi.sizeof(s), k.ffi.sizeof(s))
        s.opcode, s.fd, s.len, s.off, s.user_data = (
            getattr(k, f"IORING_OP_{op}"),
            fd,
            length,
            off,
            data,
        )
        if buf is not None:
            s.addr = k.address(buf)
            self.keep.append(buf)
        self.sq_array[index] = index
        self.sq_tail[0] = tail + 1
        self.queued += 1
        return s

    def enter(self, wait: int | None = None, flags: int = 0):
        """io_uring_enter: submit what is queued, wait for `wait` completions (default:
        as many as were queued)."""
        k = self.kernel
        n, self.queued = self.queued, 0
        wait = n if wait is None else wait
        flags |= k.IORING_ENTER_GETEVENTS if wait else 0
        return k.io_uring_enter(self.fd, n, wait, flags, None, 0)

    def completions(self) -> list[tuple[int, int]]:
        """Every CQE posted so far, as (user_data, res), consumed."""
        out = []
        head = self.cq_head[0]
        while head != self.cq_tail[0]:
            cqe = self.cqes[head & self.cq_mask]
            out.append((cqe.user_data, cqe.res))
            head += 1
        self.cq_head[0] = head
        return out

    def register(self, opcode: str, arg, nr: int):
        return self.kernel.io_uring_register(self.fd, getattr(self.kernel, opcode), arg, nr)

    def close(self) -> None:
        k = self.kernel
        with k.unobserved():
            for addr, size in self.maps:
                k.munmap(addr, size)
            k.close(self.fd)


@pytest.fixture
def ring(kernel: Kernel):
    r = Ring(kernel)
    try:
        yield r
    finally:
        r.close()


def _iovecs(kernel: Kernel, *bufs) -> object:
    return kernel.new(f"struct iovec[{len(bufs)}]", [(b, len(b)) for b in bufs])


# --- io_uring_enter -------------------------------------------------------------------------


def test_io_uring_nop_completes_with_its_user_data(ring: Ring) -> None:
    ring.sqe("NOP", data=0xC0FFEE)
    assert ring.enter().unwrap() == 1
    assert ring.completions() == [(0xC0FFEE, 0)]


def test_io_uring_read_reads_the_file_at_the_offset(
    kernel: Kernel, ring: Ring, tmp: Path, fds
) -> None:
    fd = fds.file(tmp / "f", b"0123456789")
    buf = kernel.buf(4)
    ring.sqe("READ", fd, buf, 4, off=3, data=1)
    ring.enter().unwrap()
    assert ring.completions() == [(1, 4)]
    assert kernel.bytes(buf, 4) == b"3456"


def test_io_uring_read_at_offset_minus_one_reads_from_and_advances_the_file_position(
    kernel: Kernel, ring: Ring, tmp: Path, fds
) -> None:
    """off -1 (all ones in the SQE's u64): read(2)'s way, from the file position, moving it."""
    fd = fds.file(tmp / "f", b"0123456789")
    kernel.lseek(fd, 2, kernel.SEEK_SET).unwrap()
    buf = kernel.buf(3)
    ring.sqe("READ", fd, buf, 3, off=(1 << 64) - 1, data=5)
    ring.enter().unwrap()
    assert ring.completions() == [(5, 3)]
    assert kernel.bytes(buf, 3) == b"234"
    assert kernel.lseek(fd, 0, kernel.SEEK_CUR).unwrap() == 5


def test_io_uring_write_writes_the_file_at_the_offset(
    kernel: Kernel, ring: Ring, tmp: Path, fds
) -> None:
    fd = fds.file(tmp / "f", b"0123456789")
    ring.sqe("WRITE", fd, kernel.buf(b"ring"), 4, off=2, data=2)
    ring.enter().unwrap()
    assert ring.completions() == [(2, 4)]
    assert (tmp / "f").read_bytes() == b"01ring6789"


def test_io_uring_readv_scatters_into_iovecs(kernel: Kernel, ring: Ring, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abcdef")
    bufs = [kernel.buf(2), kernel.buf(4)]
    ring.keep += bufs
    ring.sqe("READV", fd, _iovecs(kernel, *bufs), 2, data=3)
    ring.enter().unwrap()
    assert ring.completions() == [(3, 6)]
    assert kernel.bytes(bufs[0], 2) + kernel.bytes(bufs[1], 4) == b"abcdef"


def test_io_uring_several_sqes_complete_in_one_enter(ring: Ring) -> None:
    for i in range(3):
        ring.sqe("NOP", data=i)
    assert ring.enter().unwrap() == 3
    assert sorted(ring.completions()) == [(0, 0), (1, 0), (2, 0)]


def test_io_uring_linked_write_then_read_sees_the_write(
    kernel: Kernel, ring: Ring, tmp: Path, fds
) -> None:
    fd = fds.file(tmp / "f", b"........")
    ring.sqe("WRITE", fd, kernel.buf(b"linked"), 6, data=1).flags = kernel.IOSQE_IO_LINK
    back = kernel.buf(6)
    ring.sqe("READ", fd, back, 6, data=2)
    ring.enter().unwrap()
    assert ring.completions() == [(1, 6), (2, 6)]
    assert kernel.bytes(back, 6) == b"linked"


def test_io_uring_read_of_a_bad_descriptor_fails_in_the_cqe(kernel: Kernel, ring: Ring) -> None:
    ring.sqe("READ", 1 << 20, kernel.buf(4), 4, data=9)
    assert ring.enter().unwrap() == 1  # submitted: the failure is the operation's
    assert ring.completions() == [(9, -errno.EBADF)]


def test_io_uring_unknown_opcode_fails_in_the_cqe(kernel: Kernel, ring: Ring) -> None:
    ring.sqe("NOP", data=4).opcode = 250
    ring.enter().unwrap()
    assert ring.completions() == [(4, -errno.EINVAL)]


@pytest.mark.min_kernel("5.11")
def test_io_uring_enter_waiting_with_a_timeout_and_nothing_queued_is_etime(
    kernel: Kernel, ring: Ring
) -> None:
    ts = kernel.new("struct __kernel_timespec *", (0, 1_000_000))
    arg = kernel.new(GETEVENTS_ARG, {"ts": kernel.address(ts)})
    flags = kernel.IORING_ENTER_GETEVENTS | kernel.IORING_ENTER_EXT_ARG
    size = kernel.ffi.sizeof(arg[0])
    assert kernel.io_uring_enter(ring.fd, 0, 1, flags, arg, size).errno == "ETIME"


def test_io_uring_enter_unknown_flag_is_einval(kernel: Kernel, ring: Ring) -> None:
    assert kernel.io_uring_enter(ring.fd, 0, 0, 1 << 30, None, 0).errno == "EINVAL"


def test_io_uring_enter_on_a_descriptor_that_is_no_ring_is_eopnotsupp(kernel: Kernel, fds) -> None:
    rfd, _ = fds.pipe()
    assert kernel.io_uring_enter(rfd, 0, 0, 0, None, 0).errno == "EOPNOTSUPP"


def test_io_uring_enter_on_a_closed_descriptor_is_ebadf(kernel: Kernel, fds) -> None:
    rfd, _ = fds.pipe()
    fds.close(rfd)
    assert kernel.io_uring_enter(rfd, 0, 0, 0, None, 0).errno == "EBADF"


# --- io_uring_register ------------------------------------------------------------------------


def _probe(kernel: Kernel, ring: Ring, n: int = 256):
    raw = kernel.buf(kernel.ffi.sizeof("struct io_uring_probe") + n * 8)
    ring.keep.append(raw)  # a cast does not own the memory it points at
    probe = kernel.ffi.cast("struct io_uring_probe *", raw)
    return ring.register("IORING_REGISTER_PROBE", probe, n), probe


def test_io_uring_register_probe_lists_the_operations(kernel: Kernel, ring: Ring, observe) -> None:
    r, probe = _probe(kernel, ring)
    r.unwrap()
    observe("last_op", probe.last_op)
    assert probe.last_op >= kernel.IORING_OP_READ
    supported = {probe.ops[i].op for i in range(probe.ops_len) if probe.ops[i].flags & 1}
    for op in ("NOP", "READV", "WRITEV", "READ_FIXED", "READ", "WRITE"):
        assert getattr(kernel, f"IORING_OP_{op}") in supported, op


def test_io_uring_register_probe_into_a_dirty_buffer_is_einval(kernel: Kernel, ring: Ring) -> None:
    raw = kernel.buf(b"\1" * (kernel.ffi.sizeof("struct io_uring_probe") + 8 * 8))
    assert ring.register("IORING_REGISTER_PROBE", raw, 8).errno == "EINVAL"


def test_io_uring_read_fixed_reads_into_the_registered_buffer(
    kernel: Kernel, ring: Ring, tmp: Path, fds
) -> None:
    fd = fds.file(tmp / "f", b"fixed buffer")
    buf = kernel.buf(PAGE)
    ring.register("IORING_REGISTER_BUFFERS", kernel.new("struct iovec *", (buf, PAGE)), 1).unwrap()
    ring.sqe("READ_FIXED", fd, buf, 12, data=5).buf_index = 0
    ring.enter().unwrap()
    assert ring.completions() == [(5, 12)]
    assert kernel.bytes(buf, 12) == b"fixed buffer"


def test_io_uring_write_fixed_writes_from_the_registered_buffer(
    kernel: Kernel, ring: Ring, tmp: Path, fds
) -> None:
    fd = fds.file(tmp / "f")
    buf = kernel.buf(b"registered".ljust(PAGE, b"\0"))
    ring.register("IORING_REGISTER_BUFFERS", kernel.new("struct iovec *", (buf, PAGE)), 1).unwrap()
    ring.sqe("WRITE_FIXED", fd, buf, 10, data=6).buf_index = 0
    ring.enter().unwrap()
    assert ring.completions() == [(6, 10)]
    assert (tmp / "f").read_bytes() == b"registered"


def test_io_uring_read_fixed_without_registered_buffers_fails_in_the_cqe(
    kernel: Kernel, ring: Ring, tmp: Path, fds
) -> None:
    fd = fds.file(tmp / "f", b"abc")
    ring.sqe("READ_FIXED", fd, kernel.buf(4), 3, data=7).buf_index = 0
    ring.enter().unwrap()
    assert ring.completions() == [(7, -errno.EFAULT)]


def test_io_uring_register_buffers_twice_is_ebusy(kernel: Kernel, ring: Ring) -> None:
    buf = kernel.buf(PAGE)
    iov = kernel.new("struct iovec *", (buf, PAGE))
    ring.register("IORING_REGISTER_BUFFERS", iov, 1).unwrap()
    assert ring.register("IORING_REGISTER_BUFFERS", iov, 1).errno == "EBUSY"


def test_io_uring_unregister_buffers_when_none_are_is_enxio(ring: Ring) -> None:
    assert ring.register("IORING_UNREGISTER_BUFFERS", None, 0).errno == "ENXIO"


def test_io_uring_fixed_file_reads_through_its_index_after_the_fd_is_closed(
    kernel: Kernel, ring: Ring, tmp: Path, fds
) -> None:
    fd = fds.file(tmp / "f", b"by index")
    ring.register("IORING_REGISTER_FILES", kernel.new("int[1]", [fd]), 1).unwrap()
    fds.close(fd)
    buf = kernel.buf(8)
    ring.sqe("READ", 0, buf, 8, data=8).flags = kernel.IOSQE_FIXED_FILE
    ring.enter().unwrap()
    assert ring.completions() == [(8, 8)]
    assert kernel.bytes(buf, 8) == b"by index"


def test_io_uring_register_eventfd_is_signalled_on_completion(
    kernel: Kernel, ring: Ring, fds
) -> None:
    efd = fds(kernel.eventfd2(0, kernel.EFD_NONBLOCK))
    ring.register("IORING_REGISTER_EVENTFD", kernel.new("int *", efd), 1).unwrap()
    ring.sqe("NOP", data=1)
    ring.enter().unwrap()
    count = kernel.new("uint64_t *")
    kernel.read(efd, count, 8).unwrap()
    assert count[0] == 1


def test_io_uring_register_unknown_opcode_is_einval(kernel: Kernel, ring: Ring) -> None:
    assert kernel.io_uring_register(ring.fd, 255, None, 0).errno == "EINVAL"


def test_io_uring_register_on_a_descriptor_that_is_no_ring_is_eopnotsupp(
    kernel: Kernel, fds
) -> None:
    rfd, _ = fds.pipe()
    assert (
        kernel.io_uring_register(rfd, kernel.IORING_REGISTER_PROBE, None, 0).errno == "EOPNOTSUPP"
    )
