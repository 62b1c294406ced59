"""The kernel's log as a verdict: a warning, BUG or Oops that the kernel under test logs
while a test runs fails that test, whatever its syscalls answered -- a WARN_ON that
fires inside open() leaves open's answer right, and a baseline that passed now errors.

Only the kernel's reports of its own bugs count (TROUBLE): a WARN_ON splat, BUG and
Oops, KASAN and UBSAN, a soft lockup, a hung task, an RCU stall, list or refcount
corruption, a panic. What user space did -- a process's segfault or general protection
fault ("traps: ..."), an audit record, a deprecation notice -- does not.

The run's controller reads /dev/kmsg without blocking as each test ends, from where the
log stood when the session started. New trouble goes to the test whose end is being
reported: with several workers it may have been a test running beside it, and the
failure says so; the splat's "CPU: .. PID: .. Comm: .." and "RIP:" lines name the
process and the code. Trouble logged outside any test (at collection, after the last)
fails the run. Reading /dev/kmsg needs CAP_SYSLOG where kernel.dmesg_restrict is 1
(Debian's default): as a user the kernel's taint flags, which anyone may read, stand in
-- a new W (a warning), D (an Oops or BUG), L (a soft lockup) or B (a bad page) -- but
they say only the first of each kind since boot, and not where. The profile's meta
(kernel_log) says which was checked.
"""

from __future__ import annotations

import contextlib
import os
import re

import pytest

from syscalls.runner import highfd, strays

KMSG = "/dev/kmsg"
TAINTED = "/proc/sys/kernel/tainted"
# The taint flags that mean the kernel found a bug in itself (Documentation/admin-guide/
# tainted-kernels.rst); not those of a module loaded (P, O, E), which tests in a VM do.
TAINTS = {5: "B (a bad page)", 7: "D (an Oops or BUG)", 9: "W (a warning)", 14: "L (a soft lockup)"}
TROUBLE = re.compile(
    r"(WARNING: |BUG: |kernel BUG at |Oops|general protection fault|Kernel panic"
    r"|UBSAN: |KASAN: |Unable to handle kernel|INFO: task \S+ blocked for more than"
    r"|watchdog: BUG: soft lockup|rcu: INFO: .*detected stalls"
    r"|list_(add|del) corruption|refcount_t: )"
)
# Lines of a splat that say where it happened (x86's and arm64's)
CONTEXT = re.compile(r"(CPU: \d+ PID: \d+ |RIP: |pc : )")
CONTEXT_LINES = 40  # how far after a trouble line its context is looked for
PID = re.compile(r"\bPID: (\d+)")  # the process a splat names
RECORD = 8192  # bytes: more than the longest record /dev/kmsg hands out
MAX_SHOWN = 20  # trouble reports shown on one test (or the run)


class KernelLog:
    """New records of the kernel's log, read without blocking."""

    def __init__(self, fd: int, first: bytes = b"") -> None:
        self.fd = fd
        self.partial = b""  # a plain file's (a test's) line cut by a read, until its end
        self.first = first  # what open()'s probe read: logged as the run began

    @classmethod
    def open(cls, path: str = KMSG) -> KernelLog | None:
        """The log from its present end; None where this process may not read it."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return None
        first = b""
        try:
            os.lseek(fd, 0, os.SEEK_END)
            first = os.read(fd, RECORD)  # a log that forbids reading fails here, not at open
        except BlockingIOError:
            pass
        except OSError:
            os.close(fd)
            return None
        return cls(highfd.run_only(fd), first)  # no test of a worker reads it

    def messages(self) -> list[str]:
        """The text of each record logged since the last call."""
        found = []
        while True:
            try:
                record, self.first = self.first or os.read(self.fd, RECORD), b""
            except BlockingIOError:
                return found
            except BrokenPipeError:  # overwritten before it was read: go on after it
                found.append("(kernel log records were lost: overwritten before read)")
                continue
            except OSError:
                return found
            if not record:
                return found
            whole, _, self.partial = (self.partial + record).rpartition(b"\n")
            found += _texts(whole)

    def trouble(self) -> list[str]:
        """The trouble logged since the last call."""
        return trouble(self.messages())

    def close(self) -> None:
        highfd.forget(self.fd)
        with contextlib.suppress(OSError):
            os.close(self.fd)


def _texts(records: bytes) -> list[str]:
    """The messages of "PRIO,SEQ,USEC,FLAGS;TEXT" lines; the " KEY=VALUE" lines that may
    follow each (a device's, a subsystem's) are not messages. /dev/kmsg hands out one
    record a read; a plain file of them (a test's) many."""
    lines = [ln for ln in records.split(b"\n") if b";" in ln and not ln.startswith(b" ")]
    return [ln.partition(b";")[2].decode(errors="replace") for ln in lines]


class Taint:
    """The kernel's taint flags, for new ones that mean trouble (module doc)."""

    def __init__(self, path: str, flags: int) -> None:
        self.path = path
        self.flags = flags

    @classmethod
    def open(cls, path: str = TAINTED) -> Taint | None:
        flags = _flags(path)
        return None if flags is None else cls(path, flags)

    def trouble(self) -> list[str]:
        """A line for each trouble flag raised since the last call."""
        now = _flags(self.path)
        if now is None:
            return []
        new, self.flags = now & ~self.flags, self.flags | now
        return [
            f"the kernel's taint flags gained {TAINTS[bit]}" for bit in TAINTS if new >> bit & 1
        ]

    def close(self) -> None:
        pass


def _flags(path: str) -> int | None:
    try:
        with open(path, "rb") as f:
            return int(f.read(64))
    except (OSError, ValueError):
        return None


def _few(found: list[str]) -> list[str]:
    """The first MAX_SHOWN reports, and how many more: a kernel that warns in a loop
    would make a failure of megabytes."""
    if len(found) <= MAX_SHOWN:
        return found
    return [*found[:MAX_SHOWN], f"(and {len(found) - MAX_SHOWN} more reports)"]


def trouble(messages: list[str]) -> list[str]:
    """Each trouble line of `messages`, with the lines after it that say where."""
    found = []
    for i, message in enumerate(messages):
        if TROUBLE.match(message):
            after = messages[i + 1 : i + 1 + CONTEXT_LINES]
            context = [m for m in after if CONTEXT.match(m)][:2]
            found.append("\n".join([message, *(f"  {m}" for m in context)]))
    return found


class KernelLogCheck:
    """pytest plugin in the run's controller (module doc)."""

    def __init__(self, config: pytest.Config, path: str = KMSG, tainted: str = TAINTED) -> None:
        self.config = config
        self.source: KernelLog | Taint | None = KernelLog.open(path)
        self.state = "checked"
        if self.source is None:
            self.source = Taint.open(tainted)
            self.state = "/dev/kmsg not readable here: the taint flags checked instead"
        if self.source is None:
            self.state = "/dev/kmsg not readable here: not checked"
        self.unattached: list[str] = []  # trouble reported outside any test
        self.pending: dict[str, list[str]] = {}  # by nodeid: trouble of a test still running
        self.running: str | None = None  # the test last started (serial runs)

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        profile = self.config.pluginmanager.get_plugin("syscalls-profile")
        if profile is not None:
            profile.profile.meta["kernel_log"] = self.state

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if self.source is not None:  # the imports of the test modules, say
            self.unattached += self.source.trouble()

    @pytest.hookimpl(tryfirst=True)  # before the reports are written anywhere
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.source is None or report.when != "teardown":
            return
        exact, beside = self.pending.pop(report.nodeid, []), []
        for found in self.source.trouble():
            owner = self._owner(found)
            if owner is None:
                beside.append(found)
            elif owner == report.nodeid:
                exact.append(found)
            else:  # another worker's test, still running: told at its end
                self.pending.setdefault(owner, []).append(found)
        if not exact and not beside:
            return
        lines = []
        if exact:
            lines += ["the kernel reported trouble during this test:", *_few(exact)]
        if beside:
            hedge = " (or by a test running beside it)" if self._parallel() else ""
            lines += [f"the kernel reported trouble by the end of this test{hedge}:"]
            lines += _few(beside)
        text = "\n".join([*lines, "", f"kernel: {(exact or beside)[-1].splitlines()[0]}"])
        before = report.longreprtext if report.failed else ""
        report.outcome = "failed"
        report.longrepr = f"{before}\n\n{text}" if before else text

    def _owner(self, found: str) -> str | None:
        """The test whose process the kernel names in `found` ("PID: N"): with forked
        workers, the test that worker runs, where N is the worker or (still alive) a
        process of its; in one process, every test's. None where it cannot be told."""
        pid = PID.search(found)
        if pid is None:
            return None
        controller = self.config.pluginmanager.get_plugin("syscalls-runner-controller")
        pool = getattr(controller, "pool", None)
        if pool is None:
            return self.running if not self._parallel() else None
        running = {slot.pid: slot.current for slot in pool.slots.values()}
        worker = strays.owner(int(pid.group(1)), running)  # it, or a process it started
        index = None if worker is None else running[worker]
        return None if index is None else pool.items[index].nodeid

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self.running = nodeid

    @pytest.hookimpl(tryfirst=True)  # before the profile is written
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.source is None:
            return
        found = self.unattached + self.source.trouble()
        found += [t for held in self.pending.values() for t in held]  # their ends never came
        self.source.close()
        if not found:
            return
        # No test's end to put it on: the run fails, and its profile says why.
        writer = self.config.get_terminal_writer()
        writer.line("syscalls: the kernel reported trouble outside any test:", red=True)
        found = _few(found)
        for line in found:
            writer.line(line)
        profile = self.config.pluginmanager.get_plugin("syscalls-profile")
        if profile is not None:
            profile.profile.meta["kernel_trouble_outside_tests"] = found
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _parallel(self) -> bool:
        workers = self.config.getoption("workers", None) or 0
        if str(workers) not in ("0", "1"):
            return True
        return bool(self.config.getoption("numprocesses", None))
