"""splice, tee (Linux): moving and duplicating data through pipes.

One end of splice must be a pipe (EINVAL otherwise); an offset for the pipe end is
ESPIPE. tee duplicates without consuming and takes only pipes.
"""

from pathlib import Path

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")


def _read(kernel: Kernel, fd: int, n: int) -> bytes:
    buf = kernel.buf(n)
    return kernel.bytes(buf, kernel.read(fd, buf, n).unwrap())


def test_splice_file_to_pipe_to_file(kernel: Kernel, tmp: Path, fds) -> None:
    src = fds.file(tmp / "src", b"spliced data")
    dst = fds.file(tmp / "dst")
    rfd, wfd = fds.pipe()
    assert kernel.splice(src, None, wfd, None, 64, 0).unwrap() == 12
    off = kernel.new("int64_t *", 3)
    assert kernel.splice(rfd, None, dst, off, 12, 0).unwrap() == 12
    assert off[0] == 15
    assert (tmp / "dst").read_bytes() == b"\0\0\0spliced data"


def test_splice_from_a_file_offset_advances_it_and_not_the_file_offset(
    kernel: Kernel, tmp: Path, fds
) -> None:
    src = fds.file(tmp / "src", b"0123456789")
    rfd, wfd = fds.pipe()
    off = kernel.new("int64_t *", 2)
    assert kernel.splice(src, off, wfd, None, 5, 0).unwrap() == 5
    assert off[0] == 7
    assert kernel.lseek(src, 0, kernel.SEEK_CUR).unwrap() == 0
    assert _read(kernel, rfd, 5) == b"23456"


def test_splice_without_a_pipe_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    src = fds.file(tmp / "src", b"abc")
    dst = fds.file(tmp / "dst")
    assert kernel.splice(src, None, dst, None, 3, 0).errno == "EINVAL"


def test_splice_offset_on_pipe_end_is_espipe(kernel: Kernel, tmp: Path, fds) -> None:
    src = fds.file(tmp / "src", b"abc")
    _, wfd = fds.pipe()
    off = kernel.new("int64_t *", 0)
    assert kernel.splice(src, None, wfd, off, 3, 0).errno == "ESPIPE"


def test_splice_nonblock_from_empty_pipe_is_eagain(kernel: Kernel, tmp: Path, fds) -> None:
    dst = fds.file(tmp / "dst")
    rfd, _ = fds.pipe()
    assert kernel.splice(rfd, None, dst, None, 8, kernel.SPLICE_F_NONBLOCK).errno == "EAGAIN"


def test_tee_duplicates_without_consuming(kernel: Kernel, fds) -> None:
    r1, w1 = fds.pipe()
    r2, w2 = fds.pipe()
    kernel.write(w1, b"teed", 4).unwrap()
    assert kernel.tee(r1, w2, 16, 0).unwrap() == 4
    assert _read(kernel, r2, 16) == b"teed"
    assert _read(kernel, r1, 16) == b"teed"


def test_tee_duplicates_no_more_than_len(kernel: Kernel, fds) -> None:
    r1, w1 = fds.pipe()
    r2, w2 = fds.pipe()
    kernel.write(w1, b"0123456789", 10).unwrap()
    assert kernel.tee(r1, w2, 4, 0).unwrap() == 4
    assert _read(kernel, r2, 16) == b"0123"
    assert _read(kernel, r1, 16) == b"0123456789"


def test_tee_on_non_pipe_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    f = fds.file(tmp / "f", b"abc")
    _, wfd = fds.pipe()
    assert kernel.tee(f, wfd, 3, 0).errno == "EINVAL"
