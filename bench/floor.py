"""pytest plugin for the benchmarks' "floor" runs: every test is collected, handed out,
set up, checked and torn down as usual, and reported as passed, but its body does not
run. The run's time is then what the framework costs (pytest's protocol, fixtures, the
runner's per-test checks and reports) with no syscall of the test's own: the least a
run of this many tests could take with this design, whatever the tests did.

    PYTHONPATH=. syscalls run -- -p bench.floor   # bench/run.py --modes floor
    syscalls boot KERNEL -- -p bench.floor        # bench/vm.py --runs floor

(The guest's pytest runs from the checkout's root, which is on its path.)

Measurement only: a floor run's results say nothing about the kernel.
"""

from __future__ import annotations

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool:
    return True  # the body is not called: pytest takes the call as done
