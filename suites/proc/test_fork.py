"""fork(2): a second process with its own pid, a copy of memory, and the parent's fds.

Children are forked raw (syscalls.forking) inside in_child, and always reaped.
aarch64/riscv64 have no fork syscall; forking.fork uses clone(SIGCHLD) there.
"""

import os

import pytest

from syscalls import forking
from syscalls.kernel import Kernel


@pytest.mark.smoke
def test_fork_child_has_a_pid_other_than_the_parents(kernel: Kernel, in_child) -> None:
    def run() -> int:
        r, w = os.pipe()

        def child() -> None:
            os.write(w, kernel.getpid().unwrap().to_bytes(4, "little"))

        pid = forking.fork(kernel, child)
        reported = int.from_bytes(os.read(r, 4), "little")
        assert forking.exit_code(kernel, pid) == 0
        assert reported == pid
        return pid

    pid = in_child(run)
    assert pid > 0


@pytest.mark.smoke
def test_fork_child_sees_parent_as_getppid(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        r, w = os.pipe()
        pid = forking.fork(
            kernel, lambda: os.write(w, kernel.getppid().unwrap().to_bytes(4, "little")) and 0
        )
        ppid = int.from_bytes(os.read(r, 4), "little")
        forking.wait(kernel, pid)
        return ppid, os.getpid()

    ppid, parent = in_child(run)
    assert ppid == parent


@pytest.mark.smoke
def test_fork_returns_exit_code_through_wait4(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        pid = forking.fork(kernel, lambda: 42)
        status = kernel.new("int *")
        got = kernel.wait4(pid, status, 0, None).unwrap()
        return got - pid, status[0]

    delta, status = in_child(run)
    assert delta == 0
    assert os.WIFEXITED(status)
    assert os.WEXITSTATUS(status) == 42


@pytest.mark.smoke
def test_fork_child_writes_do_not_reach_the_parent(kernel: Kernel, in_child) -> None:
    def run() -> int:
        cell = kernel.new("long *", 1)

        def child() -> int:
            cell[0] = 2
            return cell[0]

        pid = forking.fork(kernel, child)
        assert forking.exit_code(kernel, pid) == 2
        return cell[0]

    assert in_child(run) == 1


@pytest.mark.smoke
def test_fork_child_inherits_open_file_descriptors(kernel: Kernel, in_child) -> None:
    def run() -> bytes:
        r, w = os.pipe()
        pid = forking.fork(kernel, lambda: kernel.write(w, b"hi", 2).unwrap() - 2)
        assert forking.exit_code(kernel, pid) == 0
        return os.read(r, 2)

    assert in_child(run) == b"hi"


@pytest.mark.smoke
def test_fork_child_shares_the_file_offset(kernel: Kernel, tmp, in_child) -> None:
    (tmp / "f").write_bytes(b"0123456789")

    def run() -> int:
        fd = os.open(tmp / "f", os.O_RDONLY)
        pid = forking.fork(kernel, lambda: kernel.lseek(fd, 4, kernel.SEEK_SET).unwrap() - 4)
        assert forking.exit_code(kernel, pid) == 0
        return kernel.lseek(fd, 0, kernel.SEEK_CUR).unwrap()

    assert in_child(run) == 4
