"""close, dup, dup2, dup3: descriptor numbering, sharing and the close-on-exec flag.

dup2 is absent from arm64/riscv64 Linux tables (the test skips there, naming it).
"""

from pathlib import Path

import pytest

from syscalls.expect import ByOS
from syscalls.kernel import Kernel

# NetBSD's dup3 onto the same descriptor does nothing and succeeds (sys/kern/sys_descrip.c,
# dodup: from == to is 0), and it takes O_NONBLOCK besides O_CLOEXEC, setting it on the
# file (sys/kern/kern_descrip.c, fd_dup2); Linux's takes O_CLOEXEC alone.
DUP3_SAME_FD = ByOS(default="EINVAL", netbsd="ok")
DUP3_NONBLOCK = ByOS(default="EINVAL", netbsd="ok")


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


@pytest.mark.smoke
def test_dup3_onto_itself_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    assert kernel.dup3(fd, fd, 0).outcome == DUP3_SAME_FD[kernel.platform.os]


@pytest.mark.smoke
def test_dup3_cloexec_sets_fd_flag(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    target = fds.file(tmp / "g")
    kernel.dup3(fd, target, kernel.O_CLOEXEC).unwrap()
    assert kernel.fcntl(target, kernel.F_GETFD, 0).unwrap() & kernel.FD_CLOEXEC


@pytest.mark.smoke
def test_dup3_unknown_flag_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    target = fds.file(tmp / "g")
    r = kernel.dup3(fd, target, kernel.O_NONBLOCK)
    assert r.outcome == DUP3_NONBLOCK[kernel.platform.os]
    nonblocking = kernel.fcntl(fd, kernel.F_GETFL, 0).unwrap() & kernel.O_NONBLOCK
    assert bool(nonblocking) == r.ok


# dup2/dup3 onto a number at or above RLIMIT_NOFILE: EBADF (fs/file.c ksys_dup3).
def test_dup2_to_a_target_at_the_nofile_limit_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    rl = kernel.new("struct rlimit *")
    kernel.getrlimit(kernel.RLIMIT_NOFILE, rl).unwrap()
    assert kernel.dup2(fd, rl.rlim_cur).errno == "EBADF"
    assert fds(kernel.dup2(fd, rl.rlim_cur - 1)) == rl.rlim_cur - 1


# The new descriptor's close-on-exec comes from the call, not from the number it
# replaces: dup2 clears it (fs/file.c do_dup2).
def test_dup2_onto_a_close_on_exec_target_clears_the_flag(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    target = fds.file(tmp / "g")
    kernel.fcntl(target, kernel.F_SETFD, kernel.FD_CLOEXEC).unwrap()
    kernel.dup2(fd, target).unwrap()
    assert kernel.fcntl(target, kernel.F_GETFD, 0).unwrap() == 0


# dup takes an O_PATH descriptor (fs/file.c ksys_dup: fget_raw).
@pytest.mark.os("linux")
def test_dup_of_an_o_path_fd_is_another_o_path_fd(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "f").write_bytes(b"")
    fd = fds.open(tmp / "f", kernel.O_PATH)
    new = fds(kernel.dup(fd))
    assert kernel.fcntl(new, kernel.F_GETFL, 0).unwrap() & kernel.O_PATH
