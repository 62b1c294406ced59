"""Linux AIO: io_setup, io_submit, io_getevents, io_pgetevents, io_cancel, io_destroy
(fs/aio.c). A context holds a ring of completions; each struct iocb (linux/aio_abi.h)
names a descriptor, an operation, a buffer and an offset, and its completion comes back
as a struct io_event with the iocb's aio_data, its address (obj) and the result (res:
bytes moved or a negative errno).

Buffered file I/O completes inside io_submit; a poll request (IOCB_CMD_POLL, Linux 4.18)
waits, and is the one kind io_cancel can cancel (EINPROGRESS: the event then arrives).
Every context counts against fs.aio-max-nr until io_destroy; the `aio` fixture destroys
what a test left.
"""

from pathlib import Path

import pytest

from syscalls import sysctl
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

BAD_FD = 0xFFFFFFFF  # aio_fildes is a __u32: -1 as the kernel reads it


class Aio:
    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.contexts: list[int] = []
        self.keep: list = []  # buffers and iocbs the kernel may still use

    def setup(self, nr: int = 8) -> int:
        ctx = self.kernel.new("unsigned long *")
        self.kernel.io_setup(nr, ctx).unwrap()
        self.contexts.append(ctx[0])
        return ctx[0]

    def destroy(self, ctx: int):
        self.contexts.remove(ctx)
        return self.kernel.io_destroy(ctx)

    def iocb(self, fd: int, op: str, buf=None, nbytes: int = 0, offset: int = 0, data: int = 0):
        k = self.kernel
        cb = k.new("struct iocb *")
        cb.aio_fildes, cb.aio_lio_opcode = fd, getattr(k, f"IOCB_CMD_{op}")
        cb.aio_buf = k.address(buf) if buf is not None else 0
        cb.aio_nbytes, cb.aio_offset, cb.aio_data = nbytes, offset, data
        self.keep += [cb, buf]
        return cb

    def submit(self, ctx: int, *iocbs):
        array = self.kernel.new("struct iocb *[]", list(iocbs))
        self.keep.append(array)
        return self.kernel.io_submit(ctx, len(iocbs), array)

    def events(self, ctx: int, n: int = 1, timeout_ns: int | None = 5_000_000_000):
        """io_getevents for exactly n events (or until the timeout): [(data, obj, res)]."""
        k = self.kernel
        out = k.new(f"struct io_event[{max(n, 1)}]")
        ts = None if timeout_ns is None else k.new("struct timespec *", divmod(timeout_ns, 10**9))
        got = k.io_getevents(ctx, n, max(n, 1), out, ts).unwrap()
        return [(out[i].data, out[i].obj, out[i].res) for i in range(got)]

    def release(self) -> None:
        with self.kernel.unobserved():
            for ctx in self.contexts:
                self.kernel.io_destroy(ctx)
        self.contexts.clear()


@pytest.fixture
def aio(kernel: Kernel):
    holder = Aio(kernel)
    try:
        yield holder
    finally:
        holder.release()


_SHARED: dict[str, tuple[Kernel, int]] = {}


@pytest.fixture(scope="module")
def _shared_context():
    yield _SHARED
    for kernel, ctx in _SHARED.values():
        with kernel.unobserved():
            kernel.io_destroy(ctx)
    _SHARED.clear()


@pytest.fixture
def ctx(kernel: Kernel, _shared_context) -> int:
    """One context for the module's I/O tests, drained of earlier tests' events: each
    io_destroy waits for an RCU grace period, tens of milliseconds."""
    with kernel.unobserved():
        if "ctx" not in _shared_context:
            out = kernel.new("unsigned long *")
            kernel.io_setup(64, out).unwrap()
            _shared_context["ctx"] = (kernel, out[0])
        context = _shared_context["ctx"][1]
        events = kernel.new("struct io_event[64]")
        kernel.io_getevents(context, 0, 64, events, kernel.new("struct timespec *")).unwrap()
    return context


# --- io_setup / io_destroy ------------------------------------------------------------------


def test_io_setup_returns_a_context_that_io_destroy_takes(kernel: Kernel, aio: Aio) -> None:
    ctx = aio.setup()
    assert ctx != 0
    assert aio.destroy(ctx).unwrap() == 0


def test_io_setup_maps_the_completion_ring(kernel: Kernel, aio: Aio) -> None:
    ctx = aio.setup()
    maps = Path("/proc/self/maps").read_text()
    assert any(line.startswith(f"{ctx:x}-") and "[aio]" in line for line in maps.splitlines())


def test_io_setup_zero_events_is_einval(kernel: Kernel) -> None:
    assert kernel.io_setup(0, kernel.new("unsigned long *")).errno == "EINVAL"


def test_io_setup_with_a_nonzero_context_word_is_einval(kernel: Kernel) -> None:
    assert kernel.io_setup(8, kernel.new("unsigned long *", 1)).errno == "EINVAL"


def test_io_setup_above_fs_aio_max_nr_is_eagain(kernel: Kernel) -> None:
    limit = sysctl.number("fs/aio-max-nr")
    if limit >= 1 << 22:
        pytest.skip(f"fs.aio-max-nr is {limit}: past it the ring size overflows first")
    assert kernel.io_setup(limit + 1, kernel.new("unsigned long *")).errno == "EAGAIN"


def test_io_setup_ring_too_large_is_einval(kernel: Kernel) -> None:
    assert kernel.io_setup(1 << 28, kernel.new("unsigned long *")).errno == "EINVAL"


@pytest.mark.requires("fault_handler")
def test_io_setup_unmapped_context_pointer_is_efault(kernel: Kernel) -> None:
    assert kernel.io_setup(8, 8).errno == "EFAULT"


def test_io_destroy_of_an_unknown_context_is_einval(kernel: Kernel) -> None:
    assert kernel.io_destroy(0).errno == "EINVAL"


def test_io_destroy_twice_is_einval(kernel: Kernel, aio: Aio) -> None:
    ctx = aio.setup()
    aio.destroy(ctx).unwrap()
    assert kernel.io_destroy(ctx).errno == "EINVAL"


# --- io_submit and io_getevents: real I/O ------------------------------------------------------


def test_aio_pwrite_writes_at_the_offset_and_reports_the_count(
    kernel: Kernel, aio: Aio, ctx: int, tmp: Path, fds
) -> None:
    fd = fds.file(tmp / "f", b"0123456789")
    cb = aio.iocb(fd, "PWRITE", kernel.buf(b"abc"), 3, offset=4, data=0xFEED)
    assert aio.submit(ctx, cb).unwrap() == 1
    assert aio.events(ctx) == [(0xFEED, kernel.address(cb), 3)]
    assert (tmp / "f").read_bytes() == b"0123abc789"


def test_aio_pread_reads_at_the_offset(kernel: Kernel, aio: Aio, ctx: int, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"0123456789")
    buf = kernel.buf(4)
    cb = aio.iocb(fd, "PREAD", buf, 4, offset=6, data=7)
    aio.submit(ctx, cb).unwrap()
    assert aio.events(ctx) == [(7, kernel.address(cb), 4)]
    assert kernel.bytes(buf, 4) == b"6789"


def test_aio_pread_past_the_end_reports_zero_bytes(
    kernel: Kernel, aio: Aio, ctx: int, tmp: Path, fds
) -> None:
    fd = fds.file(tmp / "f", b"abc")
    aio.submit(ctx, aio.iocb(fd, "PREAD", kernel.buf(4), 4, offset=100)).unwrap()
    assert aio.events(ctx)[0][2] == 0


def test_aio_preadv_scatters_into_the_iovecs(
    kernel: Kernel, aio: Aio, ctx: int, tmp: Path, fds
) -> None:
    fd = fds.file(tmp / "f", b"abcdef")
    bufs = [kernel.buf(2), kernel.buf(4)]
    iov = kernel.new("struct iovec[2]", [(bufs[0], 2), (bufs[1], 4)])
    aio.keep += bufs
    aio.submit(ctx, aio.iocb(fd, "PREADV", iov, 2)).unwrap()
    assert aio.events(ctx)[0][2] == 6
    assert kernel.bytes(bufs[0], 2) + kernel.bytes(bufs[1], 4) == b"abcdef"


def test_aio_pwritev_gathers_the_iovecs(kernel: Kernel, aio: Aio, ctx: int, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    bufs = [kernel.buf(b"gat"), kernel.buf(b"her")]
    iov = kernel.new("struct iovec[2]", [(bufs[0], 3), (bufs[1], 3)])
    aio.keep += bufs
    aio.submit(ctx, aio.iocb(fd, "PWRITEV", iov, 2)).unwrap()
    assert aio.events(ctx)[0][2] == 6
    assert (tmp / "f").read_bytes() == b"gather"


def test_aio_fsync_completes_with_zero(kernel: Kernel, aio: Aio, ctx: int, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"x")
    aio.submit(ctx, aio.iocb(fd, "FSYNC", data=3)).unwrap()
    assert [(d, r) for d, _, r in aio.events(ctx)] == [(3, 0)]


def test_io_submit_of_a_batch_completes_each_iocb(
    kernel: Kernel, aio: Aio, ctx: int, tmp: Path, fds
) -> None:
    fd = fds.file(tmp / "f", b"0123456789")
    cbs = [aio.iocb(fd, "PREAD", kernel.buf(2), 2, offset=2 * i, data=i) for i in range(3)]
    assert aio.submit(ctx, *cbs).unwrap() == 3
    assert sorted((d, r) for d, _, r in aio.events(ctx, 3)) == [(0, 2), (1, 2), (2, 2)]


def test_io_submit_stops_at_the_first_bad_iocb_and_counts_the_good_ones(
    kernel: Kernel, aio: Aio, ctx: int, tmp: Path, fds
) -> None:
    fd = fds.file(tmp / "f", b"abc")
    good = aio.iocb(fd, "PREAD", kernel.buf(3), 3)
    bad = aio.iocb(BAD_FD, "PREAD", kernel.buf(3), 3)
    assert aio.submit(ctx, good, bad, good).unwrap() == 1


def test_aio_pread_on_a_write_only_descriptor_is_ebadf_at_submit(
    kernel: Kernel, aio: Aio, ctx: int, fds
) -> None:
    _, wfd = fds.pipe()
    cb = aio.iocb(wfd, "PREAD", kernel.buf(3), 3)
    assert aio.submit(ctx, cb).errno == "EBADF"


def test_aio_eventfd_is_signalled_on_completion(
    kernel: Kernel, aio: Aio, ctx: int, tmp: Path, fds
) -> None:
    fd = fds.file(tmp / "f", b"abc")
    efd = fds(kernel.eventfd2(0, kernel.EFD_NONBLOCK))
    cb = aio.iocb(fd, "PREAD", kernel.buf(3), 3)
    cb.aio_flags, cb.aio_resfd = kernel.IOCB_FLAG_RESFD, efd
    aio.submit(ctx, cb).unwrap()
    aio.events(ctx)
    count = kernel.new("uint64_t *")
    kernel.read(efd, count, 8).unwrap()
    assert count[0] == 1


def test_aio_resfd_that_is_not_an_eventfd_is_einval(
    kernel: Kernel, aio: Aio, ctx: int, tmp: Path, fds
) -> None:
    fd = fds.file(tmp / "f", b"abc")
    cb = aio.iocb(fd, "PREAD", kernel.buf(3), 3)
    cb.aio_flags, cb.aio_resfd = kernel.IOCB_FLAG_RESFD, fd
    assert aio.submit(ctx, cb).errno == "EINVAL"


def test_io_submit_iocb_on_a_bad_descriptor_is_ebadf(kernel: Kernel, aio: Aio, ctx: int) -> None:
    assert aio.submit(ctx, aio.iocb(BAD_FD, "PREAD", kernel.buf(1), 1)).errno == "EBADF"


def test_io_submit_iocb_with_reserved_field_set_is_einval(
    kernel: Kernel, aio: Aio, ctx: int, tmp: Path, fds
) -> None:
    fd = fds.file(tmp / "f", b"abc")
    cb = aio.iocb(fd, "PREAD", kernel.buf(1), 1)
    cb.aio_reserved2 = 1
    assert aio.submit(ctx, cb).errno == "EINVAL"


def test_io_submit_unknown_opcode_is_einval(
    kernel: Kernel, aio: Aio, ctx: int, tmp: Path, fds
) -> None:
    fd = fds.file(tmp / "f", b"abc")
    cb = aio.iocb(fd, "PREAD", kernel.buf(1), 1)
    cb.aio_lio_opcode = 100
    assert aio.submit(ctx, cb).errno == "EINVAL"


def test_io_submit_negative_count_is_einval(kernel: Kernel, aio: Aio, ctx: int) -> None:
    assert kernel.io_submit(ctx, -1, kernel.new("struct iocb *[1]")).errno == "EINVAL"


def test_io_submit_of_nothing_returns_zero(kernel: Kernel, aio: Aio, ctx: int) -> None:
    assert kernel.io_submit(ctx, 0, kernel.new("struct iocb *[1]")).unwrap() == 0


def test_io_submit_after_io_destroy_is_einval(kernel: Kernel, aio: Aio, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc")
    ctx = aio.setup()
    aio.destroy(ctx).unwrap()
    assert aio.submit(ctx, aio.iocb(fd, "PREAD", kernel.buf(1), 1)).errno == "EINVAL"


# --- io_getevents / io_pgetevents ---------------------------------------------------------------


def test_io_getevents_with_nothing_pending_times_out_with_zero(
    kernel: Kernel, aio: Aio, ctx: int
) -> None:
    assert aio.events(ctx, 1, timeout_ns=1_000_000) == []


def test_io_getevents_zero_timeout_returns_at_once(kernel: Kernel, aio: Aio, ctx: int) -> None:
    assert aio.events(ctx, 1, timeout_ns=0) == []


def test_io_getevents_min_above_nr_is_einval(kernel: Kernel, aio: Aio, ctx: int) -> None:
    out = kernel.new("struct io_event[2]")
    assert kernel.io_getevents(ctx, 2, 1, out, None).errno == "EINVAL"


def test_io_getevents_of_an_unknown_context_is_einval(kernel: Kernel) -> None:
    out = kernel.new("struct io_event[1]")
    assert kernel.io_getevents(0, 0, 1, out, None).errno == "EINVAL"


@pytest.mark.min_kernel("4.18")
def test_io_pgetevents_without_a_sigmask_reads_completions(
    kernel: Kernel, aio: Aio, ctx: int, tmp: Path, fds
) -> None:
    fd = fds.file(tmp / "f", b"abc")
    aio.submit(ctx, aio.iocb(fd, "PREAD", kernel.buf(3), 3, data=11)).unwrap()
    out = kernel.new("struct io_event[1]")
    assert kernel.io_pgetevents(ctx, 1, 1, out, None, None).unwrap() == 1
    assert (out[0].data, out[0].res) == (11, 3)


@pytest.mark.min_kernel("4.18")
def test_io_pgetevents_with_a_sigmask_times_out(kernel: Kernel, aio: Aio, ctx: int) -> None:
    mask = kernel.new("uint64_t *", 1 << 9)
    sig = kernel.new("struct { void *sigmask; size_t sigsetsize; } *", (mask, 8))
    ts = kernel.new("struct timespec *", (0, 1_000_000))
    out = kernel.new("struct io_event[1]")
    assert kernel.io_pgetevents(ctx, 1, 1, out, ts, sig).unwrap() == 0


@pytest.mark.min_kernel("4.18")
def test_io_pgetevents_wrong_sigset_size_is_einval(kernel: Kernel, aio: Aio, ctx: int) -> None:
    mask = kernel.new("uint64_t *")
    sig = kernel.new("struct { void *sigmask; size_t sigsetsize; } *", (mask, 4))
    out = kernel.new("struct io_event[1]")
    assert kernel.io_pgetevents(ctx, 1, 1, out, None, sig).errno == "EINVAL"


# --- poll requests and io_cancel -----------------------------------------------------------------


@pytest.mark.min_kernel("4.18")
def test_aio_poll_completes_when_the_pipe_becomes_readable(kernel: Kernel, aio: Aio, fds) -> None:
    rfd, wfd = fds.pipe()
    ctx = aio.setup()
    cb = aio.iocb(rfd, "POLL")
    cb.aio_buf = kernel.POLLIN
    aio.submit(ctx, cb).unwrap()
    pending = aio.events(ctx, 1, timeout_ns=0)
    kernel.write(wfd, b"x", 1).unwrap()
    ((_, _, res),) = aio.events(ctx)
    assert pending == [] and res & kernel.POLLIN


@pytest.mark.min_kernel("4.18")
def test_io_cancel_of_a_pending_poll_is_einprogress_and_delivers_it(
    kernel: Kernel, aio: Aio, fds
) -> None:
    rfd, _ = fds.pipe()
    ctx = aio.setup()
    cb = aio.iocb(rfd, "POLL", data=5)
    cb.aio_buf = kernel.POLLIN
    aio.submit(ctx, cb).unwrap()
    assert kernel.io_cancel(ctx, cb, kernel.new("struct io_event *")).errno == "EINPROGRESS"
    assert [(d, r) for d, _, r in aio.events(ctx)] == [(5, 0)]


def test_io_cancel_of_an_iocb_never_submitted_is_einval(kernel: Kernel, aio: Aio, ctx: int) -> None:
    cb = aio.iocb(0, "PREAD")
    assert kernel.io_cancel(ctx, cb, kernel.new("struct io_event *")).errno == "EINVAL"


def test_io_cancel_of_a_completed_read_is_einval(
    kernel: Kernel, aio: Aio, ctx: int, tmp: Path, fds
) -> None:
    fd = fds.file(tmp / "f", b"abc")
    cb = aio.iocb(fd, "PREAD", kernel.buf(3), 3)
    aio.submit(ctx, cb).unwrap()
    aio.events(ctx)
    assert kernel.io_cancel(ctx, cb, kernel.new("struct io_event *")).errno == "EINVAL"


@pytest.mark.requires("fault_handler")
def test_io_cancel_unmapped_iocb_is_efault(kernel: Kernel, aio: Aio, ctx: int) -> None:
    assert kernel.io_cancel(ctx, 8, kernel.new("struct io_event *")).errno == "EFAULT"
