"""sendfile(2) (Linux): copying from a file in the kernel, with or without an offset.

With an offset pointer the input's file offset stays put and the pointer advances;
without it the input's offset advances. An O_APPEND output is EINVAL (sendfile(2)).
"""

from pathlib import Path

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")


def test_sendfile_with_offset_leaves_input_offset_alone(kernel: Kernel, tmp: Path, fds) -> None:
    src = fds.file(tmp / "src", b"0123456789")
    dst = fds.file(tmp / "dst")
    off = kernel.new("int64_t *", 2)
    assert kernel.sendfile(dst, src, off, 5).unwrap() == 5
    assert off[0] == 7
    assert kernel.lseek(src, 0, kernel.SEEK_CUR).unwrap() == 0
    assert (tmp / "dst").read_bytes() == b"23456"


def test_sendfile_without_offset_advances_input_offset(kernel: Kernel, tmp: Path, fds) -> None:
    src = fds.file(tmp / "src", b"0123456789")
    dst = fds.file(tmp / "dst")
    kernel.lseek(src, 6, kernel.SEEK_SET).unwrap()
    assert kernel.sendfile(dst, src, None, 100).unwrap() == 4  # short at EOF
    assert kernel.lseek(src, 0, kernel.SEEK_CUR).unwrap() == 10


def test_sendfile_into_pipe(kernel: Kernel, tmp: Path, fds) -> None:
    src = fds.file(tmp / "src", b"piped")
    rfd, wfd = fds.pipe()
    assert kernel.sendfile(wfd, src, None, 5).unwrap() == 5
    buf = kernel.buf(5)
    kernel.read(rfd, buf, 5).unwrap()
    assert kernel.bytes(buf, 5) == b"piped"


def test_sendfile_to_append_output_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    src = fds.file(tmp / "src", b"abc")
    dst = fds.file(tmp / "dst", b"", kernel.O_WRONLY | kernel.O_APPEND)
    assert kernel.sendfile(dst, src, None, 3).errno == "EINVAL"


def test_sendfile_from_write_only_input_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    src = fds.file(tmp / "src", b"abc", kernel.O_WRONLY)
    dst = fds.file(tmp / "dst")
    assert kernel.sendfile(dst, src, None, 3).errno == "EBADF"


def test_sendfile_writes_at_and_advances_the_output_offset(kernel: Kernel, tmp: Path, fds) -> None:
    src = fds.file(tmp / "src", b"XYZ")
    dst = fds.file(tmp / "dst", b"0123456789")
    kernel.lseek(dst, 4, kernel.SEEK_SET).unwrap()
    assert kernel.sendfile(dst, src, None, 3).unwrap() == 3
    assert kernel.lseek(dst, 0, kernel.SEEK_CUR).unwrap() == 7
    assert (tmp / "dst").read_bytes() == b"0123XYZ789"


def test_sendfile_with_offset_at_eof_returns_zero(kernel: Kernel, tmp: Path, fds) -> None:
    src = fds.file(tmp / "src", b"abc")
    dst = fds.file(tmp / "dst")
    off = kernel.new("int64_t *", 3)
    assert kernel.sendfile(dst, src, off, 10).unwrap() == 0
    assert off[0] == 3
    assert (tmp / "dst").read_bytes() == b""


def test_sendfile_to_read_only_output_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    src = fds.file(tmp / "src", b"abc")
    dst = fds.file(tmp / "dst", b"", kernel.O_RDONLY)
    assert kernel.sendfile(dst, src, None, 3).errno == "EBADF"
    assert kernel.lseek(src, 0, kernel.SEEK_CUR).unwrap() == 0


# An offset given for an input that has no positions (a pipe) is ESPIPE; without one,
# the pipe is read from its current data (fs/read_write.c do_sendfile: FMODE_PREAD).
def test_sendfile_with_offset_from_a_pipe_is_espipe(kernel: Kernel, tmp: Path, fds) -> None:
    rfd, wfd = fds.pipe()
    kernel.write(wfd, b"abc", 3).unwrap()
    dst = fds.file(tmp / "dst")
    off = kernel.new("int64_t *", 0)
    assert kernel.sendfile(dst, rfd, off, 3).errno == "ESPIPE"


def test_sendfile_negative_offset_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    src = fds.file(tmp / "src", b"abc")
    dst = fds.file(tmp / "dst")
    off = kernel.new("int64_t *", -1)
    assert kernel.sendfile(dst, src, off, 3).errno == "EINVAL"
    assert off[0] == -1
    assert (tmp / "dst").read_bytes() == b""
