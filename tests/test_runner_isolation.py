"""What a test leaves changed in the process that runs tests (syscalls.runner.isolation):
found, named, put back where it can be, and a forked worker that cannot be put back
replaced. The state changes happen in a forked child (syscalls.child), never in this
process."""

from __future__ import annotations

import ctypes
import gc
import locale
import mmap
import os
import resource
import select
import signal
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from syscalls import child
from syscalls.runner import isolation
from syscalls.runner.descriptors import DESCRIPTORS
from tests.runner_checks import junit_cases, pytest_in


def _raw_ignore(sig: int) -> None:
    """SIG_IGN set by the C library, behind Python's back (as a test's raw call would)."""
    ctypes.CDLL(None).signal(sig, ctypes.c_void_p(1))


def _lower_soft_nofile() -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (100, hard))


def _new_session() -> None:
    os.setpgid(0, os.getpgid(os.getppid()))  # a group leader may not call setsid()
    os.setsid()


def _another_numeric_locale() -> None:
    now = locale.setlocale(locale.LC_NUMERIC)
    for name in ("C.UTF-8", "C", "POSIX"):
        if name != now:
            locale.setlocale(locale.LC_NUMERIC, name)
            return


def _set_subreaper() -> None:
    assert ctypes.CDLL(None).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER


def _armed_posix_timer() -> None:
    """timer_create(CLOCK_MONOTONIC), SIGALRM when it fires, armed an hour ahead."""
    libc = ctypes.CDLL(None, use_errno=True)
    timer = ctypes.c_void_p()
    assert libc.timer_create(1, None, ctypes.byref(timer)) == 0
    spec = (ctypes.c_long * 4)(0, 0, 3600, 0)  # struct itimerspec: interval, value
    assert libc.timer_settime(timer, 0, spec, None) == 0


# (what the test does, the change named, whether it can be put back from inside)


def _libc_ok(name: str, *args: object) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if getattr(libc, name)(*args) != 0:
        raise OSError(ctypes.get_errno(), f"{name}{args}")


_PAGES: list[mmap.mmap] = []


def _idle_io() -> None:
    calls = isolation.IOPRIO_CALLS
    if calls is None:
        pytest.skip("no ioprio numbers known for this machine's ABI")
    _libc_ok("syscall", calls[1], 1, 0, 3 << 13)  # IOPRIO_WHO_PROCESS, IOPRIO_CLASS_IDLE


def _locked_page() -> None:
    _PAGES.append(mmap.mmap(-1, mmap.PAGESIZE))
    _libc_ok("mlock", ctypes.c_void_p(_address(_PAGES[-1])), ctypes.c_size_t(mmap.PAGESIZE))


def _address(m: mmap.mmap) -> int:
    return ctypes.addressof(ctypes.c_char.from_buffer(m))


def _resident_pages(m: mmap.mmap) -> int:
    vec = (ctypes.c_ubyte * (len(m) // mmap.PAGESIZE))()
    _libc_ok("mincore", ctypes.c_void_p(_address(m)), ctypes.c_size_t(len(m)), vec)
    return sum(v & 1 for v in vec)


def _no_tracing(*args: object) -> None:
    return None


def _wakeup_pipe() -> None:
    """Python writes a byte to it for each signal: later, into what took its number."""
    _, w = os.pipe()
    os.set_blocking(w, False)
    signal.set_wakeup_fd(w)


CHANGES: dict[str, tuple[Callable[[], object], str, bool]] = {
    "umask": (lambda: os.umask(0o077), "umask", True),
    "SIGCHLD ignored": (
        lambda: signal.signal(signal.SIGCHLD, signal.SIG_IGN),
        "SIGCHLD disposition",
        True,
    ),
    "SIGUSR1 caught": (
        lambda: signal.signal(signal.SIGUSR1, lambda *_: None),
        "SIGUSR1 disposition",
        True,
    ),
    "SIGTERM ignored by a raw call": (
        lambda: _raw_ignore(signal.SIGTERM),
        "SIGTERM disposition",
        True,
    ),
    "SIGUSR2 blocked": (
        lambda: signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2}),
        "blocked signals",
        True,
    ),
    "RLIMIT_NOFILE lowered": (_lower_soft_nofile, "RLIMIT_NOFILE", True),
    "environment": (lambda: os.environ.update(ISOLATION_CHECK="1"), "environment", True),
    "working directory": (lambda: os.chdir("/"), "working directory", True),
    "ITIMER_VIRTUAL armed": (
        lambda: signal.setitimer(signal.ITIMER_VIRTUAL, 100),
        "ITIMER_VIRTUAL",
        True,
    ),
    "child subreaper": (_set_subreaper, "child subreaper", True),
    "recursion limit": (lambda: sys.setrecursionlimit(200), "recursion limit", True),
    "cyclic GC off": (gc.disable, "garbage collector", True),
    "another locale": (_another_numeric_locale, "locale", True),
    "a thread left running": (
        lambda: threading.Thread(target=threading.Event().wait, daemon=True).start(),
        "threads",
        False,
    ),
    "another process group": (
        lambda: os.setpgid(0, os.getpgid(os.getppid())),  # syscalls.child's leads its own
        "process group",
        True,
    ),
    "a session of its own": (_new_session, "session", False),
    "a descriptor left open": (
        lambda: os.open("/dev/null", os.O_RDONLY),
        "open descriptors",
        True,
    ),
    "a descriptor closed": (lambda: os.close(_KEPT), "open descriptors", False),
    "select.select replaced": (
        lambda: setattr(select, "select", None),
        "standard library",
        True,
    ),
    "os.fork deleted": (lambda: delattr(os, "fork"), "standard library", True),
    "sys.stdout closed": (lambda: sys.stdout.close(), "standard streams", False),
    "a POSIX timer left armed": (_armed_posix_timer, "POSIX timers", True),
    "another personality": (
        lambda: ctypes.CDLL(None).personality(0x0040000),  # ADDR_NO_RANDOMIZE
        "personality",
        True,
    ),
    "mlockall(MCL_FUTURE) left set": (lambda: _libc_ok("mlockall", 2), "locked memory", True),
    "a page left locked": (_locked_page, "locked memory", True),
    "timer slack raised": (
        lambda: _libc_ok("prctl", 29, 200_000_000, 0, 0, 0),
        "timer slack",
        True,
    ),
    "THP disabled": (lambda: _libc_ok("prctl", 41, 1, 0, 0, 0), "THP disabled", True),
    "keep capabilities": (lambda: _libc_ok("prctl", 8, 1, 0, 0, 0), "keep capabilities", True),
    "an idle I/O class": (_idle_io, "I/O priority", True),
    "a socket default timeout": (
        lambda: socket.setdefaulttimeout(0.0),
        "socket default timeout",
        True,
    ),
    "fewer int digits": (lambda: sys.set_int_max_str_digits(640), "int max str digits", True),
    "a trace function": (lambda: sys.settrace(_no_tracing), "trace function", True),
    "a profile function": (lambda: sys.setprofile(_no_tracing), "profile function", True),
    "new threads traced": (
        lambda: threading.settrace(_no_tracing),
        "new threads' trace function",
        True,
    ),
    "a signal wakeup descriptor": (_wakeup_pipe, "signal wakeup descriptor", True),
    "a parent-death signal": (
        lambda: ctypes.CDLL(None).prctl(1, signal.SIGUSR2, 0, 0, 0),  # PR_SET_PDEATHSIG
        "parent-death signal",
        True,
    ),
}
_KEPT = os.open("/dev/null", os.O_RDONLY)  # open in every child of this process


def _change_then_repair(change: Callable[[], object]) -> tuple[list[str], list[str], list[str]]:
    """In this child: (the changes found, those still there after repair, what still
    differs from the state before, read afresh)."""
    watch = isolation.Watch()
    before, fingerprint = isolation.read(), watch.fingerprint()
    assert watch.fingerprint() == fingerprint
    change()
    assert watch.fingerprint() != fingerprint
    after = isolation.settle(before, isolation.read())
    found = isolation.changes(before, after)
    shown, stuck, _ = isolation.repair(before, found)
    left = isolation.changes(before, isolation.read())
    return [c.what for c in shown], [c.what for c in stuck], [c.what for c in left]


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_a_change_is_found_named_and_put_back_where_it_can_be(name: str) -> None:
    change, what, repairable = CHANGES[name]
    shown, stuck, left = child.run(
        lambda: _change_then_repair(change), passthrough=(pytest.skip.Exception,)
    )
    assert what in shown
    if repairable:
        assert stuck == [] and left == []
    else:
        assert what in stuck and what in left


@pytest.mark.skipif(os.geteuid() != 0, reason="unshare() of these namespaces needs root")
@pytest.mark.parametrize(
    ("flag", "what"),
    [(0x02000000, "cgroup namespace"), (0x00000080, "time_for_children namespace")],
    ids=["cgroup", "time"],
)
def test_a_namespace_of_its_own_is_found_and_cannot_be_put_back(flag: int, what: str) -> None:
    def unshare() -> None:
        assert ctypes.CDLL(None).unshare(flag) == 0

    shown, stuck, left = child.run(lambda: _change_then_repair(unshare))
    assert what in shown and what in stuck and what in left


def test_an_untouched_process_shows_no_change() -> None:
    watch = isolation.Watch()
    assert watch.fingerprint() == watch.fingerprint()
    assert isolation.changes(isolation.read(), isolation.read()) == []


def test_a_closure_made_anew_for_each_test_is_the_same_handler() -> None:
    def install() -> None:
        def handler(signum: int, frame: object) -> None:
            pass

        signal.signal(signal.SIGUSR1, handler)

    def run() -> list[str]:
        install()
        before = isolation.read()
        install()
        return [c.what for c in isolation.changes(before, isolation.read())]

    assert child.run(run) == []


def test_what_pytest_timeout_manages_is_left_to_it() -> None:
    def run() -> tuple[list[str], list[str]]:
        before = isolation.read(isolation.PYTEST_TIMEOUT_STATE)
        signal.signal(signal.SIGALRM, lambda *_: None)
        signal.setitimer(signal.ITIMER_REAL, 100)
        managed = isolation.PYTEST_TIMEOUT_STATE
        ignored = isolation.changes(before, isolation.read(managed), managed)
        seen = isolation.changes(isolation.read(), isolation.read())  # nothing to differ
        return [c.what for c in ignored], [c.what for c in seen]

    assert child.run(run) == ([], [])


def test_values_that_cannot_be_read_are_not_taken_for_changes() -> None:
    """Out of descriptors, /proc cannot be read: the lowered limit is the change named."""

    def run() -> tuple[list[str], list[str]]:
        before = isolation.read()
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (3, hard))
        after = isolation.read()
        shown, stuck, _ = isolation.repair(before, isolation.changes(before, after))
        return [c.what for c in shown], [c.what for c in stuck]

    assert child.run(run) == (["RLIMIT_NOFILE"], [])


def test_the_limits_read_from_proc_are_those_getrlimit_gives() -> None:
    text = Path("/proc/self/limits").read_bytes()
    assert isolation._parse_limits(text) == isolation._getrlimits()


def test_the_fingerprint_reads_again_what_a_test_closed() -> None:
    watch = isolation.Watch()
    first = watch.fingerprint()
    for fd in list(watch.fds.values()):
        os.close(fd)  # as a test that closes every descriptor would
    assert watch.fingerprint() != first
    watch.reopen()
    assert watch.fingerprint() == first
    watch.close()


LEAKS = """
import ctypes
import os
import signal
import sys
import threading

import pytest

@pytest.fixture(scope="module")
def module_umask():
    old = os.umask(0o027)  # a module's fixture: set for its tests, put back after them
    yield
    os.umask(old)

def test_a_before(module_umask):
    with open(os.environ["PIDS"], "a") as f:
        f.write(f"{os.getpid()}\\n")

def test_b_leaves_LEAK():
    LEAK_CODE

def test_c_after():
    with open(os.environ["PIDS"], "a") as f:
        f.write(f"{os.getpid()}\\n")
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    assert os.waitpid(pid, 0)[1] >> 8 == 7  # ECHILD if SIGCHLD were still ignored
    assert threading.active_count() == 1
    assert not os.path.ismount(os.environ["MNT"])
    assert callable(__import__("select").select)
"""

# A tmpfs mounted in the test's own process; a mount of the tree taken away
MOUNT = (
    'assert ctypes.CDLL(None).mount(b"none", os.environ["MNT"].encode(), b"tmpfs", 0, None) == 0'
)
UNMOUNT = (
    'points = [m.split()[4] for m in open("/proc/self/mountinfo")]; '
    'target = [p for p in points if p.startswith(("/dev/", "/sys/"))][-1]; '
    "assert ctypes.CDLL(None).umount2(target.encode(), 2) == 0"  # MNT_DETACH
)


# Every descriptor the limit allows, left open: the tests after it would meet EMFILE
EXHAUST = (
    'with __import__("contextlib").suppress(OSError): '
    '[os.open("/dev/null", os.O_RDONLY) for _ in range(1 << 24)]'
)


# A worker retired is no crash: --max-worker-restart 0 does not end the run for it.
FORKED = ["--workers", "1", "--max-worker-restart", "0"]


@pytest.mark.parametrize("workers", [FORKED, []], ids=["forked", "in-process"])
@pytest.mark.parametrize(
    ("leak", "code", "named", "repairable"),
    [
        ("sigchld", "signal.signal(signal.SIGCHLD, signal.SIG_IGN)", "SIGCHLD", True),
        ("thread", "threading.Thread(target=threading.Event().wait, daemon=True).start()",
         "threads: 1 -> 2", False),
        ("mount", MOUNT, "mounts: as they were -> +tmpfs on ", True),
        ("unmount", UNMOUNT, "mounts: as they were -> -", False),
        ("fds", EXHAUST, "open descriptors: as they were -> +", True),
        ("select", 'setattr(__import__("select"), "select", None)',
         "standard library: as imported -> select.select replaced by NoneType", True),
    ],
    ids=["sigchld", "thread", "mount", "unmount", "fds", "select"],
)  # fmt: skip
def test_a_test_that_leaves_the_process_changed_fails_and_the_tests_after_it_do_not(
    tmp_path: Path, workers: list[str], leak: str, code: str, named: str, repairable: bool
) -> None:
    if "mount" in leak and os.geteuid() != 0:
        pytest.skip("mounting needs root")
    (tmp_path / "test_leaks.py").write_text(LEAKS.replace("LEAK_CODE", code).replace("LEAK", leak))
    junit, pids, mnt = tmp_path / "junit.xml", tmp_path / "pids", tmp_path / "mnt"
    mnt.mkdir()
    env = {"PIDS": str(pids), "MNT": str(mnt)}
    p = pytest_in(tmp_path, *workers, f"--junitxml={junit}", "test_leaks.py", env=env)
    assert not mnt.is_mount(), "the test's mount reached the namespace the run came from"
    cases = junit_cases(junit)
    leaker = cases[f"test_b_leaves_{leak}"].find("error")
    assert leaker is not None, p.stdout[-3000:]
    message = leaker.get("message") or ""
    assert "left this process changed" in message and named in message
    assert cases["test_a_before"].find("error") is None  # its module fixture's umask
    in_one_process = not workers or repairable
    if repairable:
        assert "(put back)" in message
    elif workers:
        assert "a fresh worker runs the tests after it" in message
    else:
        assert "the tests after it in this process may fail" in message
        return  # and they do: the thread is still there
    assert cases["test_c_after"].find("failure") is None, p.stdout[-3000:]
    first, after = pids.read_text().split()
    assert (first == after) == in_one_process


def test_the_threads_the_kernel_runs_for_io_uring_are_not_counted() -> None:
    """io_uring's io-wq workers ("iou-wrk-PID") live in the process's thread group and
    leave by themselves when idle: a thread renamed so stands in for one."""

    def run() -> tuple[str, str]:
        before = isolation.read()["threads"]
        named, stop = threading.Event(), threading.Event()

        def worker() -> None:
            Path(f"/proc/self/task/{threading.get_native_id()}/comm").write_text("iou-wrk-1")
            named.set()
            stop.wait()

        thread = threading.Thread(target=worker)
        thread.start()
        named.wait()
        during = isolation.read()["threads"]
        stop.set()
        thread.join()
        return before, during

    assert child.run(run) == ("1", "1")


def test_without_signal_masks_in_proc_pythons_handlers_are_compared() -> None:
    """gVisor's /proc/PID/status has no SigIgn or SigCgt: Python's own view is compared."""

    def run() -> tuple[list[str], list[str]]:
        def without_masks() -> isolation.State:
            state = isolation.read()
            for key in ("ignored signals", "caught signals"):
                state.pop(key, None)
            return state

        before = without_masks()
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)
        found = isolation.changes(before, without_masks())
        _, stuck, _ = isolation.repair(before, found)
        return [str(c) for c in found], [c.what for c in stuck]

    found, stuck = child.run(run)
    assert found == ["SIGCHLD disposition: default -> ignored"]
    assert stuck == []


def test_a_test_whose_teardown_breaks_pytests_capture_ends_its_worker(tmp_path: Path) -> None:
    """sys.stdout closed under pytest's capture is its capture file closed: the capture's
    teardown raises before the runner's check, and every later test of that process
    would error in setup. The worker is replaced instead."""
    (tmp_path / "test_streams.py").write_text(
        "import os, sys\n"
        "def test_a_closes_stdout():\n    sys.stdout.close()\n"
        "def test_b_after():\n    print('fine')\n"
    )
    junit = tmp_path / "junit.xml"
    p = pytest_in(tmp_path, *FORKED, f"--junitxml={junit}", "test_streams.py")
    cases = junit_cases(junit)
    assert cases["test_a_closes_stdout"].find("error") is not None, p.stdout[-3000:]
    after = cases["test_b_after"]
    assert after.find("error") is None and after.find("failure") is None, p.stdout[-3000:]


def test_a_descriptor_open_under_the_same_number_is_no_change() -> None:
    """/proc names a file anew when it is deleted or renamed; the numbers open count."""

    def run() -> list[str]:
        before = isolation.read()
        other = os.open("/dev/zero", os.O_RDONLY)
        os.dup2(other, _KEPT)
        os.close(other)
        assert isolation.read()[DESCRIPTORS][_KEPT] == "/dev/zero"
        return [c.what for c in isolation.changes(before, isolation.read())]

    assert child.run(run) == []


def test_mlockall_for_the_future_put_back_leaves_later_mappings_lazy() -> None:
    """The test after one that left mlockall(MCL_FUTURE) found every fresh mapping
    resident and locked (its mincore said so): put back, a mapping is lazy again."""

    def run() -> tuple[int, int]:
        before = isolation.read()
        _libc_ok("mlockall", 2)
        locked = mmap.mmap(-1, 16 * mmap.PAGESIZE)
        under_the_flag = _resident_pages(locked)
        isolation.repair(before, isolation.changes(before, isolation.read()))
        return under_the_flag, _resident_pages(mmap.mmap(-1, 16 * mmap.PAGESIZE))

    assert child.run(run) == (16, 0)


@pytest.mark.skipif(os.geteuid() != 0, reason="PR_SET_SECUREBITS needs CAP_SETPCAP: root")
def test_securebits_left_set_are_found_and_put_back() -> None:
    no_setuid_fixup = 1 << 2
    shown, stuck, left = child.run(
        lambda: _change_then_repair(lambda: _libc_ok("prctl", 28, no_setuid_fixup, 0, 0, 0))
    )
    assert "securebits" in shown
    assert stuck == [] and left == []


def test_memory_deny_write_execute_cannot_be_put_back() -> None:
    def run() -> tuple[list[str], list[str], list[str]] | None:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(66, 0, 0, 0, 0) < 0:  # PR_GET_MDWE
            return None
        return _change_then_repair(lambda: _libc_ok("prctl", 65, 1, 0, 0, 0))

    found = child.run(run)
    if found is None:
        pytest.skip("PR_GET_MDWE: EINVAL, a kernel before Linux 6.3")
    shown, stuck, left = found
    what = "memory-deny-write-execute"
    assert what in shown and what in stuck and what in left
