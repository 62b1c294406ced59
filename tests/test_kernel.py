"""Kernel: calling syscalls through cffi, Result and Errno, Unsupported."""

import os
from pathlib import Path

import pytest

from syscalls.abi import Platform
from syscalls.kernel import Errno, Kernel, Result, Unsupported


@pytest.fixture(scope="module")
def k() -> Kernel:
    return Kernel(Platform.load())


def test_getpid_matches_the_interpreter(k: Kernel) -> None:
    r = k.getpid()
    assert r.ok and r.value == os.getpid() and r.errno is None


def test_failure_returns_errno_not_an_exception(k: Kernel, tmp_path: Path) -> None:
    r = k.openat(k.AT_FDCWD, tmp_path / "missing", k.O_RDONLY)
    assert not r.ok
    assert r.value == -1
    assert r.errno == "ENOENT"
    assert r.errno == k.ENOENT
    assert r.errno != "EACCES"
    assert repr(r.errno) == "ENOENT" and r.outcome == "ENOENT"


def test_unwrap_names_the_syscall_and_errno(k: Kernel) -> None:
    r = k.close(-1)
    with pytest.raises(AssertionError, match="close failed: EBADF"):
        r.unwrap()


def test_arguments_accept_bytes_str_path_none_and_buffers(k: Kernel, tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"hello")
    for name in (path, str(path), os.fsencode(path)):
        fd = k.openat(k.AT_FDCWD, name, k.O_RDONLY).unwrap()
        buf = k.buf(8)
        assert k.read(fd, buf, 8).unwrap() == 5
        assert k.bytes(buf, 5) == b"hello"
        k.close(fd).unwrap()
    assert k.gettimeofday(k.new("struct timeval *"), None).ok


def test_unknown_argument_type_is_a_type_error(k: Kernel) -> None:
    with pytest.raises(TypeError, match="float"):
        k.close(1.5)


def test_missing_syscall_is_unsupported_naming_it(k: Kernel) -> None:
    with pytest.raises(Unsupported, match="frobnicate: not in the"):
        k.frobnicate()


def test_enosys_from_an_optional_syscall_is_unsupported(k: Kernel) -> None:
    p = Platform.load()
    p.syscalls["bogus"] = 999_999  # no kernel implements this number
    p.optional = {**(p.optional or {}), "bogus": "CONFIG_BOGUS"}  # (tests/test_enosys.py)
    with pytest.raises(Unsupported, match="bogus: ENOSYS"):
        Kernel(p).bogus()


def test_missing_constant_is_unsupported_and_hasattr_false(k: Kernel) -> None:
    with pytest.raises(Unsupported, match="O_NOT_A_FLAG: not in the"):
        k.O_NOT_A_FLAG  # noqa: B018
    assert not hasattr(k, "O_NOT_A_FLAG")


def test_observers_see_every_result(k: Kernel) -> None:
    seen: list[Result] = []
    k.observers.append(seen.append)
    try:
        k.getpid()
        k.close(-1)
    finally:
        k.observers.remove(seen.append)
    assert [r.outcome for r in seen] == ["ok", "EBADF"]
    assert [r.name for r in seen] == ["getpid", "close"]


def test_errno_hashes_like_its_number() -> None:
    p = Platform.load()
    e = Errno(p.errno["ENOENT"], p)
    assert {e: 1}[p.errno["ENOENT"]] == 1
    with pytest.raises(KeyError, match="ENOTANERRNO"):
        e == "ENOTANERRNO"  # noqa: B015


def test_results_with_errno_survive_pickling(k: Kernel) -> None:
    import pickle

    r = pickle.loads(pickle.dumps(k.close(-1)))
    assert r.errno == "EBADF" and r.name == "close"


@pytest.mark.parametrize("arch", ["aarch64", "riscv64"])
def test_clone_backwards_arches_get_tls_before_child_tid(arch: str) -> None:
    """arm64 and riscv select CONFIG_CLONE_BACKWARDS: clone(flags, stack, parent_tid,
    tls, child_tid). Callers give x86_64's order; the bindings swap the last two."""
    k = Kernel(Platform.load(f"linux/{arch}"))
    calls = []

    class FakeLibc:
        def syscall(self, number, *args):
            calls.append((int(k.ffi.cast("long", number)), [int(a) for a in args]))
            return 0

    k.libc = FakeLibc()
    k.clone(17, 0, 100, 200, 300)
    assert calls == [(k.platform.syscalls["clone"], [17, 0, 100, 300, 200])]
    calls.clear()
    k.getpid()  # other calls keep their arguments
    assert calls == [(k.platform.syscalls["getpid"], [])]


def test_errors_in_value_turns_a_positive_return_into_the_errno() -> None:
    # NetBSD's clock_nanosleep returns its error number; here getpid stands in for such
    # a call, its (positive) pid read as an errno.
    p = Platform.load()
    p.errors_in_value = {"getpid"}
    r = Kernel(p).getpid()
    assert (r.value, int(r.errno)) == (-1, os.getpid())


def test_unobserved_calls_are_not_recorded_and_observers_come_back(k: Kernel) -> None:
    seen: list = []
    k.observers.append(seen.append)
    try:
        with k.unobserved():
            k.getpid()
        k.getppid()
    finally:
        k.observers.remove(seen.append)
    assert [r.name for r in seen] == ["getppid"]


def test_a_retried_call_records_only_the_answer_it_ended_on(k: Kernel) -> None:
    seen: list = []
    k.observers.append(seen.append)
    try:
        with k.unobserved():
            tries = [k.close(-1) for _ in range(3)]  # EBADF each time: the tries
        k.record(tries[-1])
    finally:
        k.observers.remove(seen.append)
    assert [(r.name, r.outcome) for r in seen] == [("close", "EBADF")]


def test_close_quietly_closes_and_ignores_a_closed_fd(k: Kernel) -> None:
    r, w = os.pipe()
    os.close(w)
    k.close_quietly(r)
    k.close_quietly(r)  # already closed: no error
    with pytest.raises(OSError):
        os.fstat(r)


def test_address_is_where_the_kernel_reads_a_buffer(k: Kernel) -> None:
    buf = k.buf(b"seen at its address")
    # The integer reaches the kernel as a pointer: write(2) from it reads the buffer.
    r, w = os.pipe()
    try:
        assert k.write(w, k.address(buf), 19).unwrap() == 19
        assert os.read(r, 19) == b"seen at its address"
    finally:
        os.close(r)
        os.close(w)
