"""The new mount API (Linux >= 5.2): fsopen, fsconfig, fsmount, move_mount, fspick,
open_tree, and mount_setattr (5.12), each in a child with a mount namespace of its own.

Root unshares CLONE_NEWNS and makes the tree private; a user gets the same inside a new
user namespace (where unprivileged user namespaces are allowed; else the test skips).
Whatever a test mounts dies with its child's namespace, and the host's directory is
checked to be untouched. Without CAP_SYS_ADMIN over the mount namespace, every call
that would make or change a mount is EPERM (fs/namespace.c may_mount).

fsopen gives a file-system context; fsconfig sets its parameters and creates the
superblock (FSCONFIG_CMD_CREATE); fsmount makes a detached mount of it, as a descriptor;
move_mount attaches it. fspick opens the context of a mounted file system for
reconfiguration; open_tree(OPEN_TREE_CLONE) copies a mount (a bind mount, detached).
"""

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from syscalls import namespaces
from syscalls.kernel import Kernel

pytestmark = [pytest.mark.os("linux"), pytest.mark.min_kernel("5.2")]

AS_USER = pytest.mark.as_user("root may mount (CAP_SYS_ADMIN)")
MIB = 1 << 20


def _configure(kernel: Kernel, fsfd: int, **params: str) -> None:
    for key, value in params.items():
        kernel.fsconfig(fsfd, kernel.FSCONFIG_SET_STRING, key.encode(), value.encode(), 0).unwrap()


def _tmpfs_context(kernel: Kernel, size: str = "1m") -> int:
    fsfd = kernel.fsopen(b"tmpfs", kernel.FSOPEN_CLOEXEC).unwrap()
    _configure(kernel, fsfd, size=size)
    kernel.fsconfig(fsfd, kernel.FSCONFIG_CMD_CREATE, None, None, 0).unwrap()
    return fsfd


def _attach(kernel: Kernel, mntfd: int, where: Path) -> None:
    kernel.move_mount(mntfd, b"", kernel.AT_FDCWD, where, kernel.MOVE_MOUNT_F_EMPTY_PATH).unwrap()


def _tmpfs_at(kernel: Kernel, where: Path, attrs: int = 0) -> int:
    """A 1 MiB tmpfs made with the new API and attached at `where`; its mount fd."""
    mntfd = kernel.fsmount(_tmpfs_context(kernel), kernel.FSMOUNT_CLOEXEC, attrs).unwrap()
    _attach(kernel, mntfd, where)
    return mntfd


def _create(kernel: Kernel, path: Path) -> str:
    r = kernel.openat(kernel.AT_FDCWD, path, kernel.O_CREAT | kernel.O_WRONLY, 0o600)
    if r.ok:
        os.close(r.value)
    return r.outcome


def _f_type(kernel: Kernel, path: Path) -> int:
    st = kernel.new("struct statfs *")
    kernel.statfs(path, st).unwrap()
    return st.f_type


@pytest.fixture
def mnt(tmp: Path) -> Path:
    (tmp / "mnt").mkdir()
    return tmp / "mnt"


@pytest.fixture
def in_ns(kernel: Kernel, in_child, mnt: Path) -> Callable:
    """in_ns(fn): fn() in a child with its own mount namespace; afterwards the host's
    mount point is checked to be as it was (empty)."""

    def run(fn: Callable) -> object:
        def body() -> object:
            namespaces.own_mount_namespace(kernel)
            return fn()

        result = in_child(body)
        assert list(mnt.iterdir()) == [], "a mount leaked out of the child's namespace"
        return result

    return run


# --- fsopen / fsconfig / fsmount / move_mount --------------------------------------------------


def test_fsmount_of_a_new_tmpfs_attached_by_move_mount_holds_files(
    kernel: Kernel, mnt: Path, in_ns
) -> None:
    def run() -> tuple[int, bytes]:
        _tmpfs_at(kernel, mnt)
        (mnt / "inside").write_bytes(b"new api")
        return _f_type(kernel, mnt), (mnt / "inside").read_bytes()

    assert in_ns(run) == (kernel.TMPFS_MAGIC, b"new api")


def test_fsconfig_size_sets_the_size_of_the_tmpfs(kernel: Kernel, mnt: Path, in_ns) -> None:
    def run() -> int:
        _tmpfs_at(kernel, mnt)
        st = kernel.new("struct statfs *")
        kernel.statfs(mnt, st).unwrap()
        return st.f_blocks * st.f_bsize

    assert in_ns(run) == MIB


def test_fsmount_descriptor_reaches_the_detached_mount(kernel: Kernel, mnt: Path, in_ns) -> None:
    def run() -> tuple[int, list[str]]:
        mntfd = kernel.fsmount(_tmpfs_context(kernel), kernel.FSMOUNT_CLOEXEC, 0).unwrap()
        fd = kernel.openat(mntfd, b"made-detached", kernel.O_CREAT | kernel.O_WRONLY, 0o600)
        os.close(fd.unwrap())
        _attach(kernel, mntfd, mnt)
        return _f_type(kernel, mnt), os.listdir(mnt)

    assert in_ns(run) == (kernel.TMPFS_MAGIC, ["made-detached"])


def test_fsmount_read_only_attribute_makes_writes_erofs(kernel: Kernel, mnt: Path, in_ns) -> None:
    def run() -> str:
        _tmpfs_at(kernel, mnt, kernel.MOUNT_ATTR_RDONLY)
        return _create(kernel, mnt / "f")

    assert in_ns(run) == "EROFS"


def test_fsmount_before_the_superblock_is_created_is_einval(kernel: Kernel, in_ns) -> None:
    def run() -> str:
        fsfd = kernel.fsopen(b"tmpfs", 0).unwrap()
        return kernel.fsmount(fsfd, 0, 0).outcome

    assert in_ns(run) == "EINVAL"


def test_fsmount_twice_from_one_context_is_ebusy(kernel: Kernel, in_ns) -> None:
    def run() -> str:
        fsfd = _tmpfs_context(kernel)
        kernel.fsmount(fsfd, 0, 0).unwrap()
        return kernel.fsmount(fsfd, 0, 0).outcome

    assert in_ns(run) == "EBUSY"


def test_fsmount_unknown_attribute_is_einval(kernel: Kernel, in_ns) -> None:
    assert in_ns(lambda: kernel.fsmount(_tmpfs_context(kernel), 0, 1 << 30).outcome) == "EINVAL"


def test_fsopen_unknown_file_system_type_is_enodev(kernel: Kernel, in_ns) -> None:
    assert in_ns(lambda: kernel.fsopen(b"no-such-fs", 0).outcome) == "ENODEV"


def test_fsopen_unknown_flag_is_einval(kernel: Kernel, in_ns) -> None:
    assert in_ns(lambda: kernel.fsopen(b"tmpfs", 2).outcome) == "EINVAL"


def test_fsconfig_unknown_key_is_einval(kernel: Kernel, in_ns) -> None:
    def run() -> str:
        fsfd = kernel.fsopen(b"tmpfs", 0).unwrap()
        return kernel.fsconfig(fsfd, kernel.FSCONFIG_SET_STRING, b"no-such-key", b"1", 0).outcome

    assert in_ns(run) == "EINVAL"


def test_fsconfig_bad_value_is_einval(kernel: Kernel, in_ns) -> None:
    def run() -> str:
        fsfd = kernel.fsopen(b"tmpfs", 0).unwrap()
        return kernel.fsconfig(fsfd, kernel.FSCONFIG_SET_STRING, b"size", b"lots", 0).outcome

    assert in_ns(run) == "EINVAL"


def test_fsconfig_unknown_command_is_eopnotsupp(kernel: Kernel, in_ns) -> None:
    def run() -> str:
        fsfd = kernel.fsopen(b"tmpfs", 0).unwrap()
        return kernel.fsconfig(fsfd, 100, None, None, 0).outcome

    assert in_ns(run) == "EOPNOTSUPP"


def test_fsconfig_create_with_a_key_is_einval(kernel: Kernel, in_ns) -> None:
    def run() -> str:
        fsfd = kernel.fsopen(b"tmpfs", 0).unwrap()
        return kernel.fsconfig(fsfd, kernel.FSCONFIG_CMD_CREATE, b"size", None, 0).outcome

    assert in_ns(run) == "EINVAL"


def test_fsconfig_on_a_descriptor_that_is_no_context_is_einval(kernel: Kernel, fds) -> None:
    rfd, _ = fds.pipe()
    r = kernel.fsconfig(rfd, kernel.FSCONFIG_CMD_CREATE, None, None, 0)
    assert r.errno == "EINVAL"


def test_move_mount_unknown_flag_is_einval(kernel: Kernel, mnt: Path, in_ns) -> None:
    def run() -> str:
        mntfd = kernel.fsmount(_tmpfs_context(kernel), 0, 0).unwrap()
        return kernel.move_mount(mntfd, b"", kernel.AT_FDCWD, mnt, 1 << 20).outcome

    assert in_ns(run) == "EINVAL"


def test_move_mount_onto_a_missing_path_is_enoent(kernel: Kernel, tmp: Path, in_ns) -> None:
    def run() -> str:
        mntfd = kernel.fsmount(_tmpfs_context(kernel), 0, 0).unwrap()
        flags = kernel.MOVE_MOUNT_F_EMPTY_PATH
        return kernel.move_mount(mntfd, b"", kernel.AT_FDCWD, tmp / "absent", flags).outcome

    assert in_ns(run) == "ENOENT"


# --- fspick ----------------------------------------------------------------------------------


def test_fspick_reconfigures_a_mounted_tmpfs_read_only(kernel: Kernel, mnt: Path, in_ns) -> None:
    def run() -> tuple[str, str]:
        _tmpfs_at(kernel, mnt)
        before = _create(kernel, mnt / "before")
        fsfd = kernel.fspick(kernel.AT_FDCWD, mnt, kernel.FSPICK_CLOEXEC).unwrap()
        kernel.fsconfig(fsfd, kernel.FSCONFIG_SET_FLAG, b"ro", None, 0).unwrap()
        kernel.fsconfig(fsfd, kernel.FSCONFIG_CMD_RECONFIGURE, None, None, 0).unwrap()
        return before, _create(kernel, mnt / "after")

    assert in_ns(run) == ("ok", "EROFS")


def test_fspick_reconfigures_the_size(kernel: Kernel, mnt: Path, in_ns) -> None:
    def run() -> int:
        _tmpfs_at(kernel, mnt)
        fsfd = kernel.fspick(kernel.AT_FDCWD, mnt, 0).unwrap()
        _configure(kernel, fsfd, size="2m")
        kernel.fsconfig(fsfd, kernel.FSCONFIG_CMD_RECONFIGURE, None, None, 0).unwrap()
        st = kernel.new("struct statfs *")
        kernel.statfs(mnt, st).unwrap()
        return st.f_blocks * st.f_bsize

    assert in_ns(run) == 2 * MIB


def test_fspick_of_a_directory_that_is_no_mount_root_is_einval(
    kernel: Kernel, mnt: Path, in_ns
) -> None:
    def run() -> str:
        _tmpfs_at(kernel, mnt)
        (mnt / "sub").mkdir()
        return kernel.fspick(kernel.AT_FDCWD, mnt / "sub", 0).outcome

    assert in_ns(run) == "EINVAL"


def test_fspick_unknown_flag_is_einval(kernel: Kernel, mnt: Path, in_ns) -> None:
    assert in_ns(lambda: kernel.fspick(kernel.AT_FDCWD, mnt, 1 << 20).outcome) == "EINVAL"


# --- open_tree -------------------------------------------------------------------------------


def test_open_tree_clone_attached_by_move_mount_is_a_bind_mount(
    kernel: Kernel, tmp: Path, mnt: Path, in_ns
) -> None:
    (tmp / "src").mkdir()
    (tmp / "src" / "f").write_bytes(b"bound")

    def run() -> tuple[bytes, bool]:
        flags = kernel.OPEN_TREE_CLONE | kernel.OPEN_TREE_CLOEXEC
        treefd = kernel.open_tree(kernel.AT_FDCWD, tmp / "src", flags).unwrap()
        _attach(kernel, treefd, mnt)
        (mnt / "g").write_bytes(b"back")
        return (mnt / "f").read_bytes(), (tmp / "src" / "g").exists()

    assert in_ns(run) == (b"bound", True)


def test_open_tree_without_clone_moves_the_mount_itself(
    kernel: Kernel, tmp: Path, mnt: Path, in_ns
) -> None:
    (tmp / "other").mkdir()

    def run() -> tuple[int, int]:
        _tmpfs_at(kernel, mnt)
        treefd = kernel.open_tree(kernel.AT_FDCWD, mnt, 0).unwrap()
        _attach(kernel, treefd, tmp / "other")
        return _f_type(kernel, tmp / "other"), _f_type(kernel, mnt)

    moved_to, left = in_ns(run)
    assert moved_to == kernel.TMPFS_MAGIC and left == _f_type(kernel, tmp)


def test_open_tree_recursive_without_clone_is_einval(kernel: Kernel, tmp: Path) -> None:
    assert kernel.open_tree(kernel.AT_FDCWD, tmp, kernel.AT_RECURSIVE).errno == "EINVAL"


def test_open_tree_unknown_flag_is_einval(kernel: Kernel, tmp: Path) -> None:
    assert kernel.open_tree(kernel.AT_FDCWD, tmp, 1 << 3).errno == "EINVAL"


def test_open_tree_of_a_missing_path_is_enoent(kernel: Kernel, tmp: Path) -> None:
    assert kernel.open_tree(kernel.AT_FDCWD, tmp / "absent", 0).errno == "ENOENT"


def test_open_tree_without_clone_needs_no_privilege(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds(kernel.open_tree(kernel.AT_FDCWD, tmp, kernel.OPEN_TREE_CLOEXEC))
    assert kernel.fcntl(fd, kernel.F_GETFL, 0).unwrap() & kernel.O_PATH


# --- mount_setattr ---------------------------------------------------------------------------


def _setattr(kernel: Kernel, path: Path, attr_set: int = 0, attr_clr: int = 0, size: int = 32):
    attr = kernel.new("struct mount_attr *", {"attr_set": attr_set, "attr_clr": attr_clr})
    return kernel.mount_setattr(kernel.AT_FDCWD, path, 0, attr, size)


@pytest.mark.min_kernel("5.12")
def test_mount_setattr_read_only_makes_writes_erofs(kernel: Kernel, mnt: Path, in_ns) -> None:
    def run() -> tuple[str, str]:
        _tmpfs_at(kernel, mnt)
        before = _create(kernel, mnt / "before")
        _setattr(kernel, mnt, attr_set=kernel.MOUNT_ATTR_RDONLY).unwrap()
        return before, _create(kernel, mnt / "after")

    assert in_ns(run) == ("ok", "EROFS")


@pytest.mark.min_kernel("5.12")
def test_mount_setattr_clearing_read_only_allows_writes_again(
    kernel: Kernel, mnt: Path, in_ns
) -> None:
    def run() -> str:
        _tmpfs_at(kernel, mnt, kernel.MOUNT_ATTR_RDONLY)
        _setattr(kernel, mnt, attr_clr=kernel.MOUNT_ATTR_RDONLY).unwrap()
        return _create(kernel, mnt / "f")

    assert in_ns(run) == "ok"


@pytest.mark.min_kernel("5.12")
def test_mount_setattr_noexec_shows_in_statvfs(kernel: Kernel, mnt: Path, in_ns) -> None:
    def run() -> bool:
        _tmpfs_at(kernel, mnt)
        _setattr(kernel, mnt, attr_set=kernel.MOUNT_ATTR_NOEXEC).unwrap()
        return bool(os.statvfs(mnt).f_flag & os.ST_NOEXEC)

    assert in_ns(run) is True


@pytest.mark.min_kernel("5.12")
def test_mount_setattr_smaller_than_version_0_is_einval(kernel: Kernel, tmp: Path) -> None:
    assert _setattr(kernel, tmp, size=kernel.MOUNT_ATTR_SIZE_VER0 - 8).errno == "EINVAL"


@pytest.mark.min_kernel("5.12")
def test_mount_setattr_larger_than_a_page_is_e2big(kernel: Kernel, tmp: Path) -> None:
    assert _setattr(kernel, tmp, size=os.sysconf("SC_PAGE_SIZE") + 8).errno == "E2BIG"


@pytest.mark.min_kernel("5.12")
def test_mount_setattr_unknown_attribute_is_einval(kernel: Kernel, mnt: Path, in_ns) -> None:
    def run() -> str:
        _tmpfs_at(kernel, mnt)
        return _setattr(kernel, mnt, attr_set=1 << 40).outcome

    assert in_ns(run) == "EINVAL"


@pytest.mark.min_kernel("5.12")
def test_mount_setattr_with_nothing_to_change_succeeds(kernel: Kernel, tmp: Path) -> None:
    r = _setattr(kernel, tmp)  # a no-op is answered before the privilege check
    assert r.outcome == ("ok" if os.geteuid() == 0 else "EPERM")


# --- without privilege -----------------------------------------------------------------------


@AS_USER
def test_fsopen_as_a_user_is_eperm(kernel: Kernel) -> None:
    assert kernel.fsopen(b"tmpfs", 0).errno == "EPERM"


@AS_USER
def test_fspick_as_a_user_is_eperm(kernel: Kernel, tmp: Path) -> None:
    assert kernel.fspick(kernel.AT_FDCWD, b"/", 0).errno == "EPERM"


@AS_USER
def test_open_tree_clone_as_a_user_is_eperm(kernel: Kernel, tmp: Path) -> None:
    assert kernel.open_tree(kernel.AT_FDCWD, tmp, kernel.OPEN_TREE_CLONE).errno == "EPERM"


@AS_USER
def test_move_mount_as_a_user_is_eperm(kernel: Kernel, tmp: Path, mnt: Path) -> None:
    r = kernel.move_mount(kernel.AT_FDCWD, tmp, kernel.AT_FDCWD, mnt, 0)
    assert r.errno == "EPERM"


@AS_USER
@pytest.mark.min_kernel("5.12")
def test_mount_setattr_as_a_user_is_eperm(kernel: Kernel, tmp: Path) -> None:
    assert _setattr(kernel, tmp, attr_set=kernel.MOUNT_ATTR_RDONLY).errno == "EPERM"
