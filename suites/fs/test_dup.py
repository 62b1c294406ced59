"""close, dup, dup2, dup3: descriptor numbering, sharing and the close-on-exec flag.

dup2 is absent from arm64/riscv64 Linux tables (the test skips there, naming it).
"""

from pathlib import Path

import pytest

from syscalls.kernel import Kernel


@pytest.mark.smoke
def test_dup_returns_lowest_free_fd_sharing_the_offset(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"0123456789")
    hole = fds.file(tmp / "g")
    fds.close(hole).unwrap()
    new = fds(kernel.dup(fd))
    assert new == hole
    kernel.lseek(fd, 4, kernel.SEEK_SET).unwrap()
    assert kernel.lseek(new, 0, kernel.SEEK_CUR).unwrap() == 4


@pytest.mark.smoke
def test_dup_does_not_copy_close_on_exec(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.open(tmp, kernel.O_RDONLY | kernel.O_CLOEXEC)
    new = fds(kernel.dup(fd))
    assert kernel.fcntl(new, kernel.F_GETFD, 0).unwrap() & kernel.FD_CLOEXEC == 0


@pytest.mark.smoke
def test_dup_of_closed_fd_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    fds.close(fd).unwrap()
    assert kernel.dup(fd).errno == "EBADF"


@pytest.mark.smoke
def test_close_twice_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    fds.close(fd).unwrap()
    assert kernel.close(fd).errno == "EBADF"


@pytest.mark.smoke
def test_dup2_replaces_an_open_target(kernel: Kernel, tmp: Path, fds) -> None:
    a = fds.file(tmp / "a", b"A")
    b = fds.file(tmp / "b", b"B")
    assert kernel.dup2(a, b).unwrap() == b
    buf = kernel.buf(1)
    kernel.read(b, buf, 1).unwrap()
    assert kernel.bytes(buf, 1) == b"A"


@pytest.mark.smoke
def test_dup2_onto_itself_returns_the_fd(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    assert kernel.dup2(fd, fd).unwrap() == fd


@pytest.mark.smoke
def test_dup2_onto_itself_with_closed_fd_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    fds.close(fd).unwrap()
    assert kernel.dup2(fd, fd).errno == "EBADF"


@pytest.mark.smoke
def test_dup2_to_negative_target_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    assert kernel.dup2(fd, -1).errno == "EBADF"


@pytest.mark.os("linux")
@pytest.mark.smoke
def test_dup3_onto_itself_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    assert kernel.dup3(fd, fd, 0).errno == "EINVAL"


@pytest.mark.os("linux")
@pytest.mark.smoke
def test_dup3_cloexec_sets_fd_flag(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    target = fds.file(tmp / "g")
    kernel.dup3(fd, target, kernel.O_CLOEXEC).unwrap()
    assert kernel.fcntl(target, kernel.F_GETFD, 0).unwrap() & kernel.FD_CLOEXEC


@pytest.mark.os("linux")
@pytest.mark.smoke
def test_dup3_unknown_flag_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    target = fds.file(tmp / "g")
    assert kernel.dup3(fd, target, kernel.O_NONBLOCK).errno == "EINVAL"
