"""System V semaphores: semget/semop/semtimedop/semctl on IPC_PRIVATE sets, which the
`sysv` fixture removes whatever the test did. semctl's fourth argument (union semun)
travels in a register: an int for SETVAL, a pointer for GETALL/SETALL and for IPC_STAT's
struct semid64_ds (its layout differs on x86_64: platforms/linux/x86_64.h)."""

import os
import time

import pytest

from syscalls import forking, namespaces
from syscalls.kernel import Kernel, Result

pytestmark = pytest.mark.os("linux")

SEMVMX = 32767  # include/uapi/linux/sem.h


def _ops(kernel: Kernel, *ops: tuple[int, int, int]):
    return kernel.new("struct sembuf[]", list(ops))


def test_semget_new_semaphores_start_at_zero(kernel: Kernel, sysv) -> None:
    semid = sysv.sem(3)
    vals = kernel.new("unsigned short[3]", [9, 9, 9])
    kernel.semctl(semid, 0, kernel.GETALL, vals).unwrap()
    assert list(vals) == [0, 0, 0]


def test_semctl_setval_getval_round_trip(kernel: Kernel, sysv) -> None:
    semid = sysv.sem()
    kernel.semctl(semid, 0, kernel.SETVAL, 5).unwrap()
    assert kernel.semctl(semid, 0, kernel.GETVAL, 0).unwrap() == 5


def test_semctl_setall_sets_every_semaphore(kernel: Kernel, sysv) -> None:
    semid = sysv.sem(2)
    kernel.semctl(semid, 0, kernel.SETALL, kernel.new("unsigned short[2]", [3, 4])).unwrap()
    assert [kernel.semctl(semid, i, kernel.GETVAL, 0).unwrap() for i in (0, 1)] == [3, 4]


def test_semctl_setval_above_semvmx_is_erange(kernel: Kernel, sysv) -> None:
    assert kernel.semctl(sysv.sem(), 0, kernel.SETVAL, SEMVMX + 1).errno == "ERANGE"


def test_semop_adds_and_subtracts(kernel: Kernel, sysv) -> None:
    semid = sysv.sem()
    kernel.semop(semid, _ops(kernel, (0, 3, 0)), 1).unwrap()
    kernel.semop(semid, _ops(kernel, (0, -2, 0)), 1).unwrap()
    assert kernel.semctl(semid, 0, kernel.GETVAL, 0).unwrap() == 1


def test_semctl_getpid_names_the_last_process_to_semop(kernel: Kernel, sysv, in_child) -> None:
    semid = sysv.sem()
    assert kernel.semctl(semid, 0, kernel.GETPID, 0).unwrap() == 0  # none yet

    def run() -> int:
        kernel.semop(semid, _ops(kernel, (0, 1, 0)), 1).unwrap()
        return os.getpid()

    pid = in_child(run)
    assert kernel.semctl(semid, 0, kernel.GETPID, 0).unwrap() == pid


def test_semop_applies_all_operations_or_none(kernel: Kernel, sysv) -> None:
    semid = sysv.sem(2)
    ops = _ops(kernel, (0, 1, 0), (1, -1, kernel.IPC_NOWAIT))
    assert kernel.semop(semid, ops, 2).errno == "EAGAIN"
    assert kernel.semctl(semid, 0, kernel.GETVAL, 0).unwrap() == 0


def test_semop_decrement_below_zero_nowait_is_eagain(kernel: Kernel, sysv) -> None:
    r = kernel.semop(sysv.sem(), _ops(kernel, (0, -1, kernel.IPC_NOWAIT)), 1)
    assert r.errno == "EAGAIN"


def test_semop_wait_for_zero_returns_at_once_when_zero(kernel: Kernel, sysv) -> None:
    kernel.semop(sysv.sem(), _ops(kernel, (0, 0, 0)), 1).unwrap()


def test_semop_index_out_of_range_is_efbig(kernel: Kernel, sysv) -> None:
    assert kernel.semop(sysv.sem(1), _ops(kernel, (1, 1, 0)), 1).errno == "EFBIG"


def test_semop_on_removed_set_is_einval(kernel: Kernel, sysv) -> None:
    semid = sysv.sem()
    sysv.remove("semctl", semid).unwrap()
    assert kernel.semop(semid, _ops(kernel, (0, 1, 0)), 1).errno == "EINVAL"


def test_semop_blocks_until_another_process_posts(kernel: Kernel, sysv, in_child) -> None:
    semid = sysv.sem()

    def run() -> float:
        def poster() -> None:
            time.sleep(0.02)
            kernel.semop(semid, _ops(kernel, (0, 1, 0)), 1).unwrap()

        start = time.monotonic()
        pid = forking.fork(kernel, poster)
        kernel.semop(semid, _ops(kernel, (0, -1, 0)), 1).unwrap()
        waited = time.monotonic() - start
        assert forking.exit_code(kernel, pid) == 0
        return waited

    assert in_child(run) >= 0.02
    assert kernel.semctl(semid, 0, kernel.GETVAL, 0).unwrap() == 0


def test_semtimedop_times_out_with_eagain(kernel: Kernel, sysv, in_child) -> None:
    semid = sysv.sem()

    def run() -> tuple[str, float]:
        ts = kernel.new("struct timespec *", (0, 20_000_000))
        start = time.monotonic()
        r = kernel.semtimedop(semid, _ops(kernel, (0, -1, 0)), 1, ts)
        return r.outcome, time.monotonic() - start

    outcome, waited = in_child(run)
    assert outcome == "EAGAIN"
    assert waited >= 0.02


def test_semop_undo_is_reverted_when_the_process_exits(kernel: Kernel, sysv, in_child) -> None:
    semid = sysv.sem()
    in_child(lambda: kernel.semop(semid, _ops(kernel, (0, 2, kernel.SEM_UNDO)), 1).unwrap())
    assert kernel.semctl(semid, 0, kernel.GETVAL, 0).unwrap() == 0


def test_semget_zero_semaphores_new_set_is_einval(kernel: Kernel) -> None:
    assert kernel.semget(kernel.IPC_PRIVATE, 0, kernel.IPC_CREAT | 0o600).errno == "EINVAL"


def _sem_limits() -> list[int]:
    """/proc/sys/kernel/sem: SEMMSL, SEMMNS, SEMOPM, SEMMNI."""
    with open("/proc/sys/kernel/sem") as f:
        return [int(v) for v in f.read().split()]


def test_semop_more_operations_than_semopm_is_e2big(kernel: Kernel, sysv) -> None:
    semopm = _sem_limits()[2]
    if semopm > 1 << 16:
        pytest.skip(f"SEMOPM is {semopm}: too many operations to build")
    semid = sysv.sem()
    ops = _ops(kernel, *[(0, 1, 0)] * (semopm + 1))
    assert kernel.semop(semid, ops, semopm + 1).errno == "E2BIG"
    assert kernel.semctl(semid, 0, kernel.GETVAL, 0).unwrap() == 0


def test_semop_of_semopm_operations_is_accepted(kernel: Kernel, sysv) -> None:
    semopm = _sem_limits()[2]
    if semopm > 1 << 16:
        pytest.skip(f"SEMOPM is {semopm}: too many operations to build")
    semid = sysv.sem()
    kernel.semop(semid, _ops(kernel, *[(0, 1, 0)] * semopm), semopm).unwrap()
    assert kernel.semctl(semid, 0, kernel.GETVAL, 0).unwrap() == semopm


def test_semop_with_no_operations_is_einval(kernel: Kernel, sysv) -> None:
    assert kernel.semop(sysv.sem(), _ops(kernel, (0, 1, 0)), 0).errno == "EINVAL"


def test_semctl_setval_negative_is_erange(kernel: Kernel, sysv) -> None:
    semid = sysv.sem()
    assert kernel.semctl(semid, 0, kernel.SETVAL, -1).errno == "ERANGE"
    assert kernel.semctl(semid, 0, kernel.GETVAL, 0).unwrap() == 0


def test_semctl_getval_index_out_of_range_is_einval(kernel: Kernel, sysv) -> None:
    assert kernel.semctl(sysv.sem(2), 2, kernel.GETVAL, 0).errno == "EINVAL"


def test_semget_more_semaphores_than_semmsl_is_einval(kernel: Kernel, sysv) -> None:
    semmsl = _sem_limits()[0]
    r = kernel.semget(kernel.IPC_PRIVATE, semmsl + 1, kernel.IPC_CREAT | 0o600)
    if r.ok:
        sysv.ids.append(("semctl", r.value))  # removed at teardown
    assert r.errno == "EINVAL"


def _waiters_counted(kernel: Kernel, semid: int, cmd: int, op: int) -> int:
    """The count semctl(cmd) reports while a forked child waits in semop(op), polled
    until it shows the waiter (or 5 s pass); the child is then released and reaped."""

    def waiter() -> None:
        kernel.semop(semid, _ops(kernel, (0, op, 0)), 1).unwrap()

    pid = forking.fork(kernel, waiter)
    deadline = time.monotonic() + 5
    count = 0
    while time.monotonic() < deadline:
        count = kernel.semctl(semid, 0, cmd, 0).unwrap()
        if count:
            break
        os.sched_yield()
    kernel.semctl(semid, 0, kernel.SETVAL, 1 if op < 0 else 0).unwrap()
    assert forking.exit_code(kernel, pid) == 0
    return count


def test_semctl_getncnt_counts_a_process_waiting_to_decrement(
    kernel: Kernel, sysv, in_child
) -> None:
    semid = sysv.sem()
    assert kernel.semctl(semid, 0, kernel.GETNCNT, 0).unwrap() == 0
    assert in_child(lambda: _waiters_counted(kernel, semid, kernel.GETNCNT, -1)) == 1


def test_semctl_getzcnt_counts_a_process_waiting_for_zero(kernel: Kernel, sysv, in_child) -> None:
    semid = sysv.sem()
    kernel.semctl(semid, 0, kernel.SETVAL, 1).unwrap()
    assert kernel.semctl(semid, 0, kernel.GETZCNT, 0).unwrap() == 0
    assert in_child(lambda: _waiters_counted(kernel, semid, kernel.GETZCNT, 0)) == 1


def _stat(kernel: Kernel, semid: int):
    ds = kernel.new("struct semid64_ds *")
    kernel.semctl(semid, 0, kernel.IPC_STAT, ds).unwrap()
    return ds


def test_semctl_ipc_stat_of_a_new_set_reports_its_size_creator_and_mode(
    kernel: Kernel, sysv
) -> None:
    before = int(time.time())
    semid = sysv.sem(3, 0o640)
    ds = _stat(kernel, semid)
    assert ds.sem_nsems == 3
    assert ds.sem_perm.mode & 0o777 == 0o640
    assert (ds.sem_perm.uid, ds.sem_perm.cuid) == (os.geteuid(), os.geteuid())
    assert (ds.sem_perm.gid, ds.sem_perm.cgid) == (os.getegid(), os.getegid())
    assert ds.sem_otime == 0  # no semop yet
    assert before - 1 <= ds.sem_ctime <= time.time() + 1


def test_semop_on_any_semaphore_of_the_set_sets_sem_otime(kernel: Kernel, sysv) -> None:
    semid = sysv.sem(3)
    before = int(time.time())
    kernel.semop(semid, _ops(kernel, (2, 1, 0)), 1).unwrap()  # the last one, not the first
    assert before - 1 <= _stat(kernel, semid).sem_otime <= time.time() + 1


def test_semop_that_fails_leaves_sem_otime_unset(kernel: Kernel, sysv) -> None:
    semid = sysv.sem()
    assert kernel.semop(semid, _ops(kernel, (0, -1, kernel.IPC_NOWAIT)), 1).errno == "EAGAIN"
    assert _stat(kernel, semid).sem_otime == 0


def test_semctl_ipc_set_changes_only_the_permission_bits_of_the_mode(kernel: Kernel, sysv) -> None:
    semid = sysv.sem(1, 0o600)
    ds = _stat(kernel, semid)
    ds.sem_perm.mode = 0o7640
    kernel.semctl(semid, 0, kernel.IPC_SET, ds).unwrap()
    assert _stat(kernel, semid).sem_perm.mode & 0o7777 == 0o640


def _sem_limits() -> list[int]:
    """/proc/sys/kernel/sem: SEMMSL, SEMMNS, SEMOPM, SEMMNI of this IPC namespace."""
    with open("/proc/sys/kernel/sem") as f:
        return [int(v) for v in f.read().split()]


def _info(kernel: Kernel, cmd: int) -> tuple[int, object]:
    info = kernel.new("struct seminfo *")
    return kernel.semctl(0, 0, cmd, info).unwrap(), info


def test_semctl_sem_info_counts_the_sets_and_semaphores_of_its_namespace(
    kernel: Kernel, in_child
) -> None:
    def run() -> tuple[int, tuple[int, int], list[int], list[int], int]:
        namespaces.own_ipc_namespace(kernel)  # the counts are of this namespace's alone
        for n in (3, 2):
            kernel.semget(kernel.IPC_PRIVATE, n, kernel.IPC_CREAT | 0o600).unwrap()
        top, info = _info(kernel, kernel.SEM_INFO)
        reported = [info.semmsl, info.semmns, info.semopm, info.semmni]
        return top, (info.semusz, info.semaem), _sem_limits(), reported, info.semvmx

    top, usage, limits, reported, semvmx = in_child(run)
    assert top == 1  # the highest index in use: two sets, 0 and 1
    assert usage == (2, 5)  # sets, semaphores in them
    assert reported == limits
    assert semvmx == SEMVMX


def test_semctl_ipc_info_reports_the_limits_and_no_usage(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, tuple[int, int], list[int], list[int]]:
        namespaces.own_ipc_namespace(kernel)
        kernel.semget(kernel.IPC_PRIVATE, 3, kernel.IPC_CREAT | 0o600).unwrap()
        top, info = _info(kernel, kernel.IPC_INFO)
        reported = [info.semmsl, info.semmns, info.semopm, info.semmni]
        return top, (info.semusz, info.semaem), _sem_limits(), reported

    top, usage, limits, reported = in_child(run)
    assert top == 0
    assert reported == limits
    assert usage == (20, SEMVMX)  # SEMUSZ, SEMAEM (linux/sem.h): not this set's 1 and 3


@pytest.mark.parametrize(
    "cmd", ["SEM_STAT", pytest.param("SEM_STAT_ANY", marks=pytest.mark.min_kernel("4.17"))]
)
def test_semctl_sem_stat_takes_an_index_and_answers_the_sets_id(
    kernel: Kernel, in_child, stat_by_index, cmd: str
) -> None:
    def run() -> tuple[dict[int, int], dict[int, int], str]:
        namespaces.own_ipc_namespace(kernel)
        made = {kernel.semget(kernel.IPC_PRIVATE, n, kernel.IPC_CREAT | 0o600).unwrap(): n
                for n in (1, 4)}  # fmt: skip
        top, _ = _info(kernel, kernel.SEM_INFO)
        ds = kernel.new("struct semid64_ds *")

        def stat(index: int) -> Result:
            return kernel.semctl(index, 0, getattr(kernel, cmd), ds)

        return made, *stat_by_index(stat, top, lambda: ds.sem_nsems)

    made, found, past_the_top = in_child(run)
    assert found == made  # each set's id, with its own size
    assert past_the_top == "EINVAL"


# As for queues (ipc/util.c ipcctl_obtain_check; ipcperms): the set is root's (a
# fixture's).
@pytest.mark.as_user("root may change or remove any set (CAP_SYS_ADMIN)")
@pytest.mark.parametrize("anothers", [("sem", 0o666)], indirect=True, ids=["666"])
def test_semctl_set_or_rmid_of_another_users_set_is_eperm(kernel: Kernel, anothers) -> None:
    _, semid = anothers
    ds = kernel.buf(256)  # struct semid64_ds, as IPC_STAT fills it
    kernel.semctl(semid, 0, kernel.IPC_STAT, kernel.address(ds)).unwrap()
    assert kernel.semctl(semid, 0, kernel.IPC_SET, kernel.address(ds)).errno == "EPERM"
    assert kernel.semctl(semid, 0, kernel.IPC_RMID, 0).errno == "EPERM"
    kernel.semctl(semid, 0, kernel.SETVAL, 3).unwrap()  # 0666: ours to use
    assert kernel.semctl(semid, 0, kernel.GETVAL, 0).unwrap() == 3


@pytest.mark.as_user("root may use any set (CAP_IPC_OWNER)")
@pytest.mark.parametrize("anothers", [("sem", 0o600)], indirect=True, ids=["600"])
def test_another_users_set_without_permission_is_eacces_to_get_stat_and_use(
    kernel: Kernel, anothers
) -> None:
    key, semid = anothers
    assert kernel.semget(key, 0, 0).unwrap() == semid  # asking for no access: granted
    assert kernel.semget(key, 0, 0o400).errno == "EACCES"
    assert kernel.semget(key, 0, 0o200).errno == "EACCES"
    assert kernel.semctl(semid, 0, kernel.IPC_STAT, kernel.address(kernel.buf(256))).errno == (
        "EACCES"
    )
    assert kernel.semctl(semid, 0, kernel.SETVAL, 1).errno == "EACCES"
    op = kernel.new("struct sembuf *", (0, 1, kernel.IPC_NOWAIT))
    assert kernel.semop(semid, op, 1).errno == "EACCES"
