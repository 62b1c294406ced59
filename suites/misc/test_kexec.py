"""kexec_load(2) and kexec_file_load(2): loading a kernel to boot into. Without
CAP_SYS_BOOT, or with kernel.kexec_load_disabled set, both are EPERM; as root the tests
only take paths that load nothing (kernel/kexec.c, kernel/kexec_file.c): unknown flags,
too many segments, another arch's image type, a bad or non-kernel descriptor. No test
passes KEXEC_FILE_UNLOAD, KEXEC_FILE_ON_CRASH or zero segments on the host: each would
drop a loaded kernel. Where the kernel has a kexec_load_limit_* sysctl (Linux >= 6.6)
that is not unlimited, every call as root would use one up: the root tests skip. A
kernel built without kexec answers ENOSYS, and the tests skip.
"""

from pathlib import Path

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

AS_USER = pytest.mark.as_user("root may load kernels (CAP_SYS_BOOT)")
SYSCTL = Path("/proc/sys/kernel")


def _sysctl(name: str) -> int | None:
    try:
        return int((SYSCTL / name).read_text())
    except OSError:
        return None


@pytest.fixture
def as_root() -> None:
    """Root's tests: skipped where a call would use up a limited kexec allowance."""
    for limit in ("kexec_load_limit_reboot", "kexec_load_limit_panic"):
        value = _sysctl(limit)
        if value not in (None, -1):
            pytest.skip(f"kernel.{limit} is {value}: each call as root would use one up")


def _disabled() -> bool:
    return bool(_sysctl("kexec_load_disabled"))


def _root_outcome(expected: str) -> str:
    """What root gets: `expected`, or EPERM where kexec is switched off for good."""
    return "EPERM" if _disabled() else expected


# --- as a user -------------------------------------------------------------------------------


@AS_USER
def test_kexec_load_as_a_user_is_eperm(kernel: Kernel) -> None:
    segs = kernel.new("char[64]")
    assert kernel.kexec_load(0, 1, segs, kernel.KEXEC_ARCH_DEFAULT).errno == "EPERM"


@AS_USER
def test_kexec_file_load_as_a_user_is_eperm(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "k", b"not a kernel", kernel.O_RDONLY)
    assert kernel.kexec_file_load(fd, -1, 1, b"", kernel.KEXEC_FILE_NO_INITRAMFS).errno == "EPERM"


# --- as root: refusals that load nothing --------------------------------------------------------


@pytest.mark.root
def test_kexec_load_unknown_flag_is_einval(kernel: Kernel, as_root) -> None:
    segs = kernel.new("char[64]")
    assert kernel.kexec_load(0, 1, segs, 1 << 15).outcome == _root_outcome("EINVAL")


@pytest.mark.root
def test_kexec_load_more_segments_than_kexec_segment_max_is_einval(kernel: Kernel, as_root) -> None:
    n = kernel.KEXEC_SEGMENT_MAX + 1
    segs = kernel.new(f"char[{n * 32}]")
    r = kernel.kexec_load(0, n, segs, kernel.KEXEC_ARCH_DEFAULT)
    assert r.outcome == _root_outcome("EINVAL")


@pytest.mark.root
def test_kexec_load_image_of_another_arch_is_einval(kernel: Kernel, as_root) -> None:
    other = kernel.KEXEC_ARCH_S390  # no arch this suite runs on
    segs = kernel.new("char[64]")
    assert kernel.kexec_load(0, 1, segs, other).outcome == _root_outcome("EINVAL")


@pytest.mark.root
def test_kexec_file_load_unknown_flag_is_einval(kernel: Kernel, as_root) -> None:
    assert kernel.kexec_file_load(-1, -1, 1, b"", 1 << 10).outcome == _root_outcome("EINVAL")


@pytest.mark.root
def test_kexec_file_load_bad_kernel_descriptor_is_ebadf(kernel: Kernel, as_root) -> None:
    flags = kernel.KEXEC_FILE_NO_INITRAMFS
    assert kernel.kexec_file_load(-1, -1, 1, b"", flags).outcome == _root_outcome("EBADF")


@pytest.mark.root
def test_kexec_file_load_of_a_file_that_is_no_kernel_is_enoexec(
    kernel: Kernel, tmp: Path, fds, as_root
) -> None:
    fd = fds.file(tmp / "k", b"\x7fELF but not a kernel" * 100, kernel.O_RDONLY)
    r = kernel.kexec_file_load(fd, -1, 1, b"", kernel.KEXEC_FILE_NO_INITRAMFS)
    assert r.outcome == _root_outcome("ENOEXEC")


# --- a disposable VM ---------------------------------------------------------------------------


@pytest.mark.disposable
@pytest.mark.root
def test_kexec_load_of_no_segments_unloads_and_leaves_nothing_loaded(kernel: Kernel) -> None:
    segs = kernel.new("char[64]")
    assert kernel.kexec_load(0, 0, segs, kernel.KEXEC_ARCH_DEFAULT).outcome == _root_outcome("ok")
    assert Path("/sys/kernel/kexec_loaded").read_text().strip() == "0"


@pytest.mark.disposable
@pytest.mark.root
def test_kexec_file_load_unload_with_nothing_loaded_succeeds(kernel: Kernel) -> None:
    r = kernel.kexec_file_load(-1, -1, 0, None, kernel.KEXEC_FILE_UNLOAD)
    assert r.outcome == _root_outcome("ok")
    assert Path("/sys/kernel/kexec_loaded").read_text().strip() == "0"
