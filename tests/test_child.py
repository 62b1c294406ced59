"""child.run: results, failures, crashes and time limits of forked children."""

import ctypes
import os
import signal
import time
from pathlib import Path

import pytest

from syscalls import child
from syscalls.kernel import MissingConstant, Unsupported
from syscalls.runner import stacks


def test_return_value_comes_back_pickled() -> None:
    assert child.run(lambda: {"pid": os.getpid()}, timeout=5)["pid"] != os.getpid()


def test_assertion_in_child_fails_with_its_traceback() -> None:
    def body() -> None:
        assert 1 + 1 == 3, "arithmetic"

    with pytest.raises(child.ChildFailed, match="arithmetic"):
        child.run(body, timeout=5)


def test_crash_names_the_signal() -> None:
    with pytest.raises(child.ChildFailed, match="SIGABRT"):
        child.run(lambda: os.kill(os.getpid(), signal.SIGABRT), timeout=5)


def test_a_real_time_signal_is_named_too() -> None:
    # Python's Signals enum names SIGRTMIN and SIGRTMAX only: this one raised ValueError
    with pytest.raises(child.ChildFailed, match=r"killed by SIGRTMIN\+2"):
        child.run(lambda: os.kill(os.getpid(), signal.SIGRTMIN + 2), timeout=5)


def test_hang_is_killed_after_the_time_limit() -> None:
    start = time.monotonic()
    with pytest.raises(child.ChildFailed, match="timed out"):
        child.run(lambda: time.sleep(30), timeout=0.3)
    assert time.monotonic() - start < 5


def test_a_hang_says_where_in_the_child_it_was() -> None:
    def wait_for_ever() -> None:
        signal.pause()

    with pytest.raises(child.ChildFailed, match=r"(?s)timed out.*in wait_for_ever"):
        child.run(wait_for_ever, timeout=0.3)


def test_a_hang_with_sigabrt_blocked_is_still_killed_in_time() -> None:
    def deaf() -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGABRT})
        time.sleep(30)

    start = time.monotonic()
    with pytest.raises(child.ChildFailed, match=r"timed out after 0\.3s and was killed$"):
        child.run(deaf, timeout=0.3)
    assert time.monotonic() - start < 0.3 + stacks.ABORT_GRACE + 2


def test_skips_pass_through_as_themselves() -> None:
    def body() -> None:
        raise Unsupported("foo: ENOSYS")

    with pytest.raises(Unsupported, match="foo: ENOSYS"):
        child.run(body, timeout=5, passthrough=(Unsupported,))


class Skipped(Exception):  # named like pytest's, and as unpicklable as 7.x's
    def __init__(self, msg: str) -> None:
        super().__init__(msg)
        self.msg = msg

    def __reduce__(self):  # pytest 7 sets Skipped.__module__ = "builtins": no pickle
        raise TypeError("cannot pickle")


def test_a_skip_that_does_not_pickle_still_crosses_with_its_message() -> None:
    def body() -> None:
        raise Skipped("register checks need x86_64")

    with pytest.raises(Skipped, match="register checks need x86_64"):
        child.run(body, timeout=5, passthrough=(Skipped,))


def test_a_subclass_of_a_passthrough_crosses_as_that_class() -> None:
    def body() -> None:
        raise MissingConstant("O_FOO: not in the table")

    with pytest.raises(Unsupported, match="O_FOO"):
        child.run(body, timeout=5, passthrough=(Unsupported,))


def test_observations_made_in_the_child_reach_the_sink() -> None:
    sink = ["before=ok"]
    child.run(lambda: sink.append("inside=ok"), timeout=5, sink=sink)
    assert sink == ["before=ok", "inside=ok"]


def test_exit_without_result_is_reported() -> None:
    with pytest.raises(child.ChildFailed, match="status 3"):
        child.run(lambda: os._exit(3), timeout=5)


def test_grandchildren_left_running_are_killed() -> None:
    r, w = os.pipe()

    def body() -> int:
        pid = os.fork()
        if pid == 0:
            os.close(r)
            time.sleep(60)
            os._exit(0)
        return pid

    try:
        os.close(w)  # the grandchild holds the only write end
        grandchild = child.run(body, timeout=5)
        # The grandchild dies with its process group; its end of the pipe closes.
        assert os.read(r, 1) == b""
        # Gone, or a zombie of ours: pytest's process is a subreaper (syscalls.runner)
        # and reaps it after the test.
        for _ in range(100):
            try:
                state = Path(f"/proc/{grandchild}/stat").read_text().rpartition(")")[2].split()[0]
            except FileNotFoundError:
                break
            if state == "Z":
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"grandchild {grandchild} still runs (state {state})")
    finally:
        os.close(r)


def test_a_crash_shows_where_in_the_child_it_was() -> None:
    def read_address_zero() -> None:
        ctypes.string_at(0)  # SIGSEGV in the child, inside this function

    with pytest.raises(child.ChildFailed, match=r"(?s)killed by SIGSEGV.*in read_address_zero"):
        child.run(read_address_zero, timeout=5)


def test_a_child_killed_from_outside_shows_no_stack() -> None:
    with pytest.raises(child.ChildFailed) as failed:
        child.run(lambda: os.kill(os.getpid(), signal.SIGKILL), timeout=5)
    assert str(failed.value) == "child killed by SIGKILL"
