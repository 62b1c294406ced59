"""The side of the runner in the controlling process: crashes, hangs and interruptions
become recorded test failures, and a run that did not finish says so.

- A worker that died in a test is reported as that test's failure with the cause --
  "worker died: SIGSEGV", "worker exited with status 3", or the watchdog's "exceeded N
  s" -- as a call-phase failure and a teardown: junit.xml, the profile and the targets'
  progress log record it like any other failed test. With --workers the pool knows the
  test (syscalls.runner.pool); under xdist it is xdist's crash item, whose own report
  (when="???", which junit calls a setup error and the profile dropped) becomes the
  teardown. Crashes that cost a test do not count towards --max-worker-restart (unless
  it is given).
- SIGINT, SIGTERM and SIGHUP (in a serial run only SIGINT: see _install_signal_handlers)
  and the watchdog at --time-limit interrupt the run: the workers are killed, the tests
  they were running are recorded as failed with the reason, finished tests are kept,
  and the profile (meta "incomplete") and junit.xml (a testsuite property) say why the
  run is incomplete.
- junit.xml is written under a temporary name and renamed (pytest writes it in place).

Beyond the pool's replay of each test's reports, no hook runs here for every test:
which test an xdist worker is in is read from its status record when it matters (at an
interrupted end), and in a serial run from TestProcess.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from syscalls import processes, tempdirs
from syscalls.outdir import temp_name
from syscalls.runner import strays
from syscalls.runner.pool import Pool
from syscalls.runner.status import STATUS_BASE, STATUS_PREFIX, read_status
from syscalls.runner.testprocess import STATUS_DIR, TestProcess, session_limit
from syscalls.runner.watchdog import Watchdog
from syscalls.runner.xdist_strays import Strays as XdistStrays
from syscalls.tempdirs import own_dir

INCOMPLETE_PROPERTY = "syscalls.incomplete"
_INTERRUPTED = 2  # pytest.ExitCode.INTERRUPTED


@dataclass
class RunEnd:
    """How the session ended, for `syscalls run` (config.stash[END])."""

    incomplete: str | None = None  # why the run did not finish
    failed: bool = False  # some test (or collection) failed


END = pytest.StashKey[RunEnd]()


class Controller:
    """pytest plugin (registered by syscalls.runner.plugin outside xdist workers)."""

    def __init__(self, config: pytest.Config, tests: TestProcess | None, workers: int = 0) -> None:
        self.config = config
        self.tests = tests  # the runner of a serial run's tests (None: in workers)
        self.distributed = tests is None
        distributed = self.distributed
        self.reason: str | None = None  # why the run is being cut short
        self.nodes: dict[str, Any] = {}  # xdist gateway id -> its WorkerController
        self.crashed: set[str | None] = set()  # workers whose crash was reported
        self.died_importing: set[str] = set()  # modules an xdist worker died importing
        self.finishing = False
        self._raised = False
        self._time_up = False
        self._caught = False  # pytest has taken the KeyboardInterrupt and reports it
        self._sigint_ignored = False  # at the start: only the watchdog's SIGINT is ours
        self._handlers: dict[int, Any] = {}
        self._mask: set[int] | None = None  # the signal mask before ours
        self._junit: tuple[Any, str] | None = None  # (LogXML, its real path)
        # Under `syscalls run`, in the command's own directory: should this process die
        # (a test's SIGKILL), the command reads there which test each worker was in.
        base = os.environ.get(STATUS_BASE) or None
        self.status_dir = Path(own_dir(STATUS_PREFIX, base)) if distributed else None
        self.was_subreaper = processes.subreaper()
        if distributed:
            processes.set_subreaper(True)  # a dead worker's orphans come to us
        self.watchdog = Watchdog(
            self.status_dir, config.getoption("time_limit", None), self._time_is_up
        )
        self._install_signal_handlers()
        self.pool: Pool | None = None  # --workers: forked from the collected session
        if workers and self.status_dir is not None:
            # Blocked before the watchdog's thread starts, which must never take them.
            # SIGTERM, SIGHUP and SIGINT too, where they are ours (not ignored), only in that
            # thread for now: the pool blocks them in this one while it runs, takes them
            # with their sender, and ends the run for one from outside (_on_signal)
            ending = frozenset(self._handlers)
            blocked = strays.block(strays.STRAYS | ending) if self._mask is not None else None
            self.pool = Pool(
                config,
                workers,
                self.watchdog,
                self.status_dir,
                dict(self._handlers),
                self._failed,
                blocked or frozenset(),
                ending if blocked else frozenset(),
                lambda signum: self._on_signal(signum, None),
            )
        # Under xdist, the strays a test sends this process, and SIGTERM and SIGHUP where
        # they are ours: taken by a thread of their own, with their sender, blocked
        # before any thread starts (xdist's workers unblock them). SIGTERM and SIGHUP
        # from outside the workers end the run as their handler would.
        self.strays: XdistStrays | None = None
        xdist = distributed and not workers and self._mask is not None
        if xdist and strays.CAN_WAIT and processes.LINUX:
            ending = {s for s in (signal.SIGTERM, signal.SIGHUP) if s in self._handlers}
            receiver = strays.Receiver(strays.block(strays.STRAYS | ending))
            if receiver.fd is not None:
                self.strays = XdistStrays(
                    receiver, self._xdist_workers, self.watchdog.status, self._interrupted
                )
        if distributed or self.watchdog.time_limit:
            self.watchdog.start()
        if self.pool is not None:
            strays.unblock(self.pool.ending)  # here: collection is still interruptible

    # --- interruptions -----------------------------------------------------------

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # pytest.main() from a thread: signals stay the caller's business
        # A serial run's tests fork children that inherit Python's handlers, and the
        # suites expect SIGTERM and SIGHUP to kill those: there only SIGINT (which Python
        # turns into KeyboardInterrupt anyway) is ours, and SIGTERM ends pytest as before.
        names = ("SIGINT", "SIGTERM", "SIGHUP") if self.distributed else ("SIGINT",)
        for name in names:
            sig = getattr(signal, name, None)
            if sig is None:
                continue
            if signal.getsignal(sig) == signal.SIG_IGN:  # on purpose: nohup, a background job
                if sig != signal.SIGINT or not (self.watchdog.time_limit or self.distributed):
                    continue
                # The watchdog's limits (--time-limit; a module's collection, under the
                # per-test limit, wherever the watchdog runs) interrupt the run with
                # SIGINT, which an ignored one would lose (the run went on for ever; a
                # module that hung at import held it too): caught, but one from outside
                # ignored.
                self._sigint_ignored = True
            self._handlers[sig] = signal.signal(sig, self._on_signal)
        # A mask survives exec (perf stat, some CI runners): a blocked SIGINT would hold
        # back the time limit's, and Ctrl-C, for ever.
        self._mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, list(self._handlers))

    def _on_signal(self, signum: int, frame: object) -> None:
        if signum == signal.SIGINT and self._sigint_ignored and not self._time_up:
            return  # ignored, as it was before the run
        if self._raised:
            # The watchdog says its limit again every second until the run ends (a
            # test may swallow one); once pytest has the interrupt, its report may take
            # longer than that under load, and a repeat taken for a second Ctrl-C
            # killed the run (SIGINT, results unwritten).
            repeat = self._time_up and self._caught
            if signum == signal.SIGINT and not self.finishing and not repeat:
                raise KeyboardInterrupt  # a second Ctrl-C: stop now
            return  # finishing: results are being written
        self._raised = True
        self.reason = self.reason or f"interrupted ({signal.Signals(signum).name})"
        raise KeyboardInterrupt(self.reason)

    def _interrupted(self, signum: int) -> None:
        """From the strays' thread: SIGTERM or SIGHUP from outside, taken there."""
        self._time_is_up(f"interrupted ({signal.Signals(signum).name})")

    @pytest.hookimpl(tryfirst=True)
    def pytest_keyboard_interrupt(self) -> None:
        self._caught = True

    def _time_is_up(self, reason: str) -> None:
        """From the watchdog thread: end the run as a signal would."""
        if self.finishing:
            return
        self.reason = self.reason or reason
        self._time_up = True
        if signal.SIGINT in self._handlers:  # a real signal: it ends a blocking wait too
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
        else:
            import _thread

            _thread.interrupt_main()

    # --- xdist (optional hooks: absent without pytest-xdist) ----------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_newgateway(self, gateway: Any) -> None:
        popen = getattr(getattr(gateway, "_io", None), "popen", None)  # execnet's popen IO
        pid = getattr(popen, "pid", None)
        if isinstance(pid, int):
            self.watchdog.add_worker(gateway.id, pid)
        else:
            self.watchdog.untracked_worker()

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        if error is not None:  # it died: xdist will start another in its place
            self.watchdog.worker_down()
            wid = getattr(getattr(node, "gateway", None), "id", None)
            worker = self.watchdog.workers.get(wid) if wid else None
            if worker is not None:  # what its test had in its directory goes now
                tempdirs.remove_left_by(worker.pid)
                # A module that ends its process at import (os._exit) kills every xdist
                # worker as it collects, until xdist gives up: no test ran, and nothing
                # said which module (pytest's status 5, "no tests collected").
                record = read_status(worker.status_file)
                if record is not None and record.module:
                    self.died_importing.add(record.module)

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[STATUS_DIR] = str(self.status_dir)
        self.nodes[node.gateway.id] = node
        queue = getattr(self.config.pluginmanager.get_plugin("dsession"), "queue", None)
        if queue is not None:
            self.watchdog.backlog = queue.qsize

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        node = getattr(report, "node", None)
        wid = getattr(getattr(node, "gateway", None), "id", None)
        if wid is None or report.when != "teardown":  # not the end of an xdist worker's test
            return
        self.watchdog.reported(wid)
        if self.strays is not None:
            note = self.strays.ended(wid, report.nodeid)
            if note and report.passed:  # it fails at its teardown, as a changed state does
                report.outcome, report.longrepr = "failed", note
            self._log_late()

    def _log_late(self) -> None:
        """The strays taken after the test that sent them had ended: it fails now."""
        for nodeid, why, wid in self.strays.late() if self.strays is not None else ():
            self._log(nodeid, why, self.nodes.get(wid))

    def _xdist_workers(self) -> dict[str, int]:
        return {
            wid: worker.pid
            for wid, worker in list(self.watchdog.workers.items())
            if worker.xdist and worker.death is None
        }

    @pytest.hookimpl(optionalhook=True)
    def pytest_handlecrashitem(self, crashitem: str, report: pytest.TestReport, sched: Any) -> None:
        node = getattr(report, "node", None)
        wid = getattr(getattr(node, "gateway", None), "id", None)
        cause = self.watchdog.death_of(wid) if wid else None
        if self.reason and (cause is None or cause.startswith("worker died: SIGKILL")):
            cause = self.reason  # we killed it: the run is ending
        self.crashed.add(wid)
        # The failure, as a call-phase report; xdist's own (when "???", which junit calls
        # a setup error and the profile drops) is then logged as the test's teardown.
        self._log(crashitem, cause or f"worker {wid} crashed while running this test", node)
        report.outcome, report.when, report.longrepr = "passed", "teardown", None  # type: ignore[assignment]
        # A crash that cost one test does not count towards xdist's restart limit.
        dsession = self.config.pluginmanager.get_plugin("dsession")
        limit = getattr(dsession, "_max_worker_restart", None)
        if self.config.getoption("maxworkerrestart", None) is None and isinstance(limit, int):
            dsession._max_worker_restart = limit + 1  # type: ignore[union-attr]

    # --- the forked workers (--workers) ---------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool | None:
        if self.pool is None:
            return None  # pytest's own loop, or xdist's
        if session.testsfailed and not self.config.option.continue_on_collection_errors:
            raise session.Interrupted(f"{session.testsfailed} errors during collection")
        if not self.config.option.collectonly:
            self.pool.run(session)
        return True

    def _failed(self, nodeid: str, why: str) -> None:
        """A test whose worker died in it (its start was already reported)."""
        self._log(nodeid, why, None, teardown=True)

    def _log(self, nodeid: str, why: str, node: Any, teardown: bool = False) -> None:
        """Report `nodeid` failed with `why` (and, if `teardown`, its end too)."""
        path, _, name = nodeid.partition("::")
        for when, outcome, longrepr in [("call", "failed", why), ("teardown", "passed", None)]:
            if when == "teardown" and not teardown:
                break
            report = pytest.TestReport(
                nodeid=nodeid,
                location=(path, None, name or path),
                keywords={},
                outcome=outcome,  # type: ignore[arg-type]
                longrepr=longrepr,
                when=when,  # type: ignore[arg-type]
                user_properties=[],
            )
            if node is not None:  # junit keys a test's testcase by it
                report.node = node  # type: ignore[attr-defined]
            self.config.hook.pytest_runtest_logreport(report=report)

    # --- collection -----------------------------------------------------------------

    def pytest_collectstart(self, collector: pytest.Collector) -> None:
        if isinstance(collector, pytest.Module):  # its import runs the module's code
            self.watchdog.collecting(collector.nodeid, session_limit(self.config))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if self.watchdog.collecting_now and report.nodeid == self.watchdog.collecting_now[0]:
            self.watchdog.collecting(None, 0)

    # --- the end ------------------------------------------------------------------

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        from _pytest.junitxml import xml_key

        xml = self.config.stash.get(xml_key, None)
        if xml is not None:  # written to a temporary name, renamed in sessionfinish
            self._junit = (xml, xml.logfile)
            xml.logfile = str(temp_name(Path(xml.logfile)))

    def _running(self) -> list[tuple[str, Any]]:
        """(nodeid, xdist node) of the tests in progress: from the forked workers'
        messages, xdist's workers' status records, or in a serial run from this
        process's own runner."""
        if self.tests is not None:
            return [(self.tests.current, None)] if self.tests.current else []
        if self.pool is not None:
            return [(nodeid, None) for nodeid in self.pool.running()]
        running = []
        for wid in list(self.watchdog.workers):
            status = self.watchdog.status(wid)
            if wid not in self.crashed and status is not None and status.nodeid:
                running.append((status.nodeid, self.nodes.get(wid)))
        return running

    def _all_ran(self, session: pytest.Session) -> bool:
        if self.tests is not None:
            return self.tests.started >= session.testscollected
        if self.pool is not None:
            return self.pool.finished
        sched = getattr(self.config.pluginmanager.get_plugin("dsession"), "sched", None)
        return bool(getattr(sched, "tests_finished", False))

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> Iterator[None]:
        self.finishing = True
        self.watchdog.stop()
        if self.strays is not None:
            self.strays.stop()
            self._log_late()
        # xdist gave up replacing workers that died outside a test (at collection): the
        # tests not yet run never will be.
        dsession = self.config.pluginmanager.get_plugin("dsession")
        given_up = getattr(dsession, "_summary_report", None)
        if given_up and not self.reason:
            self.reason = f"xdist: {given_up}"
            if self.died_importing:
                modules = ", ".join(sorted(self.died_importing))
                self.reason += f"; its workers died importing {modules}"
                self.config.get_terminal_writer().line(f"syscalls: {self.reason}", red=True)
                session.exitstatus = pytest.ExitCode.INTERNAL_ERROR  # not "no tests collected"
        if self.pool is not None and self.pool.given_up and not self.reason:
            self.reason = f"workers: {self.pool.given_up} (--max-worker-restart)"
        if self.reason:
            self.watchdog.kill_workers()
            if self.pool is not None:
                self.pool.stop()
                self.pool.drain()
            self._drain_xdist_queue()
            running = self._running()
            if not running and self._all_ran(session):
                # Every test had ended (or a test caught the interrupt and the run went
                # on): nothing is missing, and pytest's "interrupted" is not the status.
                self.reason = None
                if exitstatus == _INTERRUPTED:
                    session.exitstatus = 1 if session.testsfailed else 0
        if self.reason:
            for nodeid, node in running:
                self._log(nodeid, self.reason, node, teardown=True)
            self._mark_incomplete(self.reason)
        self.config.stash[END] = RunEnd(self.reason, bool(session.testsfailed))
        yield

    def _drain_xdist_queue(self) -> None:
        """Reports that reached the controller but were not handled before the interrupt:
        tests that finished are kept."""
        dsession = self.config.pluginmanager.get_plugin("dsession")
        queue = getattr(dsession, "queue", None)
        while queue is not None:
            try:
                name, kwargs = queue.get_nowait()
            except Exception:
                break
            if name in ("logstart", "testreport"):
                with contextlib.suppress(Exception):
                    getattr(dsession, f"worker_{name}")(**kwargs)

    def _mark_incomplete(self, reason: str) -> None:
        profile = self.config.pluginmanager.get_plugin("syscalls-profile")
        if profile is not None:
            profile.profile.meta["incomplete"] = reason
        if self._junit is not None:
            self._junit[0].add_global_property(INCOMPLETE_PROPERTY, reason)

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self) -> None:
        if END not in self.config.stash:  # the session never started (or never finished)
            self.config.stash[END] = RunEnd(self.reason)
        self.watchdog.stop()
        for sig, handler in self._handlers.items():
            signal.signal(sig, handler)
        if self.pool is not None:
            self.pool.close()  # and the stray signals still pending taken, before:
        if self._mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, self._mask)
        if self.distributed:
            self.watchdog.reap_adopted()
            if not self.was_subreaper:
                processes.set_subreaper(False)
        if self.status_dir is not None:
            shutil.rmtree(self.status_dir, ignore_errors=True)


class ResultFiles:
    """Around the writing of the run's result files (the innermost wrapper): pytest's
    JUnit XML, written to a temporary name, renamed into place. A result file that could
    not be written (a full disk, the directory gone) ends the run incomplete, saying
    why, with no half-written file left -- not in pytest's internal error, which lost
    the terminal's summary too."""

    def __init__(self, controller: Controller) -> None:
        self.controller = controller

    # An old-style wrapper: the targets' Debian pytest 7.2 (pluggy 1.0) has no other.
    @pytest.hookimpl(hookwrapper=True, trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> Iterator[None]:
        outcome = yield
        error = outcome.excinfo[1] if outcome.excinfo else None
        if error is None:
            try:
                self._rename()
            except OSError as e:
                error = e
        if isinstance(error, OSError):
            outcome.force_result(None)
            self._unwritten(error)
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR  # plain pytest's status

    def _rename(self) -> None:
        if self.controller._junit is None:
            return
        xml, final = self.controller._junit
        written = Path(xml.logfile)
        if written.exists():
            with open(written, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(written, final)
        xml.logfile = final

    def _unwritten(self, error: OSError) -> None:
        if self.controller._junit is not None:
            xml, final = self.controller._junit
            if xml.logfile != final:
                Path(xml.logfile).unlink(missing_ok=True)
        where = f" ({error.filename})" if error.filename else ""
        why = f"its results could not be written: {error.strerror or error}{where}"
        config = self.controller.config
        config.get_terminal_writer().line(f"syscalls: {why}", red=True)
        end = config.stash.get(END, RunEnd())
        config.stash[END] = RunEnd(end.incomplete or why, end.failed)


class RunEndCapture:
    """For pytest.main(plugins=[...]) (`syscalls run`): afterwards, .end says how the run
    ended -- incomplete and why, or whether a test failed -- beyond pytest's exit code."""

    def __init__(self) -> None:
        self.end = RunEnd()

    @pytest.hookimpl(trylast=True)  # registered first, so called after the controller's
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.end = config.stash.get(END, self.end)
