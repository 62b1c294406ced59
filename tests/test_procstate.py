"""procstate: which syscall another thread sleeps in, and its pending signals."""

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from syscalls import procstate
from syscalls.abi import Platform
from syscalls.kernel import Kernel

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs /proc")


@pytest.fixture(scope="module")
def k() -> Kernel:
    return Kernel(Platform.load())


@pytest.fixture
def reader() -> Iterator[tuple[int, int]]:
    """A thread blocked reading an empty pipe: (its tid, the read end)."""
    r, w = os.pipe()
    tid: list[int] = []
    started = threading.Event()

    def run() -> None:
        tid.append(threading.get_native_id())
        started.set()
        os.read(r, 1)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    started.wait()
    try:
        yield tid[0], r
    finally:
        os.write(w, b"x")
        t.join()
        os.close(r)
        os.close(w)


def test_wait_blocked_returns_once_the_thread_sleeps_in_the_call(k: Kernel, reader) -> None:
    tid, r = reader
    procstate.wait_blocked(k, tid, "read", arg0=r)
    assert procstate.blocked_in(k, tid, ["write", "read"])


def test_another_call_or_argument_is_not_where_it_sleeps(k: Kernel, reader) -> None:
    tid, r = reader
    procstate.wait_blocked(k, tid, "read")
    assert not procstate.blocked_in(k, tid, "futex")
    assert not procstate.blocked_in(k, tid, "read", arg0=r + 100)


def test_wait_blocked_fails_after_its_timeout(k: Kernel, reader) -> None:
    tid, _ = reader
    with pytest.raises(AssertionError, match="did not block in nanosleep"):
        procstate.wait_blocked(k, tid, "nanosleep", timeout=0.05)


def test_a_running_or_missing_thread_is_not_blocked(k: Kernel, tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "7").mkdir()
    (tmp_path / "7" / "syscall").write_text("running\n")
    monkeypatch.setattr(procstate, "PROC", tmp_path)
    assert not procstate.blocked_in(k, 7, "read")
    assert not procstate.blocked_in(k, 8, "read")  # no such thread


def test_without_a_syscall_file_a_sleeping_state_stands_in(
    k: Kernel, tmp_path: Path, monkeypatch
) -> None:
    for tid, state in ((7, "S"), (8, "R")):
        (tmp_path / str(tid)).mkdir()
        (tmp_path / str(tid) / "stat").write_text(f"{tid} (a (b) c) {state} 1 2 3\n")
    monkeypatch.setattr(procstate, "PROC", tmp_path)
    assert procstate.blocked_in(k, 7, "read")
    assert not procstate.blocked_in(k, 8, "read")


def test_without_a_syscall_file_wait_blocked_waits_for_the_sleep_to_last(
    k: Kernel, tmp_path: Path, monkeypatch
) -> None:
    # A thread waiting for the GIL on its way into the call sleeps too: seen asleep
    # once is not enough where the state letter is all there is (gVisor).
    stat = tmp_path / "7" / "stat"
    stat.parent.mkdir()
    stat.write_text("7 (python) S 1 2 3\n")
    monkeypatch.setattr(procstate, "PROC", tmp_path)
    started = time.monotonic()
    procstate.wait_blocked(k, 7, "read")
    assert time.monotonic() - started >= procstate.SETTLE * procstate.TIME_SCALE
    (tmp_path / "7" / "syscall").write_text("running\n")  # exact: at once, or never
    with pytest.raises(AssertionError, match="did not block in read"):
        procstate.wait_blocked(k, 7, "read", timeout=0.05)


def test_numbers_follow_the_tables_aliases_and_drop_absent_names(k: Kernel) -> None:
    assert procstate.numbers(k, ["read", "no_such_call"]) == {k.platform.syscalls["read"]}


def test_pending_lists_a_blocked_signal_sent_to_the_thread(k: Kernel) -> None:
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})
    try:
        signal.pthread_kill(threading.main_thread().ident, signal.SIGUSR2)
        assert signal.SIGUSR2 in procstate.pending(threading.get_native_id())
        assert signal.sigtimedwait({signal.SIGUSR2}, 1) is not None
        assert signal.SIGUSR2 not in procstate.pending(threading.get_native_id())
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def test_pending_of_a_thread_that_is_gone_is_empty(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(procstate, "PROC", tmp_path)
    assert procstate.pending(7) == set()
