"""How the suite runs: no test can hang the run, leave processes behind, crash it
unrecorded, or leave results that look like a finished run's.

    plugin       the pytest plugin (conftest.py registers it): roles, --time-limit
    testprocess  in the process that runs tests: leftovers killed per test, no cores,
                 the worker's status for the watchdog
    controller   in the controlling process: crashes and hangs become failures with
                 their cause, SIGINT/SIGTERM/--time-limit end the run incomplete
    watchdog     the controller's thread: per-test limits from outside the test,
                 worker deaths, orphans of dead workers, the overall time limit
    status       the per-worker status record the watchdog reads

pytest-xdist stays the engine: `syscalls run` always runs the tests in workers (-n 0
means one worker), so the controller survives any test. Plain `pytest` without -n runs
tests in its own process: leftovers are still killed per test, but a crash ends the run
and a hang is cut only by pytest-timeout's signal.

Why a status file per worker and not xdist's own events: the controller learns that a
test started from the worker's logstart event, which names no worker, and xdist's
scheduler keeps its per-worker queues private; and a worker hung in C with the GIL held
sends nothing at all. A record the worker writes with one pwrite() before each test
(nodeid, start, limit) is readable at any time whatever the worker's state, costs a few
microseconds, and works the same under xdist 3.1 (Debian 12) and 3.8. Worker pids come
from execnet's popen gateway as each worker is started (pytest_xdist_newgateway), before
the worker has run a line, so a freshly started worker is never taken for an orphan.
"""
