"""pytest plugin for the target tests: the suite inside a target dies at a chosen test.

`-p tests.crash_plugin --crash-at NODEID`: when that test starts, the shell running
pytest inside the target (the one that would write the status file) is killed and the
test blocks, so the guest goes down with a test running and no status, as after a
kernel crash. Honoured only inside a target (guest.sh exports SYSCALLS_TARGET), so it
never kills a user's shell on the host.
"""

from __future__ import annotations

import os
import signal
import time

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--crash-at", default=None, metavar="NODEID")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    if item.config.getoption("crash_at") != item.nodeid:
        return
    if os.environ.get("SYSCALLS_TARGET", "host") == "host":
        return
    os.kill(os.getppid(), signal.SIGKILL)
    time.sleep(600)  # until the target goes down around us
