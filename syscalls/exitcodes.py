"""The exit statuses of every `syscalls` command, one table for all (README: Exit status).

    0  all passed or skipped (compare: the runs agree)
    1  a test failed (compare: the runs differ, or a test is missing from one)
    2  could not run: usage error, bad input (table, profile, JUnit, image), no test
       selected, --out unwritable or locked by another run, target unavailable here
    3  the run did not finish: target panic / no start / hang, the overall --time-limit,
       SIGINT/SIGTERM/SIGHUP, an internal error -- finished tests kept, profile marked
       incomplete
  125  only when asked with --bisect: 2 and 3 become 125 ("cannot test" for git bisect)

pytest's own codes mean other things (2 interrupted, 3 internal error, 4 usage error,
5 no tests collected) and never leave `syscalls run` or `syscalls boot` as they are:
from_pytest() maps them.
"""

from __future__ import annotations

OK = 0
FAILED = 1
CANNOT_RUN = 2
INCOMPLETE = 3
BISECT_CANNOT_TEST = 125

# pytest.ExitCode, by number (the values are stable since pytest 5)
_PYTEST_OK, _PYTEST_FAILED, _PYTEST_INTERRUPTED, _PYTEST_INTERNAL, _PYTEST_USAGE = 0, 1, 2, 3, 4
_PYTEST_NO_TESTS = 5


def from_pytest(code: int, incomplete: bool = False, failed: bool = False) -> int:
    """Our status for a pytest run that exited with `code`.

    `incomplete`: the run was cut short (signal, time limit, target failure), as the
    profile's meta says -- that wins over everything. `failed`: some test failed; pytest
    says "interrupted" also when -x / --maxfail stopped it after failures under xdist,
    which is a failed run, not an unfinished one.
    """
    if incomplete:
        return INCOMPLETE
    if code == _PYTEST_OK:
        return OK
    if code == _PYTEST_FAILED:
        return FAILED
    if code == _PYTEST_INTERRUPTED:
        return FAILED if failed else INCOMPLETE
    if code in (_PYTEST_USAGE, _PYTEST_NO_TESTS):
        return CANNOT_RUN
    return INCOMPLETE  # internal error, or a code we do not know
