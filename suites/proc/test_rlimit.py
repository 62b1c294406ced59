"""getrlimit(2), setrlimit(2), prlimit64(2): resource limits, always changed in a child.

Raising a hard limit needs CAP_SYS_RESOURCE, so that refusal is a non-root test; root
may raise RLIMIT_NOFILE only up to /proc/sys/fs/nr_open (where a kernel has no such
sysctl, gVisor, its default: 1024 * 1024).
"""

import os
import resource
import signal
from pathlib import Path

import pytest

from syscalls import forking
from syscalls.kernel import Kernel

AS_USER = pytest.mark.as_user("root may raise hard limits (CAP_SYS_RESOURCE)")


def _long(kernel: Kernel, value: int) -> int:
    """A 64-bit limit as getrlimit's unsigned long reports it: what does not fit is
    RLIM_INFINITY (kernel/sys.c, compat getrlimit on 32-bit)."""
    return min(value, kernel.RLIM_INFINITY)


def _get(kernel: Kernel, which: int) -> tuple[int, int]:
    lim = kernel.new("struct rlimit *")
    kernel.getrlimit(which, lim).unwrap()
    return lim.rlim_cur, lim.rlim_max


def _set(kernel: Kernel, which: int, soft: int, hard: int):
    return kernel.setrlimit(which, kernel.new("struct rlimit *", (soft, hard)))


def test_getrlimit_nofile_matches_libc_and_soft_is_within_hard(kernel: Kernel) -> None:
    soft, hard = _get(kernel, kernel.RLIMIT_NOFILE)
    assert (soft, hard) == resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft <= hard


def test_setrlimit_lowered_soft_limit_is_read_back(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int, int]:
        hard = _get(kernel, kernel.RLIMIT_NOFILE)[1]
        _set(kernel, kernel.RLIMIT_NOFILE, 64, hard).unwrap()
        return (*_get(kernel, kernel.RLIMIT_NOFILE), hard)

    soft, hard, old_hard = in_child(run)
    assert (soft, hard) == (64, old_hard)


def test_setrlimit_soft_above_hard_is_einval(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: _set(kernel, kernel.RLIMIT_NOFILE, 100, 50).outcome) == "EINVAL"


@AS_USER
def test_setrlimit_raising_hard_limit_as_user_is_eperm(kernel: Kernel, in_child) -> None:
    def run() -> str:
        _set(kernel, kernel.RLIMIT_NOFILE, 16, 32).unwrap()  # lower first, then raise
        return _set(kernel, kernel.RLIMIT_NOFILE, 16, 33).outcome

    assert in_child(run) == "EPERM"


@pytest.mark.root
@pytest.mark.os("linux")
def test_setrlimit_nofile_above_nr_open_is_eperm_even_for_root(kernel: Kernel, in_child) -> None:
    sysctl = Path("/proc/sys/fs/nr_open")
    nr_open = int(sysctl.read_text()) if sysctl.exists() else 1024 * 1024
    r = in_child(lambda: _set(kernel, kernel.RLIMIT_NOFILE, nr_open + 1, nr_open + 1).outcome)
    assert r == "EPERM"


def test_setrlimit_unknown_resource_is_einval(kernel: Kernel) -> None:
    assert kernel.getrlimit(1000, kernel.new("struct rlimit *")).errno == "EINVAL"


def test_setrlimit_nofile_limits_the_next_descriptor(kernel: Kernel, in_child) -> None:
    def run() -> str:
        lowest = os.dup(0)  # the lowest free descriptor number
        os.close(lowest)
        _, hard = _get(kernel, kernel.RLIMIT_NOFILE)
        _set(kernel, kernel.RLIMIT_NOFILE, lowest, hard).unwrap()
        return kernel.dup(0).outcome

    assert in_child(run) == "EMFILE"


def test_setrlimit_fsize_makes_writes_beyond_it_efbig(kernel: Kernel, tmp: Path, in_child) -> None:
    def run() -> tuple[int, str]:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the write kills us
        _set(kernel, kernel.RLIMIT_FSIZE, 4, kernel.RLIM_INFINITY).unwrap()
        fd = os.open(tmp / "f", os.O_CREAT | os.O_WRONLY, 0o600)
        partial = kernel.write(fd, b"abcdefgh", 8).unwrap()
        return partial, kernel.write(fd, b"x", 1).outcome

    assert in_child(run) == (4, "EFBIG")


@pytest.mark.os("linux")
def test_prlimit64_get_of_self_matches_getrlimit(kernel: Kernel) -> None:
    old = kernel.new("struct rlimit64 *")
    kernel.prlimit64(0, kernel.RLIMIT_STACK, None, old).unwrap()
    assert (_long(kernel, old.rlim_cur), _long(kernel, old.rlim_max)) == _get(
        kernel, kernel.RLIMIT_STACK
    )


@pytest.mark.os("linux")
def test_prlimit64_set_returns_the_previous_limit(kernel: Kernel, in_child) -> None:
    def run() -> tuple[tuple[int, int], tuple[int, int], tuple[int, int], int]:
        before = _get(kernel, kernel.RLIMIT_CORE)
        new = kernel.new("struct rlimit64 *")
        kernel.prlimit64(0, kernel.RLIMIT_CORE, None, new).unwrap()
        # A soft limit unlike the present one (often 0 already), so that the old value
        # reported cannot be the new one; the hard limit stays (RLIM64_INFINITY, not its
        # 32-bit cut).
        new.rlim_cur = 0 if new.rlim_cur else min(1 << 20, new.rlim_max)
        soft = int(new.rlim_cur)
        old = kernel.new("struct rlimit64 *")
        kernel.prlimit64(0, kernel.RLIMIT_CORE, new, old).unwrap()
        old_pair = (_long(kernel, old.rlim_cur), _long(kernel, old.rlim_max))
        return before, old_pair, _get(kernel, kernel.RLIMIT_CORE), soft

    before, old, after, soft = in_child(run)
    if soft == before[0]:
        pytest.skip("RLIMIT_CORE's hard limit is 0: no soft limit but the present one to set")
    assert old == before
    assert after == (soft, before[1])


@pytest.mark.os("linux")
def test_prlimit64_changes_a_childs_limit(kernel: Kernel, in_child) -> None:
    def run() -> int:
        r, w = os.pipe()

        def child() -> int:
            os.close(w)
            os.read(r, 1)
            return 0 if _get(kernel, kernel.RLIMIT_CORE)[0] == 0 else 1

        pid = forking.fork(kernel, child)
        os.close(r)
        hard = _get(kernel, kernel.RLIMIT_CORE)[1]
        kernel.prlimit64(pid, kernel.RLIMIT_CORE, kernel.new("struct rlimit64 *", (0, hard)), None)
        os.close(w)
        return forking.exit_code(kernel, pid)

    assert in_child(run) == 0


@pytest.mark.os("linux")
def test_prlimit64_of_missing_process_is_esrch(kernel: Kernel, in_child) -> None:
    def run() -> str:
        pid = forking.fork(kernel)
        forking.wait(kernel, pid)
        return kernel.prlimit64(
            pid, kernel.RLIMIT_CORE, None, kernel.new("struct rlimit64 *")
        ).outcome

    assert in_child(run) == "ESRCH"


def test_getrlimit_resource_just_past_the_last_is_einval(kernel: Kernel) -> None:
    lim = kernel.new("struct rlimit *")
    assert kernel.getrlimit(kernel.RLIM_NLIMITS, lim).errno == "EINVAL"


def test_getrlimit_last_resource_is_valid(kernel: Kernel) -> None:
    lim = kernel.new("struct rlimit *")
    assert kernel.getrlimit(kernel.RLIM_NLIMITS - 1, lim).outcome == "ok"


def test_setrlimit_resource_past_the_last_is_einval(kernel: Kernel, in_child) -> None:
    r = in_child(lambda: _set(kernel, kernel.RLIM_NLIMITS, 0, 0).outcome)
    assert r == "EINVAL"


@pytest.mark.os("linux")
def test_prlimit64_resource_past_the_last_is_einval(kernel: Kernel) -> None:
    old = kernel.new("struct rlimit64 *")
    assert kernel.prlimit64(0, kernel.RLIM_NLIMITS, None, old).errno == "EINVAL"


@pytest.mark.os("linux")
def test_prlimit64_soft_above_hard_is_einval_and_changes_nothing(kernel: Kernel, in_child) -> None:
    def run() -> tuple[str, tuple[int, int], tuple[int, int]]:
        before = _get(kernel, kernel.RLIMIT_NOFILE)
        new = kernel.new("struct rlimit64 *", (100, 50))
        r = kernel.prlimit64(0, kernel.RLIMIT_NOFILE, new, None)
        return r.outcome, before, _get(kernel, kernel.RLIMIT_NOFILE)

    outcome, before, after = in_child(run)
    assert outcome == "EINVAL"
    assert after == before


@pytest.mark.os("linux")
@pytest.mark.as_user("root may read any process's limits (CAP_SYS_RESOURCE)")
def test_prlimit64_reading_another_users_process_is_eperm(kernel: Kernel) -> None:
    """pid 1 runs as root: a user may not even read its limits."""
    old = kernel.new("struct rlimit64 *")
    assert kernel.prlimit64(1, kernel.RLIMIT_NOFILE, None, old).errno == "EPERM"
