"""pytest plugin: the runner's guarantees (see syscalls.runner), registered by the
checkout's conftest.py; `-p syscalls.runner.plugin` loads it into any other pytest run.

Options: --time-limit SECONDS  end the whole run after this long (finished tests kept,
                               running ones failed, the profile marked incomplete)
         --workers N|auto      run the tests in N workers forked from the collected
                               session (syscalls.runner.pool; `syscalls run` uses it);
                               xdist's -n 0, when given, runs them in this process
"""

from __future__ import annotations

import pytest

from syscalls.runner import pool, sendable
from syscalls.runner.controller import Controller, ResultFiles
from syscalls.runner.testprocess import TestProcess
from syscalls.runner.worker import apart


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("syscalls").addoption(
        "--time-limit",
        type=float,
        default=None,
        metavar="SECONDS",
        help="overall limit for the run: at expiry running tests are killed and recorded "
        "as failed, finished ones kept, the profile marked incomplete",
    )
    parser.getgroup("syscalls").addoption(
        "--workers",
        default=None,
        metavar="N",
        help="run the tests in N workers (or auto: one per CPU and one more) forked from "
        "this process once the session is collected, instead of in this process",
    )


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    if config.option.collectonly:
        return
    worker = hasattr(config, "workerinput")
    # xdist's own test for a distributed run (its pytest_cmdline_main has set both)
    distributed = (
        not worker and config.getoption("dist", "no") != "no" and bool(config.getoption("tx", None))
    )
    if worker:
        sendable.install(config)
        apart()
    workers = 0 if worker else pool.count(config.getoption("workers"))
    if config.getoption("numprocesses", None) == 0:
        workers = 0  # xdist's -n 0, given: the tests run in this process, as it means there
    if workers and distributed:
        raise pytest.UsageError("--workers and xdist's -n both given: choose one")
    tests = None
    if not distributed and not workers:  # the tests run in this process
        tests = TestProcess(config)
        config.pluginmanager.register(tests, "syscalls-runner-tests")
    if not worker:
        controller = Controller(config, tests, workers)
        config.pluginmanager.register(controller, "syscalls-runner-controller")
        config.pluginmanager.register(ResultFiles(controller), "syscalls-runner-results")
