"""getpid/getppid/gettid, getuid/geteuid/getgid/getegid/getresuid, getgroups, and the
refusals of setuid/setgid/setgroups without privilege.

Identity changes as root happen only inside in_child, whose process then exits.
"""

import os
import threading
from pathlib import Path

import pytest

from syscalls import processes
from syscalls.kernel import Kernel

AS_USER = pytest.mark.as_user("root may change its ids (CAP_SETUID/CAP_SETGID)")
NOBODY = 65534


def _status(key: str) -> list[int] | None:
    """A line of Linux's /proc/self/status (Pid, PPid, Uid, Gid: real, effective, saved,
    fs), read by another path through the kernel than the syscall under test; None where
    there is none (the tests then compare with the C library, the same syscall)."""
    value = processes.status("self").get(key.encode())
    return None if value is None else [int(v) for v in value.split()]


def test_getpid_matches_the_c_library(kernel: Kernel) -> None:
    assert kernel.getpid().unwrap() == os.getpid() == (_status("Pid") or [os.getpid()])[0]


def test_getppid_matches_the_c_library(kernel: Kernel) -> None:
    assert kernel.getppid().unwrap() == os.getppid() == (_status("PPid") or [os.getppid()])[0]


@pytest.mark.os("linux")
def test_gettid_of_single_threaded_process_is_its_pid(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: kernel.gettid().unwrap() - kernel.getpid().unwrap()) == 0


@pytest.mark.os("linux")
def test_gettid_differs_between_threads_of_one_process(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int, int, int]:
        seen: list[int] = []
        t = threading.Thread(
            target=lambda: seen.extend([kernel.gettid().value, kernel.getpid().value])
        )
        t.start()
        t.join()
        return kernel.gettid().value, kernel.getpid().value, *seen

    main_tid, main_pid, thread_tid, thread_pid = in_child(run)
    assert thread_tid != main_tid
    assert thread_pid == main_pid


def test_uids_and_gids_match_the_c_library(kernel: Kernel) -> None:
    got = [kernel.getuid(), kernel.geteuid(), kernel.getgid(), kernel.getegid()]
    assert [r.unwrap() for r in got] == [os.getuid(), os.geteuid(), os.getgid(), os.getegid()]
    uid, gid = _status("Uid"), _status("Gid")
    if uid and gid:
        assert [r.value for r in got] == [uid[0], uid[1], gid[0], gid[1]]


@pytest.mark.os("linux")
def test_getresuid_returns_real_effective_and_saved(kernel: Kernel) -> None:
    ids = kernel.new("unsigned int[3]")
    kernel.getresuid(ids, ids + 1, ids + 2).unwrap()
    assert tuple(ids) == os.getresuid() == tuple((_status("Uid") or [])[:3])


def test_getgroups_with_zero_size_returns_the_count(kernel: Kernel) -> None:
    assert kernel.getgroups(0, None).unwrap() == len(os.getgroups())


def _groups_known() -> list[int]:
    groups = _status("Groups")
    return os.getgroups() if groups is None else groups


def test_getgroups_fills_the_list(kernel: Kernel) -> None:
    n = kernel.getgroups(0, None).unwrap()
    groups = kernel.new("unsigned int[]", max(n, 1))
    assert kernel.getgroups(n, groups).unwrap() == n
    assert sorted(groups[0:n]) == sorted(_groups_known())


@pytest.mark.root
def test_getgroups_returns_each_group_setgroups_gave(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, list[int], list[int]]:
        kernel.setgroups(3, kernel.new("unsigned int[]", [30, 10, 20])).unwrap()
        got = kernel.new("unsigned int[]", 4)
        n = kernel.getgroups(4, got).unwrap()
        return n, sorted(got[0:n]), sorted(_groups_known())

    assert in_child(run) == (3, [10, 20, 30], [10, 20, 30])


def test_getgroups_into_too_small_list_is_einval(kernel: Kernel, in_child) -> None:
    def run() -> str:
        if os.geteuid() == 0:  # root (a VM's has none) gives itself a list to be too small for
            os.setgroups([1, 2, 3])
        n = kernel.getgroups(0, None).unwrap()
        if n < 2:  # a size of 0 asks how many there are: too small takes 1 <= size < n
            pytest.skip(f"this process has {n} supplementary group(s): no list is too small")
        return kernel.getgroups(n - 1, kernel.new("unsigned int[]", n)).errno

    assert in_child(run) == "EINVAL"


@AS_USER
def test_setuid_to_another_user_without_privilege_is_eperm(kernel: Kernel, in_child) -> None:
    other = 0 if os.getuid() != 0 else NOBODY
    assert in_child(lambda: kernel.setuid(other).outcome) == "EPERM"


@AS_USER
def test_setuid_to_own_uid_without_privilege_succeeds(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: kernel.setuid(os.getuid()).outcome) == "ok"


@AS_USER
def test_setgid_to_another_group_without_privilege_is_eperm(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: kernel.setgid(0).outcome) == "EPERM"


@AS_USER
def test_setgroups_without_privilege_is_eperm(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: kernel.setgroups(0, None).outcome) == "EPERM"


@pytest.mark.root
@pytest.mark.os("linux")
def test_setgroups_in_any_order_grants_each_groups_access(
    kernel: Kernel, tmp: Path, fds, in_child
) -> None:
    """Root gives itself three groups, highest first, and becomes nobody: a file only
    each group may read is readable through every one of them."""
    groups = (3000, 2000, 1000)
    (tmp / "d").mkdir()
    (tmp / "d").chmod(0o711)  # nobody may look names up in it, through dirfd
    for g in groups:
        path = tmp / "d" / f"g{g}"
        path.write_bytes(b"")
        os.chown(path, 0, g)
        path.chmod(0o040)
    dirfd = fds(kernel.openat(kernel.AT_FDCWD, tmp / "d", kernel.O_PATH | kernel.O_DIRECTORY))

    def run() -> dict[int, str]:
        kernel.setgroups(len(groups), kernel.new("unsigned int[]", groups)).unwrap()
        kernel.setgid(NOBODY).unwrap()
        kernel.setuid(NOBODY).unwrap()
        return {g: kernel.faccessat(dirfd, f"g{g}", kernel.R_OK).outcome for g in groups}

    assert in_child(run) == dict.fromkeys(groups, "ok")


@pytest.mark.root
@pytest.mark.os("linux")
def test_setuid_by_root_drops_all_three_uids_for_good(kernel: Kernel, in_child) -> None:
    def run() -> tuple[tuple[int, ...], str]:
        kernel.setuid(NOBODY).unwrap()
        ids = kernel.new("unsigned int[3]")
        kernel.getresuid(ids, ids + 1, ids + 2).unwrap()
        return tuple(ids), kernel.setuid(0).outcome

    ids, back = in_child(run)
    assert ids == (NOBODY, NOBODY, NOBODY)
    assert back == "EPERM"
