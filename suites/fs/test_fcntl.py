"""fcntl(2): status flags, descriptor flags and duplication (locks: test_fcntl_locks.py)."""

import os
import signal
import threading
from pathlib import Path

import pytest

from syscalls import forking
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


# F_SETFL changes only O_APPEND, O_NONBLOCK, O_DIRECT and O_NOATIME (fs/fcntl.c setfl:
# SETFL_MASK); other open flags in the argument are ignored, and so is the file.
@pytest.mark.os("linux")
def test_fcntl_setfl_ignores_flags_outside_the_status_flags(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"data")
    extra = kernel.O_TRUNC | kernel.O_CREAT | kernel.O_EXCL | kernel.O_CLOEXEC
    kernel.fcntl(fd, kernel.F_SETFL, extra | kernel.O_NONBLOCK).unwrap()
    got = kernel.fcntl(fd, kernel.F_GETFL, 0).unwrap()
    assert got & kernel.O_NONBLOCK and not got & extra
    assert kernel.fcntl(fd, kernel.F_GETFD, 0).unwrap() == 0
    assert (tmp / "f").read_bytes() == b"data"


def test_fcntl_setfl_without_append_clears_it(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"abcdef", kernel.O_RDWR | kernel.O_APPEND)
    kernel.fcntl(fd, kernel.F_SETFL, 0).unwrap()
    assert not kernel.fcntl(fd, kernel.F_GETFL, 0).unwrap() & kernel.O_APPEND
    kernel.write(fd, b"X", 1).unwrap()  # at the offset, 0: no longer at the end
    assert (tmp / "f").read_bytes() == b"Xbcdef"


def test_fcntl_setfd_keeps_only_fd_cloexec(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    kernel.fcntl(fd, kernel.F_SETFD, 0xFF).unwrap()
    assert kernel.fcntl(fd, kernel.F_GETFD, 0).unwrap() == kernel.FD_CLOEXEC
    kernel.fcntl(fd, kernel.F_SETFD, 0xFF & ~kernel.FD_CLOEXEC).unwrap()
    assert kernel.fcntl(fd, kernel.F_GETFD, 0).unwrap() == 0


@pytest.mark.os("linux")
def test_fcntl_dupfd_negative_minimum_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    assert kernel.fcntl(fd, kernel.F_DUPFD, -1).errno == "EINVAL"


# Every number from the minimum up to RLIMIT_NOFILE taken: EMFILE (fs/file.c alloc_fd),
# where a minimum at the limit is EINVAL (the other test). The limit is lowered in a
# child, to one above the first number above all it has open.
@pytest.mark.os("linux")
def test_fcntl_dupfd_with_no_free_fd_below_the_limit_is_emfile(
    kernel: Kernel, tmp: Path, fds, in_child
) -> None:
    fd = fds.file(tmp / "f")

    def run() -> tuple[int, str]:
        top = max(int(n) for n in os.listdir("/proc/self/fd")) + 1
        rl = kernel.new("struct rlimit *")
        kernel.getrlimit(kernel.RLIMIT_NOFILE, rl).unwrap()
        rl.rlim_cur = top + 1
        kernel.setrlimit(kernel.RLIMIT_NOFILE, rl).unwrap()
        last = kernel.fcntl(fd, kernel.F_DUPFD, top).unwrap()
        return last - top, kernel.fcntl(fd, kernel.F_DUPFD, top).outcome

    assert in_child(run) == (0, "EMFILE")


# F_SETOWN: a positive number is a process, a negative one a process group; F_GETOWN
# (F_GETOWN_EX for a group) gives it back (fs/fcntl.c f_setown/f_getown). INT_MIN has
# no negation: EINVAL.
@pytest.mark.os("linux")
def test_fcntl_setown_round_trips_process_and_group(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    kernel.fcntl(fd, kernel.F_SETOWN, os.getpid()).unwrap()
    assert kernel.fcntl(fd, kernel.F_GETOWN, 0).unwrap() == os.getpid()
    kernel.fcntl(fd, kernel.F_SETOWN, -os.getpgrp()).unwrap()
    # F_GETOWN would answer -pgrp, which below 4096 reads as an errno (fcntl(2), BUGS):
    # the group comes back through F_GETOWN_EX instead.
    owner = kernel.new("int[2]")
    kernel.fcntl(fd, kernel.F_GETOWN_EX, owner).unwrap()
    assert list(owner) == [kernel.F_OWNER_PGRP, os.getpgrp()]
    kernel.fcntl(fd, kernel.F_SETOWN, 0).unwrap()
    assert kernel.fcntl(fd, kernel.F_GETOWN, 0).unwrap() == 0


@pytest.mark.os("linux")
def test_fcntl_setown_int_min_is_einval(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    kernel.fcntl(fd, kernel.F_SETOWN, os.getpid()).unwrap()
    assert kernel.fcntl(fd, kernel.F_SETOWN, -(1 << 31)).errno == "EINVAL"
    assert kernel.fcntl(fd, kernel.F_GETOWN, 0).unwrap() == os.getpid()


# A number no process has: ESRCH, the owner unchanged (6.1 has it; older kernels
# took any number).
@pytest.mark.os("linux")
@pytest.mark.min_kernel("6.1")
def test_fcntl_setown_of_a_missing_process_is_esrch(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    missing = forking.missing_pid()
    assert kernel.fcntl(fd, kernel.F_SETOWN, missing).errno == "ESRCH"
    assert kernel.fcntl(fd, kernel.F_GETOWN, 0).unwrap() == 0


# F_SETOWN_EX/F_GETOWN_EX: struct f_owner_ex {int type; pid_t pid;}; the type comes back
# as set (fs/fcntl.c f_setown_ex/f_getown_ex); an unknown type is EINVAL.
@pytest.mark.os("linux")
def test_fcntl_setown_ex_round_trips_the_owner_type(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    for kind, who in (
        (kernel.F_OWNER_TID, threading.get_native_id()),
        (kernel.F_OWNER_PID, os.getpid()),
    ):
        owner = kernel.new("int[2]", [kind, who])
        kernel.fcntl(fd, kernel.F_SETOWN_EX, owner).unwrap()
        back = kernel.new("int[2]")
        kernel.fcntl(fd, kernel.F_GETOWN_EX, back).unwrap()
        assert list(back) == [kind, who]
    bad = kernel.new("int[2]", [7, os.getpid()])
    assert kernel.fcntl(fd, kernel.F_SETOWN_EX, bad).errno == "EINVAL"


@pytest.mark.os("linux")
def test_fcntl_setsig_round_trips_and_refuses_a_bad_signal(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    assert kernel.fcntl(fd, kernel.F_GETSIG, 0).unwrap() == 0
    kernel.fcntl(fd, kernel.F_SETSIG, signal.SIGUSR1).unwrap()
    assert kernel.fcntl(fd, kernel.F_GETSIG, 0).unwrap() == signal.SIGUSR1
    assert kernel.fcntl(fd, kernel.F_SETSIG, 65).errno == "EINVAL"  # above _NSIG (64)
    assert kernel.fcntl(fd, kernel.F_SETSIG, -1).errno == "EINVAL"
    assert kernel.fcntl(fd, kernel.F_GETSIG, 0).unwrap() == signal.SIGUSR1


# An O_PATH descriptor takes only the descriptor commands and F_GETFL; the others are
# EBADF (fs/fcntl.c check_fcntl_cmd).
@pytest.mark.os("linux")
def test_fcntl_on_an_o_path_fd_takes_only_descriptor_commands(
    kernel: Kernel, tmp: Path, fds
) -> None:
    (tmp / "f").write_bytes(b"")
    fd = fds.open(tmp / "f", kernel.O_PATH)
    assert kernel.fcntl(fd, kernel.F_GETFL, 0).unwrap() & kernel.O_PATH
    kernel.fcntl(fd, kernel.F_SETFD, kernel.FD_CLOEXEC).unwrap()
    fds(kernel.fcntl(fd, kernel.F_DUPFD_CLOEXEC, 0))
    assert kernel.fcntl(fd, kernel.F_SETFL, kernel.O_NONBLOCK).errno == "EBADF"
    assert kernel.fcntl(fd, kernel.F_GETOWN, 0).errno == "EBADF"


# O_APPEND cannot be taken off a descriptor of an append-only file (fs/fcntl.c setfl).
@pytest.mark.os("linux")
@pytest.mark.root
def test_fcntl_setfl_clearing_append_on_an_append_only_file_is_eperm(
    kernel: Kernel, tmp: Path, fds, inode_flags
) -> None:
    (tmp / "f").write_bytes(b"data")
    inode_flags(tmp / "f", "append")
    fd = fds.open(tmp / "f", kernel.O_WRONLY | kernel.O_APPEND)
    assert kernel.fcntl(fd, kernel.F_SETFL, kernel.O_NONBLOCK).errno == "EPERM"
    assert kernel.fcntl(fd, kernel.F_GETFL, 0).unwrap() & kernel.O_APPEND
    kernel.fcntl(fd, kernel.F_SETFL, kernel.O_APPEND | kernel.O_NONBLOCK).unwrap()


# Leases (fcntl(2) F_SETLEASE): only the file's owner, or a holder of CAP_LEASE, may take
# one (fs/locks.c generic_setlease), before the file's type is looked at.
@pytest.mark.os("linux")
def test_fcntl_setlease_read_lease_on_an_own_file_is_read_back(
    kernel: Kernel, tmp: Path, fds
) -> None:
    (tmp / "f").write_bytes(b"")
    fd = fds.open(tmp / "f", kernel.O_RDONLY)
    kernel.fcntl(fd, kernel.F_SETLEASE, kernel.F_RDLCK).unwrap()
    assert kernel.fcntl(fd, kernel.F_GETLEASE, 0).unwrap() == kernel.F_RDLCK
    kernel.fcntl(fd, kernel.F_SETLEASE, kernel.F_UNLCK).unwrap()
    assert kernel.fcntl(fd, kernel.F_GETLEASE, 0).unwrap() == kernel.F_UNLCK


@pytest.mark.os("linux")
@pytest.mark.as_user("root may take a lease on any file (CAP_LEASE)")
def test_fcntl_setlease_on_a_file_of_another_user_is_eacces(
    kernel: Kernel, fds, anothers_file
) -> None:
    fd = fds.open(anothers_file(), kernel.O_RDONLY)
    assert kernel.fcntl(fd, kernel.F_SETLEASE, kernel.F_RDLCK).errno == "EACCES"
    assert kernel.fcntl(fd, kernel.F_GETLEASE, 0).unwrap() == kernel.F_UNLCK
