"""prctl(2): thread name, parent-death signal, child subreaper, dumpable, no_new_privs.

Every setting that would outlive the test is changed inside in_child. PR_SET_NAME
keeps 15 bytes and a NUL (TASK_COMM_LEN 16).
"""

import os
import signal

import pytest

from syscalls import forking
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

TASK_COMM_LEN = 16  # include/linux/sched.h


def _got(kernel: Kernel, option: str) -> int:
    """What a PR_GET_* that writes through its int pointer (PDEATHSIG, CHILD_SUBREAPER)
    answers; -1 where the kernel wrote nothing."""
    value = kernel.new("int *", -1)
    kernel.prctl(getattr(kernel, option), value, 0, 0, 0).unwrap()
    return value[0]


def _get_name(kernel: Kernel) -> bytes:
    buf = kernel.buf(TASK_COMM_LEN)
    kernel.prctl(kernel.PR_GET_NAME, buf, 0, 0, 0).unwrap()
    return kernel.ffi.string(buf)


def test_prctl_set_name_is_read_back_by_get_name(kernel: Kernel, in_child) -> None:
    def run() -> tuple[bytes, bytes]:
        kernel.prctl(kernel.PR_SET_NAME, b"syscalls-name", 0, 0, 0).unwrap()
        with open(f"/proc/self/task/{os.getpid()}/comm", "rb") as f:
            return _get_name(kernel), f.read().strip()

    assert in_child(run) == (b"syscalls-name", b"syscalls-name")


def test_prctl_set_name_truncates_to_15_bytes(kernel: Kernel, in_child) -> None:
    def run() -> bytes:
        kernel.prctl(kernel.PR_SET_NAME, b"abcdefghijklmnopqrstuvwxyz", 0, 0, 0).unwrap()
        return _get_name(kernel)

    assert in_child(run) == b"abcdefghijklmno"


def test_prctl_pdeathsig_is_read_back(kernel: Kernel, in_child) -> None:
    def run() -> int:
        kernel.prctl(kernel.PR_SET_PDEATHSIG, signal.SIGUSR2, 0, 0, 0).unwrap()
        return _got(kernel, "PR_GET_PDEATHSIG")

    assert in_child(run) == signal.SIGUSR2


def test_prctl_pdeathsig_out_of_range_is_einval(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: kernel.prctl(kernel.PR_SET_PDEATHSIG, 65, 0, 0, 0).outcome) == "EINVAL"


def test_prctl_pdeathsig_fires_when_parent_dies(kernel: Kernel, in_child) -> None:
    """in_child is a subreaper; its grandchild asks for SIGTERM when its parent (the
    middle process) dies, is reparented to us, and is reaped here."""

    def run() -> tuple[int, int, int]:
        kernel.prctl(kernel.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0).unwrap()
        ready_r, ready_w = os.pipe()  # grandchild -> middle
        pid_r, pid_w = os.pipe()  # middle -> us

        def grandchild() -> None:
            kernel.prctl(kernel.PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0).unwrap()
            os.write(ready_w, b"r")
            os.read(os.pipe()[0], 1)  # nobody writes: only a signal ends this

        def middle() -> None:
            os.write(pid_w, forking.fork(kernel, grandchild).to_bytes(4, "little"))
            os.read(ready_r, 1)  # the grandchild is armed: exit now

        mid = forking.fork(kernel, middle)
        gc = int.from_bytes(os.read(pid_r, 4), "little")
        assert forking.exit_code(kernel, mid) == 0
        status = forking.wait(kernel, gc)  # reparented to this subreaper
        return os.WIFSIGNALED(status), os.WTERMSIG(status), gc

    signaled, sig, _ = in_child(run)
    assert signaled
    assert sig == signal.SIGTERM


def test_prctl_pdeathsig_is_not_inherited_by_a_forked_child(kernel: Kernel, in_child) -> None:
    """The parent-death signal is the caller's own request: a child made by fork starts
    without one (prctl(2))."""

    def pdeathsig() -> int:
        return _got(kernel, "PR_GET_PDEATHSIG")

    def run() -> tuple[int, int]:
        kernel.prctl(kernel.PR_SET_PDEATHSIG, signal.SIGUSR2, 0, 0, 0).unwrap()
        child = forking.fork(kernel, pdeathsig)  # its exit code: the child's setting
        return pdeathsig(), forking.exit_code(kernel, child)

    assert in_child(run) == (signal.SIGUSR2, 0)


def test_prctl_get_dumpable_is_one_for_an_ordinary_process(kernel: Kernel, observe) -> None:
    value = kernel.prctl(kernel.PR_GET_DUMPABLE, 0, 0, 0, 0).unwrap()
    observe("dumpable", value)
    assert value == 1


def test_prctl_set_dumpable_zero_is_read_back(kernel: Kernel, in_child) -> None:
    def run() -> int:
        kernel.prctl(kernel.PR_SET_DUMPABLE, 0, 0, 0, 0).unwrap()
        return kernel.prctl(kernel.PR_GET_DUMPABLE, 0, 0, 0, 0).unwrap()

    assert in_child(run) == 0


def test_prctl_set_dumpable_two_is_einval(kernel: Kernel, in_child) -> None:
    """SUID_DUMP_ROOT (2) may be set only through the sysctl, not by a process."""
    assert in_child(lambda: kernel.prctl(kernel.PR_SET_DUMPABLE, 2, 0, 0, 0).outcome) == "EINVAL"


def test_prctl_no_new_privs_once_set_is_read_back(kernel: Kernel, in_child, observe) -> None:
    def run() -> tuple[int, int]:
        before = kernel.prctl(kernel.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0).unwrap()
        kernel.prctl(kernel.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0).unwrap()
        return before, kernel.prctl(kernel.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0).unwrap()

    # The flag before is inherited from whatever started the run (runsc sets it for
    # its container, as may systemd or a container runtime): recorded, not asserted.
    before, after = in_child(run)
    observe("no_new_privs_before", before)
    assert before in (0, 1)
    assert after == 1


def test_prctl_no_new_privs_is_inherited_by_children(kernel: Kernel, in_child) -> None:
    def run() -> int:
        kernel.prctl(kernel.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0).unwrap()
        pid = forking.fork(
            kernel, lambda: kernel.prctl(kernel.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0).value
        )
        return forking.exit_code(kernel, pid)

    assert in_child(run) == 1


@pytest.mark.parametrize(("arg2", "arg3"), [(0, 0), (1, 1)])
def test_prctl_no_new_privs_other_than_plain_one_is_einval(
    kernel: Kernel, in_child, arg2: int, arg3: int
) -> None:
    """It can only be turned on (arg2 1), with the unused arguments zero."""
    r = in_child(lambda: kernel.prctl(kernel.PR_SET_NO_NEW_PRIVS, arg2, arg3, 0, 0).outcome)
    assert r == "EINVAL"


def test_prctl_child_subreaper_is_read_back(kernel: Kernel, in_child) -> None:
    def run() -> int:
        kernel.prctl(kernel.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0).unwrap()
        return _got(kernel, "PR_GET_CHILD_SUBREAPER")

    assert in_child(run) == 1


def test_prctl_unknown_option_is_einval(kernel: Kernel) -> None:
    assert kernel.prctl(0x7FFF_0000, 0, 0, 0, 0).errno == "EINVAL"


def test_prctl_pdeathsig_highest_signal_is_valid(kernel: Kernel, in_child) -> None:
    def run() -> int:
        kernel.prctl(kernel.PR_SET_PDEATHSIG, 64, 0, 0, 0).unwrap()
        return _got(kernel, "PR_GET_PDEATHSIG")

    assert in_child(run) == 64


def test_prctl_get_no_new_privs_with_arguments_is_einval(kernel: Kernel) -> None:
    assert kernel.prctl(kernel.PR_GET_NO_NEW_PRIVS, 1, 0, 0, 0).errno == "EINVAL"


def test_prctl_child_subreaper_stores_any_nonzero_as_one(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        kernel.prctl(kernel.PR_SET_CHILD_SUBREAPER, 2, 0, 0, 0).unwrap()
        two = _got(kernel, "PR_GET_CHILD_SUBREAPER")
        kernel.prctl(kernel.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0).unwrap()
        return two, _got(kernel, "PR_GET_CHILD_SUBREAPER")

    assert in_child(run) == (1, 0)


def test_prctl_orphan_is_reparented_to_the_subreaper(kernel: Kernel, in_child) -> None:
    """getppid of a grandchild whose parent exited names the subreaper."""

    def run() -> tuple[int, bool]:
        kernel.prctl(kernel.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0).unwrap()
        pid_r, pid_w = os.pipe()
        go_r, go_w = os.pipe()
        out_r, out_w = os.pipe()

        def grandchild() -> int:
            os.read(go_r, 1)  # until the middle process has been reaped
            os.write(out_w, kernel.getppid().unwrap().to_bytes(4, "little"))
            return 0

        def middle() -> int:
            os.write(pid_w, forking.fork(kernel, grandchild).to_bytes(4, "little"))
            return 0

        mid = forking.fork(kernel, middle)
        gc = int.from_bytes(os.read(pid_r, 4), "little")
        forking.wait(kernel, mid)
        os.write(go_w, b"g")
        ppid = int.from_bytes(os.read(out_r, 4), "little")
        forking.wait(kernel, gc)
        return ppid - os.getpid(), ppid == mid

    assert in_child(run) == (0, False)


def test_prctl_timerslack_is_read_back_and_zero_restores_the_default(
    kernel: Kernel, in_child
) -> None:
    """The default is the slack the process had at fork, so 0 gives back the first value."""

    def run() -> tuple[int, int, int]:
        first = kernel.prctl(kernel.PR_GET_TIMERSLACK, 0, 0, 0, 0).unwrap()
        kernel.prctl(kernel.PR_SET_TIMERSLACK, first + 12345, 0, 0, 0).unwrap()
        changed = kernel.prctl(kernel.PR_GET_TIMERSLACK, 0, 0, 0, 0).unwrap() - first
        kernel.prctl(kernel.PR_SET_TIMERSLACK, 0, 0, 0, 0).unwrap()
        back = kernel.prctl(kernel.PR_GET_TIMERSLACK, 0, 0, 0, 0).unwrap() - first
        return changed, back, first

    changed, back, _ = in_child(run)
    assert (changed, back) == (12345, 0)


@pytest.mark.parametrize("flag", ["KEEPCAPS", "THP_DISABLE"])
def test_prctl_flag_set_and_cleared_is_read_back(kernel: Kernel, in_child, flag: str) -> None:
    put, get = getattr(kernel, f"PR_SET_{flag}"), getattr(kernel, f"PR_GET_{flag}")

    def run() -> tuple[int, int]:
        kernel.prctl(put, 1, 0, 0, 0).unwrap()
        on = kernel.prctl(get, 0, 0, 0, 0).unwrap()
        kernel.prctl(put, 0, 0, 0, 0).unwrap()
        return on, kernel.prctl(get, 0, 0, 0, 0).unwrap()

    assert in_child(run) == (1, 0)


def test_prctl_keepcaps_above_one_is_einval(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: kernel.prctl(kernel.PR_SET_KEEPCAPS, 2, 0, 0, 0).outcome) == "EINVAL"


def test_prctl_thp_disable_with_extra_arguments_is_einval(kernel: Kernel, in_child) -> None:
    r = in_child(lambda: kernel.prctl(kernel.PR_SET_THP_DISABLE, 1, 1, 0, 0).outcome)
    assert r == "EINVAL"


# What a user may not ask of prctl: rewriting the memory map's fields (kernel/sys.c
# prctl_set_mm: CAP_SYS_RESOURCE), dropping from the bounding set or setting the
# securebits (security/commoncap.c cap_task_prctl: CAP_SETPCAP). Each is asked, in a
# child, for what it has already, or (the bounding set) what would only be lost.


def _start_brk() -> int:
    with open("/proc/self/stat") as f:  # field 47; those after the comm start at 3
        return int(f.read().rsplit(")", 1)[1].split()[47 - 3])


@pytest.mark.as_user("root may rewrite its memory map's fields (CAP_SYS_RESOURCE)")
def test_prctl_set_mm_as_a_user_is_eperm(kernel: Kernel, in_child) -> None:
    def run() -> tuple[str, bool]:
        before = _start_brk()
        r = kernel.prctl(kernel.PR_SET_MM, kernel.PR_SET_MM_START_BRK, before, 0, 0)
        return r.outcome, _start_brk() == before

    assert in_child(run) == ("EPERM", True)


@pytest.mark.as_user("root may drop from its bounding set (CAP_SETPCAP)")
def test_prctl_capbset_drop_as_a_user_is_eperm(kernel: Kernel, in_child) -> None:
    def run() -> tuple[str, int]:
        r = kernel.prctl(kernel.PR_CAPBSET_DROP, kernel.CAP_SYS_ADMIN, 0, 0, 0)
        return r.outcome, kernel.prctl(kernel.PR_CAPBSET_READ, kernel.CAP_SYS_ADMIN, 0, 0, 0).value

    before = kernel.prctl(kernel.PR_CAPBSET_READ, kernel.CAP_SYS_ADMIN, 0, 0, 0).unwrap()
    assert in_child(run) == ("EPERM", before)


@pytest.mark.as_user("root may set its securebits (CAP_SETPCAP)")
def test_prctl_set_securebits_to_the_current_ones_as_a_user_is_eperm(
    kernel: Kernel, in_child
) -> None:
    def run() -> str:
        bits = kernel.prctl(kernel.PR_GET_SECUREBITS, 0, 0, 0, 0).unwrap()
        return kernel.prctl(kernel.PR_SET_SECUREBITS, bits, 0, 0, 0).outcome

    assert in_child(run) == "EPERM"


# An I/O flusher (a user-space block driver's thread, allowed to allocate in reclaim) is
# CAP_SYS_RESOURCE's to declare, and to ask about (kernel/sys.c, Linux >= 5.6).
@pytest.mark.min_kernel("5.6")
@pytest.mark.as_user("root may declare an I/O flusher (CAP_SYS_RESOURCE)")
def test_prctl_io_flusher_as_a_user_is_eperm(kernel: Kernel, in_child) -> None:
    def run() -> tuple[str, str]:
        set_ = kernel.prctl(kernel.PR_SET_IO_FLUSHER, 1, 0, 0, 0).outcome
        return set_, kernel.prctl(kernel.PR_GET_IO_FLUSHER, 0, 0, 0, 0).outcome

    assert in_child(run) == ("EPERM", "EPERM")
