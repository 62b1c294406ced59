"""setsid(2), getsid(2), setpgid(2), getpgid(2): sessions and process groups.

in_child makes its process the leader of a new process group, so setsid() called
there directly is the "already a group leader" case.
"""

import os

from syscalls import forking
from syscalls.forking import Argv
from syscalls.kernel import Kernel


def test_setsid_in_child_makes_it_session_and_group_leader(kernel: Kernel, in_child) -> None:
    def run() -> int:
        def child() -> int:
            sid = kernel.setsid().unwrap()
            me = kernel.getpid().unwrap()
            ok = sid == me == kernel.getsid(0).unwrap() == kernel.getpgid(0).unwrap()
            return 0 if ok else 1

        return forking.exit_code(kernel, forking.fork(kernel, child))

    assert in_child(run) == 0


def test_setsid_by_a_process_group_leader_is_eperm(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, str]:
        return kernel.getpgid(0).unwrap() - os.getpid(), kernel.setsid().outcome

    assert in_child(run) == (0, "EPERM")


def test_getsid_of_zero_is_the_callers_session(kernel: Kernel) -> None:
    assert kernel.getsid(0).unwrap() == kernel.getsid(os.getpid()).unwrap() == os.getsid(0)


def test_getpgid_of_missing_process_is_esrch(kernel: Kernel, in_child) -> None:
    def run() -> tuple[str, str]:
        pid = forking.fork(kernel)
        forking.wait(kernel, pid)  # reaped: the pid names nobody now
        return kernel.getpgid(pid).outcome, kernel.getsid(pid).outcome

    assert in_child(run) == ("ESRCH", "ESRCH")


def test_setpgid_moves_a_child_into_a_new_group(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        r, w = os.pipe()
        pid = forking.fork(kernel, lambda: os.close(w) or (os.read(r, 1) and 0))
        try:
            kernel.setpgid(pid, 0).unwrap()  # 0: the group named by the child's pid
            return kernel.getpgid(pid).unwrap() - pid, kernel.getpgid(0).unwrap() - os.getpid()
        finally:
            os.close(w)
            forking.wait(kernel, pid)

    assert in_child(run) == (0, 0)


def test_setpgid_of_a_session_leader_is_eperm(kernel: Kernel, in_child) -> None:
    def run() -> int:
        def child() -> int:
            kernel.setsid().unwrap()
            return 0 if kernel.setpgid(0, 0).errno == "EPERM" else 1

        return forking.exit_code(kernel, forking.fork(kernel, child))

    assert in_child(run) == 0


def test_setpgid_into_a_group_of_another_session_is_eperm(kernel: Kernel, in_child) -> None:
    def run() -> bool:
        parent_group = kernel.getpgid(0).unwrap()

        r, w = os.pipe()

        def leader() -> None:
            kernel.setsid().unwrap()
            os.close(w)
            os.read(r, 1)

        pid = forking.fork(kernel, leader)
        try:
            os.close(r)
            while kernel.getsid(pid).unwrap() != pid:  # wait for its setsid()
                os.sched_yield()
            return kernel.setpgid(pid, parent_group).errno == "EPERM"
        finally:
            os.close(w)
            forking.wait(kernel, pid)

    assert in_child(run) is True


def test_setpgid_of_a_process_that_is_not_a_child_is_esrch(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: kernel.setpgid(os.getppid(), 0).outcome) == "ESRCH"


def test_setpgid_negative_group_is_einval(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: kernel.setpgid(0, -1).outcome) == "EINVAL"


def test_setpgid_of_a_child_that_has_called_execve_is_eacces(kernel: Kernel, in_child) -> None:
    # POSIX: EACCES when pid is a child "and the child process has successfully executed
    # one of the exec functions". The child's sh says "ready" once the exec is done.
    def run() -> tuple[bytes, str]:
        ready_r, ready_w = os.pipe()
        go_r, go_w = os.pipe()  # both ends close-on-exec: sh keeps only its 0 and 1
        argv = Argv(kernel, [b"sh", b"-c", b"echo ready; read line"])
        envp = Argv(kernel, [])

        def child() -> int:
            os.dup2(go_r, 0)
            os.dup2(ready_w, 1)
            kernel.execve("/bin/sh", argv.array, envp.array)
            return 99

        pid = forking.fork(kernel, child)
        os.close(ready_w)
        os.close(go_r)
        try:
            said = os.read(ready_r, 6)
            return said, kernel.setpgid(pid, 0).outcome
        finally:
            os.close(go_w)  # sh's read sees end of file and it exits
            os.close(ready_r)
            forking.wait(kernel, pid)

    assert in_child(run) == (b"ready\n", "EACCES")
