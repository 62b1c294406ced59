"""pytest plugin: the runner's guarantees (see syscalls.runner), registered by the
checkout's conftest.py; `-p syscalls.runner.plugin` loads it into any other pytest run.

Option: --time-limit SECONDS   end the whole run after this long (finished tests kept,
                               running ones failed, the profile marked incomplete)
"""

from __future__ import annotations

import pytest

from syscalls.runner.controller import Controller, JunitRename
from syscalls.runner.testprocess import TestProcess


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("syscalls").addoption(
        "--time-limit",
        type=float,
        default=None,
        metavar="SECONDS",
        help="overall limit for the run: at expiry running tests are killed and recorded "
        "as failed, finished ones kept, the profile marked incomplete",
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
    tests = None
    if not distributed:  # the tests run in this process
        tests = TestProcess(config)
        config.pluginmanager.register(tests, "syscalls-runner-tests")
    if not worker:
        controller = Controller(config, tests)
        config.pluginmanager.register(controller, "syscalls-runner-controller")
        config.pluginmanager.register(JunitRename(controller), "syscalls-runner-junit")
