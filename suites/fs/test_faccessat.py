"""access/faccessat/faccessat2: permission checks with real or effective ids.

Root passes R_OK/W_OK regardless of mode, but X_OK needs at least one x bit. faccessat2
(Linux 5.8) takes flags, AT_EACCESS among them: check with the effective ids.
"""

import os
from pathlib import Path

import pytest

from syscalls.kernel import Kernel

AS_USER = pytest.mark.as_user("root passes read/write checks (CAP_DAC_OVERRIDE)")


def test_faccessat_f_ok_on_existing_file(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    kernel.faccessat(kernel.AT_FDCWD, tmp / "f", kernel.F_OK).unwrap()


def test_faccessat_missing_file_is_enoent(kernel: Kernel, tmp: Path) -> None:
    assert kernel.faccessat(kernel.AT_FDCWD, tmp / "absent", kernel.F_OK).errno == "ENOENT"


@AS_USER
def test_faccessat_read_on_write_only_file_is_eacces(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    (tmp / "f").chmod(0o200)
    assert kernel.faccessat(kernel.AT_FDCWD, tmp / "f", kernel.R_OK).errno == "EACCES"
    kernel.faccessat(kernel.AT_FDCWD, tmp / "f", kernel.W_OK).unwrap()


def test_faccessat_exec_without_any_x_bit_is_eacces(kernel: Kernel, tmp: Path) -> None:
    (tmp / "f").write_bytes(b"")
    (tmp / "f").chmod(0o666)
    assert kernel.faccessat(kernel.AT_FDCWD, tmp / "f", kernel.X_OK).errno == "EACCES"


def test_faccessat_unknown_mode_bit_is_einval(kernel: Kernel, tmp: Path) -> None:
    assert kernel.faccessat(kernel.AT_FDCWD, tmp, 0o10).errno == "EINVAL"


def test_access_legacy_call_checks_existence(kernel: Kernel, tmp: Path) -> None:
    assert kernel.access(tmp / "absent", kernel.F_OK).errno == "ENOENT"
    kernel.access(tmp, kernel.R_OK | kernel.X_OK).unwrap()


@pytest.mark.os("linux")
@pytest.mark.min_kernel("5.8")
def test_faccessat2_symlink_nofollow_checks_the_link(kernel: Kernel, tmp: Path) -> None:
    (tmp / "link").symlink_to("missing")
    flags = kernel.AT_SYMLINK_NOFOLLOW
    kernel.faccessat2(kernel.AT_FDCWD, tmp / "link", kernel.F_OK, flags).unwrap()
    assert kernel.faccessat2(kernel.AT_FDCWD, tmp / "link", kernel.F_OK, 0).errno == "ENOENT"


@pytest.mark.os("linux")
@pytest.mark.min_kernel("5.8")
def test_faccessat2_unknown_flag_is_einval(kernel: Kernel, tmp: Path) -> None:
    assert kernel.faccessat2(kernel.AT_FDCWD, tmp, kernel.F_OK, 1 << 20).errno == "EINVAL"


@pytest.mark.root
@pytest.mark.os("linux")
@pytest.mark.min_kernel("5.8")
def test_faccessat2_eaccess_uses_effective_uid(kernel: Kernel, tmp: Path, in_child) -> None:
    (tmp / "f").write_bytes(b"")
    (tmp / "f").chmod(0o600)

    def check() -> tuple[str, str]:
        kernel.setresuid(-1, 65534, -1).unwrap()  # real uid stays 0, effective is nobody
        real = kernel.faccessat2(kernel.AT_FDCWD, tmp / "f", kernel.R_OK, 0)
        eff = kernel.faccessat2(kernel.AT_FDCWD, tmp / "f", kernel.R_OK, kernel.AT_EACCESS)
        return real.outcome, eff.outcome

    assert in_child(check) == ("ok", "EACCES")


# AT_EMPTY_PATH with an empty path checks the descriptor's own file (fs/open.c
# do_faccessat: LOOKUP_EMPTY); without the flag an empty path is ENOENT.
@pytest.mark.os("linux")
@pytest.mark.min_kernel("5.8")
def test_faccessat2_empty_path_checks_the_file_of_the_fd(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    os.chmod(tmp / "f", 0o644)
    kernel.faccessat2(fd, b"", kernel.F_OK, kernel.AT_EMPTY_PATH).unwrap()
    assert kernel.faccessat2(fd, b"", kernel.X_OK, kernel.AT_EMPTY_PATH).errno == "EACCES"
    assert kernel.faccessat2(fd, b"", kernel.F_OK, 0).errno == "ENOENT"


# Root passes a search (X_OK) check on a directory whatever its mode (CAP_DAC_OVERRIDE
# covers directories), unlike a regular file, which needs one x bit (fs/namei.c
# generic_permission).
@pytest.mark.os("linux")
@pytest.mark.root
def test_faccessat_exec_on_a_directory_without_x_bits_passes_for_root(
    kernel: Kernel, tmp: Path
) -> None:
    (tmp / "d").mkdir()
    (tmp / "d").chmod(0o600)
    kernel.faccessat(kernel.AT_FDCWD, tmp / "d", kernel.X_OK).unwrap()
