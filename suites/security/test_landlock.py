"""landlock_create_ruleset(2), landlock_add_rule(2), landlock_restrict_self(2): a process
restricting its own file-system access, for good.

A ruleset names the access rights it handles; rules grant some of them beneath a
directory; restrict_self (with no_new_privs, or CAP_SYS_ADMIN) makes every handled
right not granted EACCES for the process and its children. The ABI version grows with
the kernel (6.1: 2); the tests use the rights of ABI 1, which every version handles.
A kernel built without Landlock, or booted without it in lsm=, answers EOPNOTSUPP: the
tests then skip saying so. Every restriction happens in a child.
"""

import os
from pathlib import Path
from typing import Any

import pytest

from syscalls import forking
from syscalls.kernel import Kernel

pytestmark = [pytest.mark.os("linux"), pytest.mark.min_kernel("5.13")]

AS_USER = pytest.mark.as_user("root may restrict itself without no_new_privs (CAP_SYS_ADMIN)")
ABI1_RIGHTS = (1 << 13) - 1  # EXECUTE .. MAKE_SYM: linux/landlock.h, ABI 1
READ = ("READ_FILE", "READ_DIR", "EXECUTE")


def _rights(kernel: Kernel, *names: str) -> int:
    return sum(getattr(kernel, f"LANDLOCK_ACCESS_FS_{n}") for n in names)


@pytest.fixture(autouse=True)
def landlock(kernel: Kernel) -> int:
    """The ABI version; skips where the kernel has Landlock off."""
    r = kernel.landlock_create_ruleset(None, 0, kernel.LANDLOCK_CREATE_RULESET_VERSION)
    if r.errno == "EOPNOTSUPP":
        pytest.skip("Landlock is not enabled in this kernel (CONFIG_SECURITY_LANDLOCK, lsm=)")
    return r.unwrap()


def _ruleset(kernel: Kernel, handled: int = ABI1_RIGHTS) -> int:
    attr = kernel.new("struct landlock_ruleset_attr *", [handled])
    return kernel.landlock_create_ruleset(attr, kernel.ffi.sizeof(attr[0]), 0).unwrap()


def _beneath(kernel: Kernel, ruleset: int, path: Any, rights: int) -> str:
    fd = os.open(path, os.O_PATH | os.O_DIRECTORY)
    try:
        attr = kernel.new("struct landlock_path_beneath_attr *", [rights, fd])
        return kernel.landlock_add_rule(ruleset, kernel.LANDLOCK_RULE_PATH_BENEATH, attr, 0).outcome
    finally:
        os.close(fd)


def _restrict(kernel: Kernel, ruleset: int, nnp: bool = True) -> str:
    if nnp:
        kernel.prctl(kernel.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0).unwrap()
    return kernel.landlock_restrict_self(ruleset, 0).outcome


def _open(kernel: Kernel, path: Any, flags: int) -> str:
    r = kernel.openat(kernel.AT_FDCWD, path, flags | kernel.O_CLOEXEC, 0o600)
    if r.ok:
        os.close(r.value)
    return r.outcome


@pytest.fixture
def tree(tmp: Path) -> Path:
    """tmp/ro/file and tmp/other/file, every one writable by its owner."""
    for name in ("ro", "other"):
        (tmp / name).mkdir()
        (tmp / name / "file").write_text("x")
    return tmp


def test_abi_version_is_at_least_one(landlock: int) -> None:
    assert landlock >= 1


def test_version_query_with_an_attribute_is_einval(kernel: Kernel) -> None:
    attr = kernel.new("struct landlock_ruleset_attr *", [1])
    r = kernel.landlock_create_ruleset(attr, 8, kernel.LANDLOCK_CREATE_RULESET_VERSION)
    assert r.errno == "EINVAL"


def test_create_ruleset_returns_a_close_on_exec_fd(kernel: Kernel) -> None:
    fd = _ruleset(kernel)
    try:
        assert kernel.fcntl(fd, kernel.F_GETFD, 0).unwrap() & kernel.FD_CLOEXEC
    finally:
        os.close(fd)


def test_create_ruleset_handling_nothing_is_enomsg(kernel: Kernel) -> None:
    attr = kernel.new("struct landlock_ruleset_attr *", [0])
    assert kernel.landlock_create_ruleset(attr, 8, 0).errno == "ENOMSG"


def test_create_ruleset_with_an_unknown_right_is_einval(kernel: Kernel) -> None:
    attr = kernel.new("struct landlock_ruleset_attr *", [1 << 62])
    assert kernel.landlock_create_ruleset(attr, 8, 0).errno == "EINVAL"


def test_create_ruleset_with_unknown_flags_is_einval(kernel: Kernel) -> None:
    attr = kernel.new("struct landlock_ruleset_attr *", [ABI1_RIGHTS])
    assert kernel.landlock_create_ruleset(attr, 8, 1 << 30).errno == "EINVAL"


def test_create_ruleset_size_smaller_than_version_1_is_einval(kernel: Kernel) -> None:
    attr = kernel.new("struct landlock_ruleset_attr *", [ABI1_RIGHTS])
    assert kernel.landlock_create_ruleset(attr, 4, 0).errno == "EINVAL"


def test_create_ruleset_larger_size_with_unknown_bytes_is_e2big(kernel: Kernel) -> None:
    buf = kernel.new("uint64_t[64]", [ABI1_RIGHTS] + [0] * 62 + [1])
    assert kernel.landlock_create_ruleset(buf, 512, 0).errno == "E2BIG"


def test_create_ruleset_larger_size_with_zero_tail_is_accepted(kernel: Kernel) -> None:
    buf = kernel.new("uint64_t[64]", [ABI1_RIGHTS])
    fd = kernel.landlock_create_ruleset(buf, 512, 0).unwrap()
    os.close(fd)


def test_add_rule_granting_an_unhandled_right_is_einval(kernel: Kernel, tmp: Path) -> None:
    fd = _ruleset(kernel, _rights(kernel, "READ_FILE"))
    try:
        assert _beneath(kernel, fd, tmp, _rights(kernel, "WRITE_FILE")) == "EINVAL"
    finally:
        os.close(fd)


def test_add_rule_granting_nothing_is_enomsg(kernel: Kernel, tmp: Path) -> None:
    fd = _ruleset(kernel)
    try:
        assert _beneath(kernel, fd, tmp, 0) == "ENOMSG"
    finally:
        os.close(fd)


def test_add_rule_of_an_unknown_type_is_einval(kernel: Kernel, tmp: Path) -> None:
    fd = _ruleset(kernel)
    dfd = os.open(tmp, os.O_PATH)
    try:
        attr = kernel.new("struct landlock_path_beneath_attr *", [1, dfd])
        assert kernel.landlock_add_rule(fd, 99, attr, 0).errno == "EINVAL"
        assert kernel.landlock_add_rule(fd, kernel.LANDLOCK_RULE_PATH_BENEATH, attr, 1).errno == (
            "EINVAL"
        )
    finally:
        os.close(dfd)
        os.close(fd)


def test_add_rule_to_something_that_is_not_a_ruleset_is_ebadfd(kernel: Kernel, tmp: Path) -> None:
    rfd, wfd = os.pipe()
    try:
        assert _beneath(kernel, rfd, tmp, 1) == "EBADFD"
    finally:
        os.close(rfd)
        os.close(wfd)


def test_add_rule_with_a_closed_parent_fd_is_ebadf(kernel: Kernel) -> None:
    fd = _ruleset(kernel)
    try:
        attr = kernel.new("struct landlock_path_beneath_attr *", [1, 999_999])
        r = kernel.landlock_add_rule(fd, kernel.LANDLOCK_RULE_PATH_BENEATH, attr, 0)
        assert r.errno == "EBADF"
    finally:
        os.close(fd)


def test_restrict_self_with_flags_is_einval(kernel: Kernel, in_child) -> None:
    def run() -> str:
        kernel.prctl(kernel.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0).unwrap()
        return kernel.landlock_restrict_self(_ruleset(kernel), 1 << 30).outcome

    assert in_child(run) == "EINVAL"


def test_restrict_self_with_something_not_a_ruleset_is_ebadfd(kernel: Kernel, in_child) -> None:
    def run() -> str:
        rfd, _wfd = os.pipe()
        return _restrict(kernel, rfd)

    assert in_child(run) == "EBADFD"


@AS_USER
def test_restrict_self_without_no_new_privs_as_a_user_is_eperm(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: _restrict(kernel, _ruleset(kernel), nnp=False)) == "EPERM"


def test_read_only_directory_refuses_writes_and_allows_reads(
    kernel: Kernel, tree: Path, in_child
) -> None:
    """Reading is granted everywhere (so the interpreter keeps working), writing nowhere
    but nothing beneath tree/ro is writable either: EACCES for writes, both there and
    elsewhere; reads still work."""

    def run() -> dict[str, str]:
        rs = _ruleset(kernel)
        _beneath(kernel, rs, "/", _rights(kernel, *READ))
        _beneath(kernel, rs, tree / "ro", _rights(kernel, "READ_FILE", "READ_DIR"))
        restricted = _restrict(kernel, rs)
        return {
            "restrict": restricted,
            "read ro": _open(kernel, tree / "ro" / "file", kernel.O_RDONLY),
            "write ro": _open(kernel, tree / "ro" / "file", kernel.O_WRONLY),
            "create in ro": _open(kernel, tree / "ro" / "new", kernel.O_CREAT | kernel.O_WRONLY),
            "write other": _open(kernel, tree / "other" / "file", kernel.O_WRONLY),
            "read other": _open(kernel, tree / "other" / "file", kernel.O_RDONLY),
            "unlink in ro": kernel.unlinkat(kernel.AT_FDCWD, tree / "ro" / "file", 0).outcome,
            "mkdir in ro": kernel.mkdirat(kernel.AT_FDCWD, tree / "ro" / "d", 0o700).outcome,
        }

    assert in_child(run) == {
        "restrict": "ok",
        "read ro": "ok",
        "write ro": "EACCES",
        "create in ro": "EACCES",
        "write other": "EACCES",
        "read other": "ok",
        "unlink in ro": "EACCES",
        "mkdir in ro": "EACCES",
    }


def test_rights_granted_beneath_a_directory_reach_its_subtree_only(
    kernel: Kernel, tree: Path, in_child
) -> None:
    def run() -> tuple[str, str, str]:
        rs = _ruleset(kernel, _rights(kernel, "READ_FILE"))
        _beneath(kernel, rs, tree / "ro", _rights(kernel, "READ_FILE"))
        _restrict(kernel, rs)
        return (
            _open(kernel, tree / "ro" / "file", kernel.O_RDONLY),
            _open(kernel, tree / "other" / "file", kernel.O_RDONLY),
            _open(kernel, "/proc/self/status", kernel.O_RDONLY),
        )

    assert in_child(run) == ("ok", "EACCES", "EACCES")


def test_symlink_creation_needs_make_sym_not_make_reg(kernel: Kernel, tree: Path, in_child) -> None:
    """A ruleset handling MAKE_REG and MAKE_SYM grants MAKE_REG beneath tree/ro and
    MAKE_SYM beneath tree/other: a symlink can be made in other only, a regular file in
    ro only."""

    def run() -> dict[str, str]:
        rs = _ruleset(kernel, _rights(kernel, "MAKE_REG", "MAKE_SYM"))
        _beneath(kernel, rs, tree / "ro", _rights(kernel, "MAKE_REG"))
        _beneath(kernel, rs, tree / "other", _rights(kernel, "MAKE_SYM"))
        _restrict(kernel, rs)
        link, new = kernel.symlinkat, kernel.O_CREAT | kernel.O_WRONLY
        return {
            "symlink in ro": link("file", kernel.AT_FDCWD, tree / "ro" / "l").outcome,
            "symlink in other": link("file", kernel.AT_FDCWD, tree / "other" / "l").outcome,
            "file in ro": _open(kernel, tree / "ro" / "new", new),
            "file in other": _open(kernel, tree / "other" / "new", new),
        }

    assert in_child(run) == {
        "symlink in ro": "EACCES",
        "symlink in other": "ok",
        "file in ro": "ok",
        "file in other": "EACCES",
    }


def test_unhandled_rights_stay_allowed(kernel: Kernel, tree: Path, in_child) -> None:
    """A ruleset handling only WRITE_FILE leaves reading, creating and removing alone."""

    def run() -> tuple[str, str, str]:
        _restrict(kernel, _ruleset(kernel, _rights(kernel, "WRITE_FILE")))
        return (
            _open(kernel, tree / "other" / "file", kernel.O_WRONLY),
            _open(kernel, tree / "other" / "file", kernel.O_RDONLY),
            _open(kernel, tree / "other" / "new", kernel.O_CREAT | kernel.O_RDONLY),
        )

    assert in_child(run) == ("EACCES", "ok", "ok")


def test_restriction_is_inherited_by_fork(kernel: Kernel, tree: Path, in_child) -> None:
    def run() -> int:
        _restrict(kernel, _ruleset(kernel, _rights(kernel, "WRITE_FILE")))
        target = tree / "other" / "file"
        pid = forking.fork(
            kernel, lambda: 0 if _open(kernel, target, kernel.O_WRONLY) == "EACCES" else 1
        )
        return forking.exit_code(kernel, pid)

    assert in_child(run) == 0


def test_a_second_ruleset_can_only_restrict_further(kernel: Kernel, tree: Path, in_child) -> None:
    """Layers add up: what the first forbids, a second that grants it cannot give back."""

    def run() -> tuple[str, str]:
        first = _ruleset(kernel, _rights(kernel, "WRITE_FILE"))
        _restrict(kernel, first)
        second = _ruleset(kernel, _rights(kernel, "WRITE_FILE"))
        _beneath(kernel, second, tree, _rights(kernel, "WRITE_FILE"))
        return _restrict(kernel, second), _open(kernel, tree / "other" / "file", kernel.O_WRONLY)

    assert in_child(run) == ("ok", "EACCES")
