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
from syscalls.threads import Waiter

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


def test_a_waiter_that_raises_before_it_blocks_raises_that_at_once(k: Kernel) -> None:
    def fails() -> None:
        pytest.skip("the waiter's own skip")

    waiter = Waiter(fails)
    start = time.monotonic()
    with pytest.raises(pytest.skip.Exception, match="the waiter's own skip"):
        procstate.wait_blocked(k, waiter.tid, "read", timeout=30)
    assert time.monotonic() - start < 10  # not the deadline's 30 s


def test_a_waiter_that_returns_before_it_blocks_fails_saying_what_it_returned(k: Kernel) -> None:
    waiter = Waiter(lambda: 42)
    with pytest.raises(AssertionError, match=r"ended before it blocked in read, returning 42"):
        procstate.wait_blocked(k, waiter.tid, "read", timeout=30)


def test_a_zombie_child_is_taken_as_ended(k: Kernel) -> None:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    try:
        with pytest.raises(AssertionError, match=f"thread {pid} ended before it blocked"):
            procstate.wait_blocked(k, pid, "read", timeout=30)
    finally:
        os.waitpid(pid, 0)
