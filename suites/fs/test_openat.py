"""openat(2): creating, opening and refusing files, by flag."""

from pathlib import Path

from syscalls.kernel import Kernel


def test_openat_creates_file_with_requested_mode(kernel: Kernel, tmp: Path, observe) -> None:
    path = tmp / "f"
    fd = kernel.openat(kernel.AT_FDCWD, path, kernel.O_CREAT | kernel.O_WRONLY, 0o640).unwrap()
    kernel.close(fd).unwrap()
    st = kernel.new("struct stat *")
    kernel.fstatat(kernel.AT_FDCWD, path, st, 0).unwrap()
    observe("mode", oct(st.st_mode & 0o7777))
    assert st.st_mode & kernel.S_IFMT == kernel.S_IFREG
    assert st.st_mode & 0o777 == 0o640 & ~_umask(kernel)


def test_openat_missing_file_is_enoent(kernel: Kernel, tmp: Path) -> None:
    r = kernel.openat(kernel.AT_FDCWD, tmp / "absent", kernel.O_RDONLY)
    assert r.errno == "ENOENT"


def test_openat_excl_on_existing_file_is_eexist(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    r = kernel.openat(
        kernel.AT_FDCWD, tmp / "f", kernel.O_CREAT | kernel.O_EXCL | kernel.O_RDWR, 0o600
    )
    assert r.errno == "EEXIST"


def _umask(kernel: Kernel) -> int:
    old = kernel.umask(0o022).unwrap()
    kernel.umask(old)
    return old
