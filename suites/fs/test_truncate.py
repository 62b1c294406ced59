"""truncate/ftruncate(2): growing reads back zeros, shrinking discards, and the refusals.

ftruncate on a descriptor not open for writing: POSIX allows EBADF or EINVAL; Linux and
the BSDs answer EINVAL.
"""

from pathlib import Path

from syscalls.expect import ByOS
from syscalls.kernel import Kernel

FTRUNCATE_READ_ONLY = ByOS(default="EINVAL")


def test_ftruncate_grow_reads_back_zeros(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc")
    kernel.ftruncate(fd, 8).unwrap()
    assert (tmp / "f").read_bytes() == b"abc\0\0\0\0\0"


def test_ftruncate_shrink_discards_the_tail(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abcdef")
    kernel.ftruncate(fd, 2).unwrap()
    kernel.ftruncate(fd, 4).unwrap()  # grow again: the discarded bytes must not return
    assert (tmp / "f").read_bytes() == b"ab\0\0"


def test_ftruncate_leaves_the_file_offset(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abcdef")
    kernel.lseek(fd, 5, kernel.SEEK_SET).unwrap()
    kernel.ftruncate(fd, 1).unwrap()
    assert kernel.lseek(fd, 0, kernel.SEEK_CUR).unwrap() == 5


def test_truncate_by_path_sets_size(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"abcdef")
    kernel.truncate(tmp / "f", 3).unwrap()
    assert (tmp / "f").read_bytes() == b"abc"


def test_ftruncate_read_only_fd_is_refused(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc", kernel.O_RDONLY)
    assert kernel.ftruncate(fd, 0).errno == FTRUNCATE_READ_ONLY[kernel.platform.os]


def test_ftruncate_negative_length_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc")
    assert kernel.ftruncate(fd, -1).errno == "EINVAL"


def test_truncate_directory_is_eisdir(kernel: Kernel, tmp: Path) -> None:
    assert kernel.truncate(tmp, 0).errno == "EISDIR"


def test_ftruncate_on_pipe_is_einval(kernel: Kernel, fds) -> None:
    _, wfd = fds.pipe()
    assert kernel.ftruncate(wfd, 0).errno == "EINVAL"
