"""vmsplice(2): user memory into a pipe (the write end) or out of it (the read end).

Into a pipe the pages are referenced, not copied (fs/splice.c iter_to_pipe): what the
reader gets is the memory as it is when read. SPLICE_F_GIFT is accepted (the pages are
then the kernel's to steal). Out of a pipe it copies into the iovecs, like readv. A
descriptor that is not a pipe, or one open neither way, is EBADF; unknown flags EINVAL.
"""

import pytest

from syscalls.fds import iovecs
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")


def _read(kernel: Kernel, fd: int, n: int = 64) -> bytes:
    buf = kernel.buf(n)
    return kernel.bytes(buf, kernel.read(fd, buf, n).unwrap())


def test_vmsplice_puts_user_memory_into_a_pipe(kernel: Kernel, fds) -> None:
    rfd, wfd = fds.pipe()
    iov, _bufs = iovecs(kernel, b"spliced")
    assert kernel.vmsplice(wfd, iov, 1, 0).unwrap() == 7
    assert _read(kernel, rfd) == b"spliced"


def test_vmsplice_gathers_iovecs_in_order(kernel: Kernel, fds) -> None:
    rfd, wfd = fds.pipe()
    iov, _bufs = iovecs(kernel, b"one ", b"two ", b"three")
    assert kernel.vmsplice(wfd, iov, 3, 0).unwrap() == 13
    assert _read(kernel, rfd) == b"one two three"


def test_vmsplice_gift_is_accepted(kernel: Kernel, fds) -> None:
    rfd, wfd = fds.pipe()
    iov, _bufs = iovecs(kernel, b"gift")
    assert kernel.vmsplice(wfd, iov, 1, kernel.SPLICE_F_GIFT).unwrap() == 4
    assert _read(kernel, rfd) == b"gift"


def test_vmsplice_references_the_pages_until_they_are_read(kernel: Kernel, fds, observe) -> None:
    rfd, wfd = fds.pipe()
    iov, bufs = iovecs(kernel, b"before")
    kernel.vmsplice(wfd, iov, 1, 0).unwrap()
    kernel.ffi.memmove(bufs[0], b"AFTER!", 6)
    got = _read(kernel, rfd)
    observe("read", got.decode())
    assert got == b"AFTER!"


def test_vmsplice_from_the_read_end_copies_into_memory(kernel: Kernel, fds) -> None:
    rfd, wfd = fds.pipe()
    kernel.write(wfd, b"abcdef", 6).unwrap()
    iov, bufs = iovecs(kernel, 2, 4)
    assert kernel.vmsplice(rfd, iov, 2, 0).unwrap() == 6
    assert kernel.bytes(bufs[0], 2) + kernel.bytes(bufs[1], 4) == b"abcdef"


def test_vmsplice_from_an_empty_pipe_without_writers_returns_zero(kernel: Kernel, fds) -> None:
    rfd, wfd = fds.pipe()
    fds.close(wfd)
    iov, _ = iovecs(kernel, 4)
    assert kernel.vmsplice(rfd, iov, 1, 0).unwrap() == 0


def test_vmsplice_nonblocking_from_an_empty_pipe_is_eagain(kernel: Kernel, fds) -> None:
    rfd, _ = fds.pipe()
    iov, _ = iovecs(kernel, 4)
    assert kernel.vmsplice(rfd, iov, 1, kernel.SPLICE_F_NONBLOCK).errno == "EAGAIN"


def test_vmsplice_nonblocking_into_a_full_pipe_is_eagain(kernel: Kernel, fds) -> None:
    _, wfd = fds.pipe(kernel.O_NONBLOCK)
    chunk = kernel.buf(65536)
    while kernel.write(wfd, chunk, 65536).ok:
        pass
    iov, _ = iovecs(kernel, b"x")
    assert kernel.vmsplice(wfd, iov, 1, kernel.SPLICE_F_NONBLOCK).errno == "EAGAIN"


def test_vmsplice_with_no_iovecs_returns_zero(kernel: Kernel, fds) -> None:
    _, wfd = fds.pipe()
    iov, _ = iovecs(kernel, b"x")
    assert kernel.vmsplice(wfd, iov, 0, 0).unwrap() == 0


def test_vmsplice_unknown_flag_is_einval(kernel: Kernel, fds) -> None:
    _, wfd = fds.pipe()
    iov, _ = iovecs(kernel, b"x")
    assert kernel.vmsplice(wfd, iov, 1, 1 << 8).errno == "EINVAL"


def test_vmsplice_over_uio_maxiov_is_einval(kernel: Kernel, fds) -> None:
    _, wfd = fds.pipe()
    iov, _ = iovecs(kernel, *([1] * (kernel.UIO_MAXIOV + 1)))
    assert kernel.vmsplice(wfd, iov, kernel.UIO_MAXIOV + 1, 0).errno == "EINVAL"


def test_vmsplice_to_a_regular_file_is_ebadf(kernel: Kernel, tmp, fds) -> None:
    fd = fds.file(tmp / "f")
    iov, _ = iovecs(kernel, b"x")
    assert kernel.vmsplice(fd, iov, 1, 0).errno == "EBADF"


def test_vmsplice_to_an_o_path_descriptor_is_ebadf(kernel: Kernel, tmp, fds) -> None:
    (tmp / "f").write_bytes(b"")
    fd = fds.open(tmp / "f", kernel.O_PATH)
    iov, _ = iovecs(kernel, b"x")
    assert kernel.vmsplice(fd, iov, 1, 0).errno == "EBADF"


def test_vmsplice_to_a_closed_descriptor_is_ebadf(kernel: Kernel, fds) -> None:
    _, wfd = fds.pipe()
    fds.close(wfd)
    iov, _ = iovecs(kernel, b"x")
    assert kernel.vmsplice(wfd, iov, 1, 0).errno == "EBADF"
