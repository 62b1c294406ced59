"""setresuid/setresgid, setreuid/setregid and getresgid: the real, effective and saved
ids, as kernel/sys.c sets them.

-1 keeps an id. Without CAP_SETUID (CAP_SETGID) each new id must be one of the current
real, effective or saved ids; with it, any. setreuid also sets the saved id to the new
effective one when the real id is set, or the effective one set to other than the old
real id. As a user the tests move between the process's own ids; as root they run in a
child, which sets three distinct ids and then works without privilege.
"""

import os

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

AS_USER = pytest.mark.as_user("root may take any id (CAP_SETUID/CAP_SETGID)")
KEEP = -1  # (uid_t) -1
A, B, C = 1001, 1002, 1003  # ids no test process has, for root to hand out


def _resuid(kernel: Kernel) -> tuple[int, int, int]:
    ids = kernel.new("unsigned int[3]")
    kernel.getresuid(ids, ids + 1, ids + 2).unwrap()
    return tuple(ids)


def _resgid(kernel: Kernel) -> tuple[int, int, int]:
    ids = kernel.new("unsigned int[3]")
    kernel.getresgid(ids, ids + 1, ids + 2).unwrap()
    return tuple(ids)


def test_getresgid_returns_real_effective_and_saved(kernel: Kernel) -> None:
    assert _resgid(kernel) == os.getresgid()


@pytest.mark.requires("fault_handler")
def test_getresgid_into_a_bad_address_is_efault(kernel: Kernel) -> None:
    ids = kernel.new("unsigned int[2]")
    assert kernel.getresgid(ids, ids + 1, 8).errno == "EFAULT"


@pytest.mark.parametrize("call", ["setresuid", "setresgid"])
def test_setres_with_all_minus_one_changes_nothing(kernel: Kernel, in_child, call: str) -> None:
    def run() -> tuple[str, tuple, tuple]:
        r = getattr(kernel, call)(KEEP, KEEP, KEEP)
        return r.outcome, _resuid(kernel), _resgid(kernel)

    outcome, uids, gids = in_child(run)
    assert outcome == "ok"
    assert (uids, gids) == (os.getresuid(), os.getresgid())


@pytest.mark.parametrize("call", ["setreuid", "setregid"])
def test_setre_with_both_minus_one_changes_nothing(kernel: Kernel, in_child, call: str) -> None:
    def run() -> tuple[str, tuple, tuple]:
        r = getattr(kernel, call)(KEEP, KEEP)
        return r.outcome, _resuid(kernel), _resgid(kernel)

    outcome, uids, gids = in_child(run)
    assert outcome == "ok"
    assert (uids, gids) == (os.getresuid(), os.getresgid())


@AS_USER
def test_setresuid_to_own_ids_without_privilege_succeeds(kernel: Kernel, in_child) -> None:
    uid = os.getuid()
    assert in_child(lambda: (kernel.setresuid(uid, uid, uid).outcome, _resuid(kernel))) == (
        "ok",
        (uid, uid, uid),
    )


@AS_USER
def test_setresgid_to_own_ids_without_privilege_succeeds(kernel: Kernel, in_child) -> None:
    gid = os.getgid()
    assert in_child(lambda: (kernel.setresgid(gid, gid, gid).outcome, _resgid(kernel))) == (
        "ok",
        (gid, gid, gid),
    )


@AS_USER
@pytest.mark.parametrize("slot", [0, 1, 2])
def test_setresuid_to_another_id_without_privilege_is_eperm(
    kernel: Kernel, in_child, slot: int
) -> None:
    ids = [KEEP, KEEP, KEEP]
    ids[slot] = 0

    def run() -> tuple[str, tuple]:
        return kernel.setresuid(*ids).outcome, _resuid(kernel)

    outcome, after = in_child(run)
    assert outcome == "EPERM"
    assert after == os.getresuid()


@AS_USER
@pytest.mark.parametrize("slot", [0, 1, 2])
def test_setresgid_to_another_id_without_privilege_is_eperm(
    kernel: Kernel, in_child, slot: int
) -> None:
    ids = [KEEP, KEEP, KEEP]
    ids[slot] = 0
    assert in_child(lambda: kernel.setresgid(*ids).outcome) == "EPERM"


@AS_USER
@pytest.mark.parametrize("call", ["setreuid", "setregid"])
def test_setre_to_another_id_without_privilege_is_eperm(
    kernel: Kernel, in_child, call: str
) -> None:
    assert in_child(lambda: getattr(kernel, call)(0, KEEP).outcome) == "EPERM"
    assert in_child(lambda: getattr(kernel, call)(KEEP, 0).outcome) == "EPERM"


@AS_USER
def test_setreuid_to_own_ids_without_privilege_succeeds(kernel: Kernel, in_child) -> None:
    uid = os.getuid()
    assert in_child(lambda: (kernel.setreuid(uid, uid).outcome, _resuid(kernel))) == (
        "ok",
        (uid, uid, uid),
    )


@pytest.mark.root
def test_setresuid_as_root_sets_three_distinct_ids(kernel: Kernel, in_child) -> None:
    def run() -> tuple[tuple, str, tuple, str]:
        kernel.setresuid(A, B, C).unwrap()
        first = _resuid(kernel)
        back_to_saved = kernel.setresuid(KEEP, C, KEEP).outcome  # now unprivileged
        return first, back_to_saved, _resuid(kernel), kernel.setresuid(0, KEEP, KEEP).outcome

    first, to_saved, after, to_root = in_child(run)
    assert first == (A, B, C)
    assert to_saved == "ok"
    assert after == (A, C, C)
    assert to_root == "EPERM"


@pytest.mark.root
def test_setresgid_as_root_sets_three_distinct_ids(kernel: Kernel, in_child) -> None:
    def run() -> tuple[tuple, tuple]:
        kernel.setresgid(A, B, C).unwrap()
        first = _resgid(kernel)
        kernel.setresgid(C, KEEP, A).unwrap()  # still root: any gid
        return first, _resgid(kernel)

    assert in_child(run) == ((A, B, C), (C, B, A))


@pytest.mark.root
def test_setresgid_after_dropping_uid_is_limited_to_own_gids(kernel: Kernel, in_child) -> None:
    def run() -> tuple[str, str, tuple]:
        kernel.setresgid(A, B, C).unwrap()
        kernel.setresuid(A, A, A).unwrap()  # drops CAP_SETGID with root's uid
        other = kernel.setresgid(0, KEEP, KEEP).outcome
        own = kernel.setresgid(C, A, B).outcome  # a permutation of its own
        return other, own, _resgid(kernel)

    assert in_child(run) == ("EPERM", "ok", (C, A, B))


@pytest.mark.root
def test_setreuid_as_root_sets_saved_to_the_new_effective(kernel: Kernel, in_child) -> None:
    def run() -> tuple:
        kernel.setreuid(A, B).unwrap()
        return _resuid(kernel)

    assert in_child(run) == (A, B, B)


@pytest.mark.root
def test_setreuid_without_privilege_swaps_real_and_effective(kernel: Kernel, in_child) -> None:
    def run() -> tuple[tuple, str]:
        kernel.setresuid(A, B, C).unwrap()
        kernel.setreuid(B, A).unwrap()  # each new id is a current one
        swapped = _resuid(kernel)
        return swapped, kernel.setreuid(C, KEEP).outcome  # the saved id is no real id

    swapped, to_saved = in_child(run)
    assert swapped == (B, A, A)  # the real id changed: saved = new effective
    assert to_saved == "EPERM"


@pytest.mark.root
def test_setreuid_effective_only_to_the_real_keeps_saved(kernel: Kernel, in_child) -> None:
    def run() -> tuple:
        kernel.setresuid(A, B, C).unwrap()
        kernel.setreuid(KEEP, A).unwrap()  # to the old real id: saved stays
        return _resuid(kernel)

    assert in_child(run) == (A, A, C)


@pytest.mark.root
def test_setregid_as_root_sets_saved_to_the_new_effective(kernel: Kernel, in_child) -> None:
    def run() -> tuple:
        kernel.setregid(A, B).unwrap()
        return _resgid(kernel)

    assert in_child(run) == (A, B, B)


@pytest.mark.root
def test_dropping_every_uid_loses_the_way_back(kernel: Kernel, in_child) -> None:
    def run() -> tuple[str, str]:
        kernel.setresuid(A, A, A).unwrap()
        return kernel.setreuid(0, KEEP).outcome, kernel.setresuid(KEEP, 0, KEEP).outcome

    assert in_child(run) == ("EPERM", "EPERM")


@pytest.mark.root
def test_keeping_saved_root_allows_regaining_effective_root(kernel: Kernel, in_child) -> None:
    def run() -> tuple[tuple, tuple]:
        kernel.setresuid(A, A, 0).unwrap()
        dropped = _resuid(kernel)
        kernel.setresuid(KEEP, 0, KEEP).unwrap()  # 0 is the saved id
        return dropped, _resuid(kernel)

    assert in_child(run) == ((A, A, 0), (A, 0, 0))
