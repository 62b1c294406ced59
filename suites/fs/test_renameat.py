"""rename/renameat/renameat2: moving names, replacement rules and the renameat2 flags.

renameat2 (Linux 3.15) takes RENAME_NOREPLACE and RENAME_EXCHANGE; file systems that do
not implement a flag answer EINVAL, which is the kernel's answer and fails the test.
A directory onto a non-empty directory: POSIX allows EEXIST or ENOTEMPTY; Linux ENOTEMPTY.
"""

from pathlib import Path

import pytest

from syscalls.expect import ByOS
from syscalls.kernel import Kernel, Result

DIR_ONTO_NONEMPTY = ByOS(default="ENOTEMPTY")
# Renaming one hard link onto another of the same file: POSIX keeps both; NetBSD's
# rename removes the source (sys/kern/vfs_syscalls.c, do_sys_renameat without `retain`,
# which only __posix_rename sets).
SAME_FILE_KEEPS_SOURCE = ByOS(default=True, netbsd=False)


def _rename(kernel: Kernel, old: Path, new: Path) -> Result:
    return kernel.renameat(kernel.AT_FDCWD, old, kernel.AT_FDCWD, new)


def test_renameat_moves_the_name(kernel: Kernel, tmp: Path) -> None:
    (tmp / "a").write_bytes(b"A")
    _rename(kernel, tmp / "a", tmp / "b").unwrap()
    assert not (tmp / "a").exists()
    assert (tmp / "b").read_bytes() == b"A"


def test_renameat_replaces_existing_file(kernel: Kernel, tmp: Path) -> None:
    (tmp / "a").write_bytes(b"A")
    (tmp / "b").write_bytes(b"B")
    ino = (tmp / "a").stat().st_ino
    _rename(kernel, tmp / "a", tmp / "b").unwrap()
    assert (tmp / "b").stat().st_ino == ino


def test_renameat_between_directories_via_dirfds(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "x").mkdir()
    (tmp / "y").mkdir()
    (tmp / "x" / "f").write_bytes(b"")
    xfd = fds.open(tmp / "x", kernel.O_RDONLY | kernel.O_DIRECTORY)
    yfd = fds.open(tmp / "y", kernel.O_RDONLY | kernel.O_DIRECTORY)
    kernel.renameat(xfd, b"f", yfd, b"g").unwrap()
    assert (tmp / "y" / "g").exists()


def test_renameat_hard_links_of_same_file_is_a_no_op(kernel: Kernel, tmp: Path) -> None:
    (tmp / "a").write_bytes(b"")
    (tmp / "b").hardlink_to(tmp / "a")
    _rename(kernel, tmp / "a", tmp / "b").unwrap()
    assert (tmp / "a").exists() == SAME_FILE_KEEPS_SOURCE[kernel.platform.os]
    assert (tmp / "b").exists()


def test_renameat_directory_onto_nonempty_directory_is_refused(kernel: Kernel, tmp: Path) -> None:
    (tmp / "a").mkdir()
    (tmp / "b").mkdir()
    (tmp / "b" / "f").write_bytes(b"")
    r = _rename(kernel, tmp / "a", tmp / "b")
    assert r.errno == DIR_ONTO_NONEMPTY[kernel.platform.os]


def test_renameat_directory_onto_empty_directory_replaces_it(kernel: Kernel, tmp: Path) -> None:
    (tmp / "a").mkdir()
    (tmp / "a" / "marker").write_bytes(b"")
    (tmp / "b").mkdir()
    _rename(kernel, tmp / "a", tmp / "b").unwrap()
    assert (tmp / "b" / "marker").exists()


def test_renameat_directory_onto_file_is_enotdir(kernel: Kernel, tmp: Path) -> None:
    (tmp / "d").mkdir()
    (tmp / "f").write_bytes(b"")
    assert _rename(kernel, tmp / "d", tmp / "f").errno == "ENOTDIR"


def test_renameat_file_onto_directory_is_eisdir(kernel: Kernel, tmp: Path) -> None:
    (tmp / "d").mkdir()
    (tmp / "f").write_bytes(b"")
    assert _rename(kernel, tmp / "f", tmp / "d").errno == "EISDIR"


def test_renameat_directory_into_its_own_subdirectory_is_einval(kernel: Kernel, tmp: Path) -> None:
    (tmp / "d" / "sub").mkdir(parents=True)
    assert _rename(kernel, tmp / "d", tmp / "d" / "sub" / "x").errno == "EINVAL"


def test_renameat_missing_source_is_enoent(kernel: Kernel, tmp: Path) -> None:
    assert _rename(kernel, tmp / "absent", tmp / "b").errno == "ENOENT"


def test_rename_legacy_call_moves_the_name(kernel: Kernel, tmp: Path) -> None:
    (tmp / "a").write_bytes(b"")
    kernel.rename(tmp / "a", tmp / "b").unwrap()
    assert (tmp / "b").exists()


def _rename2(kernel: Kernel, old: Path, new: Path, flags: int) -> Result:
    return kernel.renameat2(kernel.AT_FDCWD, old, kernel.AT_FDCWD, new, flags)


@pytest.mark.os("linux")
@pytest.mark.min_kernel("3.15")
def test_renameat2_noreplace_onto_existing_is_eexist(kernel: Kernel, tmp: Path) -> None:
    (tmp / "a").write_bytes(b"A")
    (tmp / "b").write_bytes(b"B")
    r = _rename2(kernel, tmp / "a", tmp / "b", kernel.RENAME_NOREPLACE)
    assert r.errno == "EEXIST"
    assert (tmp / "b").read_bytes() == b"B"


@pytest.mark.os("linux")
@pytest.mark.min_kernel("3.15")
def test_renameat2_noreplace_to_free_name_moves(kernel: Kernel, tmp: Path) -> None:
    (tmp / "a").write_bytes(b"A")
    _rename2(kernel, tmp / "a", tmp / "b", kernel.RENAME_NOREPLACE).unwrap()
    assert (tmp / "b").read_bytes() == b"A"


@pytest.mark.os("linux")
@pytest.mark.min_kernel("3.15")
def test_renameat2_exchange_swaps_two_names(kernel: Kernel, tmp: Path) -> None:
    (tmp / "a").write_bytes(b"A")
    (tmp / "b").mkdir()
    _rename2(kernel, tmp / "a", tmp / "b", kernel.RENAME_EXCHANGE).unwrap()
    assert (tmp / "a").is_dir()
    assert (tmp / "b").read_bytes() == b"A"


@pytest.mark.os("linux")
@pytest.mark.min_kernel("3.15")
def test_renameat2_exchange_with_missing_target_is_enoent(kernel: Kernel, tmp: Path) -> None:
    (tmp / "a").write_bytes(b"A")
    r = _rename2(kernel, tmp / "a", tmp / "absent", kernel.RENAME_EXCHANGE)
    assert r.errno == "ENOENT"


@pytest.mark.os("linux")
@pytest.mark.min_kernel("3.15")
def test_renameat2_noreplace_with_exchange_is_einval(kernel: Kernel, tmp: Path) -> None:
    (tmp / "a").write_bytes(b"")
    (tmp / "b").write_bytes(b"")
    flags = kernel.RENAME_NOREPLACE | kernel.RENAME_EXCHANGE
    assert _rename2(kernel, tmp / "a", tmp / "b", flags).errno == "EINVAL"


@pytest.mark.os("netbsd")
def test_posix_rename_of_one_link_onto_another_of_the_same_file_keeps_both(
    kernel: Kernel, tmp: Path
) -> None:
    # NetBSD's __posix_rename is rename with `retain` set (sys/kern/vfs_syscalls.c,
    # sys___posix_rename): POSIX's "both names stay", where its rename drops the source.
    (tmp / "a").write_bytes(b"A")
    (tmp / "b").hardlink_to(tmp / "a")
    kernel.caller("__posix_rename")(tmp / "a", tmp / "b").unwrap()
    assert (tmp / "a").exists() and (tmp / "b").exists()
    assert (tmp / "a").stat().st_nlink == 2


@pytest.mark.os("netbsd")
def test_posix_rename_moves_a_name_as_rename_does(kernel: Kernel, tmp: Path) -> None:
    (tmp / "a").write_bytes(b"A")
    (tmp / "b").write_bytes(b"B")
    kernel.caller("__posix_rename")(tmp / "a", tmp / "b").unwrap()
    assert not (tmp / "a").exists()
    assert (tmp / "b").read_bytes() == b"A"
