"""fcntl(2): status flags, descriptor flags and duplication (locks: test_fcntl_locks.py)."""

from pathlib import Path

from syscalls.kernel import Kernel


def test_fcntl_getfl_reports_the_access_mode(kernel: Kernel, tmp: Path, fds) -> None:
    for mode in (kernel.O_RDONLY, kernel.O_WRONLY, kernel.O_RDWR):
        fd = fds.file(tmp / "f", b"", mode)
        assert kernel.fcntl(fd, kernel.F_GETFL, 0).unwrap() & kernel.O_ACCMODE == mode


def test_fcntl_setfl_nonblock_shows_in_getfl(kernel: Kernel, fds) -> None:
    rfd, _ = fds.pipe()
    flags = kernel.fcntl(rfd, kernel.F_GETFL, 0).unwrap()
    assert not flags & kernel.O_NONBLOCK
    kernel.fcntl(rfd, kernel.F_SETFL, flags | kernel.O_NONBLOCK).unwrap()
    assert kernel.fcntl(rfd, kernel.F_GETFL, 0).unwrap() & kernel.O_NONBLOCK
    assert kernel.read(rfd, kernel.buf(1), 1).errno == "EAGAIN"


def test_fcntl_setfl_append_moves_writes_to_end(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc", kernel.O_WRONLY)
    kernel.fcntl(fd, kernel.F_SETFL, kernel.O_APPEND).unwrap()
    kernel.write(fd, b"Z", 1).unwrap()
    assert (tmp / "f").read_bytes() == b"abcZ"


def test_fcntl_setfl_cannot_change_the_access_mode(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abc", kernel.O_RDONLY)
    kernel.fcntl(fd, kernel.F_SETFL, kernel.O_RDWR).unwrap()
    assert kernel.fcntl(fd, kernel.F_GETFL, 0).unwrap() & kernel.O_ACCMODE == kernel.O_RDONLY
    assert kernel.write(fd, b"x", 1).errno == "EBADF"


def test_fcntl_setfd_cloexec_round_trips(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    kernel.fcntl(fd, kernel.F_SETFD, kernel.FD_CLOEXEC).unwrap()
    assert kernel.fcntl(fd, kernel.F_GETFD, 0).unwrap() == kernel.FD_CLOEXEC
    kernel.fcntl(fd, kernel.F_SETFD, 0).unwrap()
    assert kernel.fcntl(fd, kernel.F_GETFD, 0).unwrap() == 0


def _lowest_free_fd(kernel: Kernel, start: int) -> int:
    fd = start
    while kernel.fcntl(fd, kernel.F_GETFD, 0).errno != "EBADF":
        fd += 1
    return fd


def test_fcntl_dupfd_returns_lowest_fd_at_or_above_arg(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    low = _lowest_free_fd(kernel, 100)
    new = fds(kernel.fcntl(fd, kernel.F_DUPFD, low))
    assert new == low  # arg itself when it is free
    assert kernel.fcntl(new, kernel.F_GETFD, 0).unwrap() == 0
    above = _lowest_free_fd(kernel, low)
    assert fds(kernel.fcntl(fd, kernel.F_DUPFD, low)) == above  # taken: the next free one


def test_fcntl_dupfd_cloexec_sets_fd_flag(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    new = fds(kernel.fcntl(fd, kernel.F_DUPFD_CLOEXEC, 0))
    assert kernel.fcntl(new, kernel.F_GETFD, 0).unwrap() == kernel.FD_CLOEXEC


def test_fcntl_dupfd_at_or_above_nofile_limit_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    rl = kernel.new("struct rlimit *")
    kernel.getrlimit(kernel.RLIMIT_NOFILE, rl).unwrap()
    assert kernel.fcntl(fd, kernel.F_DUPFD, rl.rlim_cur).errno == "EINVAL"


def test_fcntl_unknown_command_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    assert kernel.fcntl(fd, 0x7FFF, 0).errno == "EINVAL"


def test_fcntl_on_closed_fd_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    fds.close(fd).unwrap()
    assert kernel.fcntl(fd, kernel.F_GETFD, 0).errno == "EBADF"
