"""pytest plugin for the target tests: a chosen test fails, or hangs, inside the target.

`-p tests.fault_plugin --fail-at NODEID`: that test fails (the suite's exit status is 1).
`-p tests.fault_plugin --hang-at NODEID`: that test blocks until the target is stopped
around it (by the run's overall limit), as a test stuck in the kernel would.
Honoured only inside a target (guest.sh exports SYSCALLS_TARGET), so on the host
neither option changes anything. tests/crash_plugin.py kills the guest's shell instead.
"""

from __future__ import annotations

import os
import time

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--fail-at", default=None, metavar="NODEID")
    parser.addoption("--hang-at", default=None, metavar="NODEID")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    if os.environ.get("SYSCALLS_TARGET", "host") == "host":
        return
    if item.config.getoption("fail_at") == item.nodeid:
        pytest.fail("deliberate failure (tests/fault_plugin.py --fail-at)")
    if item.config.getoption("hang_at") == item.nodeid:
        time.sleep(3600)
