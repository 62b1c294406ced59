"""KernelPath: pathlib-style setup through the kernel's own calls, checked here on the
running kernel against what the host's pathlib sees of the same files."""

from __future__ import annotations

from pathlib import Path

import pytest

from syscalls.abi import Platform
from syscalls.kernel import Kernel
from syscalls.kernel_path import KernelPath


@pytest.fixture(scope="module")
def k() -> Kernel:
    return Kernel(Platform.load())


@pytest.fixture
def kp(k: Kernel, tmp_path: Path) -> KernelPath:
    return KernelPath.bound(k)(tmp_path)


def test_derived_paths_keep_the_kernel(k: Kernel, kp: KernelPath) -> None:
    child = kp / "a" / "b"
    assert isinstance(child, KernelPath) and child.kernel is k and child.parent.kernel is k


def test_write_and_read_back_bytes_and_text(kp: KernelPath, tmp_path: Path) -> None:
    data = bytes(range(256)) * 700  # more than one chunk
    assert (kp / "f").write_bytes(data) == len(data)
    assert (tmp_path / "f").read_bytes() == data
    assert (kp / "f").read_bytes() == data
    (kp / "t").write_text("text")
    assert (kp / "t").read_text() == "text"


def test_mkdir_parents_and_exist_ok(kp: KernelPath, tmp_path: Path) -> None:
    (kp / "a" / "b").mkdir(parents=True)
    assert (tmp_path / "a" / "b").is_dir()
    (kp / "a").mkdir(exist_ok=True)
    with pytest.raises(FileExistsError):
        (kp / "a").mkdir()
    with pytest.raises(FileNotFoundError):
        (kp / "x" / "y").mkdir()


def test_links_and_stat(kp: KernelPath, tmp_path: Path) -> None:
    (kp / "f").write_bytes(b"abc")
    (kp / "hard").hardlink_to(kp / "f")
    (kp / "soft").symlink_to("f")
    assert (tmp_path / "soft").readlink() == Path("f")
    assert str((kp / "soft").readlink()) == "f"
    st = (kp / "f").stat()
    assert (st.st_ino, st.st_nlink, st.st_size) == ((tmp_path / "f").stat().st_ino, 2, 3)
    assert (kp / "soft").is_symlink() and (kp / "soft").is_file()
    assert not (kp / "f").is_symlink() and not (kp / "f").is_dir()
    assert (kp / "soft").lstat().st_mode == (tmp_path / "soft").lstat().st_mode


def test_chmod_touch_and_exists(kp: KernelPath, tmp_path: Path) -> None:
    (kp / "f").touch()
    (kp / "f").chmod(0o640)
    assert (tmp_path / "f").stat().st_mode & 0o777 == 0o640
    assert (kp / "f").exists() and not (kp / "absent").exists()


def test_failures_are_oserrors_naming_call_errno_and_path(kp: KernelPath) -> None:
    with pytest.raises(FileNotFoundError, match=r"openat: ENOENT.*absent"):
        (kp / "absent").read_bytes()


def test_setup_calls_are_not_recorded(k: Kernel, kp: KernelPath) -> None:
    seen: list = []
    k.observers.append(seen.append)
    try:
        (kp / "f").write_bytes(b"x")
        (kp / "f").read_bytes()
        (kp / "d").mkdir()
    finally:
        k.observers.remove(seen.append)
    assert seen == []
