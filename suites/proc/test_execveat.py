"""execveat(2): execve relative to a directory descriptor, or of a descriptor itself with
AT_EMPTY_PATH (fs/exec.c do_open_execat). AT_SYMLINK_NOFOLLOW refuses a final symlink
(ELOOP); flags other than these two are EINVAL. A script run through a descriptor is
handed to its interpreter as /dev/fd/N; if the descriptor is close-on-exec the
interpreter could not open it, and execveat answers ENOENT (binfmt_script). Successful
execs run /bin/true or /bin/sh in a raw-forked child.
"""

import os
from pathlib import Path

import pytest

from syscalls import forking
from syscalls.forking import Argv
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

EXEC_FAILED = 99  # exit code of a child whose execveat returned


def _run(kernel: Kernel, dirfd: int, path, flags: int, argv=(b"x",)) -> int:
    """In a forked child, execveat; the exit code (EXEC_FAILED if it returned)."""
    args, envp = Argv(kernel, list(argv)), Argv(kernel, [])

    def child() -> int:
        kernel.execveat(dirfd, path, args.array, envp.array, flags)
        return EXEC_FAILED

    return forking.exit_code(kernel, forking.fork(kernel, child))


def _errno(kernel: Kernel, dirfd: int, path, flags: int) -> str:
    """A call expected to fail, made in the in_child process (a wrong success replaces
    only that throwaway process)."""
    args = Argv(kernel, [b"x"])
    return kernel.execveat(dirfd, path, args.array, Argv(kernel, []).array, flags).outcome


@pytest.fixture
def exec_tmp(tmp: Path) -> Path:
    if os.statvfs(tmp).f_flag & os.ST_NOEXEC:
        pytest.skip(f"{tmp} is on a file system mounted noexec")
    return tmp


def _script(path: Path, body: bytes, mode: int = 0o755) -> Path:
    path.write_bytes(b"#!/bin/sh\n" + body)
    path.chmod(mode)
    return path


def test_execveat_empty_path_runs_the_file_behind_the_descriptor(kernel: Kernel, in_child) -> None:
    def run() -> int:
        fd = os.open("/bin/true", os.O_RDONLY)
        return _run(kernel, fd, b"", kernel.AT_EMPTY_PATH)

    assert in_child(run) == 0


def test_execveat_empty_path_runs_an_o_path_descriptor(kernel: Kernel, in_child) -> None:
    def run() -> int:
        fd = os.open("/bin/true", os.O_PATH)
        return _run(kernel, fd, b"", kernel.AT_EMPTY_PATH)

    assert in_child(run) == 0


def test_execveat_relative_path_resolves_against_the_directory(kernel: Kernel, in_child) -> None:
    def run() -> int:
        dirfd = os.open("/bin", os.O_RDONLY | os.O_DIRECTORY)
        return _run(kernel, dirfd, b"true", 0)

    assert in_child(run) == 0


def test_execveat_absolute_path_ignores_the_directory(kernel: Kernel, tmp: Path, in_child) -> None:
    def run() -> int:
        dirfd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
        return _run(kernel, dirfd, b"/bin/true", 0)

    assert in_child(run) == 0


def test_execveat_passes_argv(kernel: Kernel, in_child) -> None:
    def run() -> int:
        dirfd = os.open("/bin", os.O_RDONLY | os.O_DIRECTORY)
        return _run(kernel, dirfd, b"sh", 0, (b"sh", b"-c", b"exit $#", b"_", b"a", b"b"))

    assert in_child(run) == 2


def test_execveat_script_by_descriptor_runs_through_dev_fd(
    kernel: Kernel, exec_tmp: Path, in_child
) -> None:
    if not os.path.isdir("/dev/fd"):
        pytest.skip("no /dev/fd here: a script run by descriptor is read as /dev/fd/N")
    script = _script(exec_tmp / "s", b"exit 7\n")

    def run() -> int:
        fd = os.open(script, os.O_RDONLY)
        os.set_inheritable(fd, True)
        return _run(kernel, fd, b"", kernel.AT_EMPTY_PATH)

    assert in_child(run) == 7


def test_execveat_script_by_close_on_exec_descriptor_is_enoent(
    kernel: Kernel, exec_tmp: Path, in_child
) -> None:
    script = _script(exec_tmp / "s", b"exit 7\n")

    def run() -> str:
        fd = os.open(script, os.O_RDONLY | os.O_CLOEXEC)
        return _errno(kernel, fd, b"", kernel.AT_EMPTY_PATH)

    assert in_child(run) == "ENOENT"


def test_execveat_symlink_nofollow_on_a_symlink_is_eloop(
    kernel: Kernel, tmp: Path, in_child
) -> None:
    (tmp / "link").symlink_to("/bin/true")
    flags = kernel.AT_SYMLINK_NOFOLLOW
    assert in_child(lambda: _errno(kernel, kernel.AT_FDCWD, tmp / "link", flags)) == "ELOOP"


def test_execveat_follows_a_symlink_by_default(kernel: Kernel, tmp: Path, in_child) -> None:
    (tmp / "link").symlink_to("/bin/true")
    assert in_child(lambda: _run(kernel, kernel.AT_FDCWD, tmp / "link", 0)) == 0


def test_execveat_missing_file_is_enoent(kernel: Kernel, tmp: Path, in_child) -> None:
    assert in_child(lambda: _errno(kernel, kernel.AT_FDCWD, tmp / "absent", 0)) == "ENOENT"


def test_execveat_unknown_flag_is_einval(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: _errno(kernel, kernel.AT_FDCWD, b"/bin/true", 1)) == "EINVAL"


def test_execveat_empty_path_without_the_flag_is_enoent(kernel: Kernel, in_child) -> None:
    def run() -> str:
        return _errno(kernel, os.open("/bin/true", os.O_RDONLY), b"", 0)

    assert in_child(run) == "ENOENT"


def test_execveat_empty_path_of_a_directory_is_eacces(kernel: Kernel, in_child) -> None:
    def run() -> str:
        return _errno(kernel, os.open("/bin", os.O_RDONLY), b"", kernel.AT_EMPTY_PATH)

    assert in_child(run) == "EACCES"


def test_execveat_file_without_execute_permission_is_eacces(
    kernel: Kernel, exec_tmp: Path, in_child
) -> None:
    script = _script(exec_tmp / "s", b"exit 0\n", mode=0o644)

    def run() -> str:
        return _errno(kernel, os.open(script, os.O_RDONLY), b"", kernel.AT_EMPTY_PATH)

    assert in_child(run) == "EACCES"


def test_execveat_relative_path_with_a_bad_directory_fd_is_ebadf(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: _errno(kernel, -1, b"true", 0)) == "EBADF"


def test_execveat_relative_path_against_a_file_fd_is_enotdir(kernel: Kernel, in_child) -> None:
    def run() -> str:
        return _errno(kernel, os.open("/bin/true", os.O_RDONLY), b"true", 0)

    assert in_child(run) == "ENOTDIR"
