"""setfsuid(2) and setfsgid(2): the ids file access is checked against.

Both return the previous fs id whether or not they changed it, and report no error: an
id the caller may not take (without CAP_SETUID, one of its real, effective, saved or
current fs ids) is silently refused. The fs id follows the effective id whenever that
changes. An fs uid leaving 0 drops the file-system capabilities (CAP_DAC_OVERRIDE and
the rest) from the effective set. Changes happen in a child.
"""

import os
from pathlib import Path

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

AS_USER = pytest.mark.as_user("root may take any fs id (CAP_SETUID/CAP_SETGID)")
KEEP = -1  # an invalid id: nothing changes, the current fs id is returned
A, B = 1001, 1002


def test_setfsuid_minus_one_returns_the_fs_uid_which_is_the_euid(kernel: Kernel) -> None:
    assert kernel.setfsuid(KEEP).unwrap() == os.geteuid()


def test_setfsgid_minus_one_returns_the_fs_gid_which_is_the_egid(kernel: Kernel) -> None:
    assert kernel.setfsgid(KEEP).unwrap() == os.getegid()


@AS_USER
def test_setfsuid_to_another_id_is_refused_silently(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        return kernel.setfsuid(0).unwrap(), kernel.setfsuid(KEEP).unwrap()

    assert in_child(run) == (os.geteuid(), os.geteuid())


@AS_USER
def test_setfsgid_to_another_id_is_refused_silently(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        return kernel.setfsgid(0).unwrap(), kernel.setfsgid(KEEP).unwrap()

    assert in_child(run) == (os.getegid(), os.getegid())


@AS_USER
def test_setfsuid_to_the_own_uid_is_taken(kernel: Kernel, in_child) -> None:
    uid = os.getuid()
    assert in_child(lambda: (kernel.setfsuid(uid).unwrap(), kernel.setfsuid(KEEP).unwrap())) == (
        os.geteuid(),
        uid,
    )


@pytest.mark.root
def test_setfsuid_as_root_returns_the_previous_and_takes_the_new(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int, int]:
        return (
            kernel.setfsuid(A).unwrap(),
            kernel.setfsuid(B).unwrap(),
            kernel.setfsuid(KEEP).unwrap(),
        )

    assert in_child(run) == (0, A, B)


@pytest.mark.root
def test_setfsgid_as_root_returns_the_previous_and_takes_the_new(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        return kernel.setfsgid(A).unwrap(), kernel.setfsgid(KEEP).unwrap()

    assert in_child(run) == (os.getegid(), A)


@pytest.mark.root
def test_files_are_created_with_the_fs_ids(kernel: Kernel, tmp: Path, in_child) -> None:
    tmp.chmod(0o777)

    def run() -> tuple[int, int]:
        kernel.setfsgid(B)
        kernel.setfsuid(A)
        fd = kernel.openat(kernel.AT_FDCWD, tmp / "made", kernel.O_CREAT | kernel.O_WRONLY, 0o600)
        kernel.close(fd.unwrap())
        st = os.stat(tmp / "made")
        return st.st_uid, st.st_gid

    assert in_child(run) == (A, B)


@pytest.mark.root
def test_fs_uid_leaving_root_drops_dac_override(kernel: Kernel, tmp: Path, in_child) -> None:
    """Root's effective uid stays 0, but with fs uid A it can no longer write into a
    directory only root may write."""
    tmp.chmod(0o755)

    def run() -> tuple[int, str]:
        kernel.setfsuid(A)
        r = kernel.openat(kernel.AT_FDCWD, tmp / "denied", kernel.O_CREAT | kernel.O_WRONLY, 0o600)
        return os.geteuid(), r.outcome

    assert in_child(run) == (0, "EACCES")


@pytest.mark.root
def test_fs_uid_follows_a_change_of_the_effective_uid(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        kernel.setfsuid(A)
        kernel.setresuid(KEEP, B, KEEP).unwrap()  # euid B: fsuid B too
        return kernel.setfsuid(KEEP).unwrap(), os.geteuid()

    assert in_child(run) == (B, B)


@pytest.mark.root
def test_fs_gid_follows_a_change_of_the_effective_gid(kernel: Kernel, in_child) -> None:
    def run() -> int:
        kernel.setfsgid(A)
        kernel.setresgid(KEEP, B, KEEP).unwrap()
        return kernel.setfsgid(KEEP).unwrap()

    assert in_child(run) == B


@pytest.mark.root
def test_setfsuid_after_dropping_privilege_takes_only_own_ids(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int, int]:
        kernel.setresuid(A, B, A).unwrap()  # no capabilities left; fsuid B
        refused = kernel.setfsuid(0).unwrap()  # previous: B; 0 is none of its ids
        taken = kernel.setfsuid(A).unwrap()  # previous: still B; A is its real id
        return refused, taken, kernel.setfsuid(KEEP).unwrap()

    assert in_child(run) == (B, B, A)
