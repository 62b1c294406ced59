"""How the suite runs: no test can hang the run, leave processes behind or its process
changed for the tests after it, crash it unrecorded, or leave results that look like a
finished run's.

    supervisor   `syscalls run`'s session in a child of the command: a module that
                 kills the interpreter at import is a collection error, not the end
    plugin       the pytest plugin (conftest.py registers it): roles, --time-limit,
                 --workers
    pool         in the controlling process: workers forked from the collected
                 session, the tests handed out to them, their reports replayed
    worker       in a forked worker: its plugins and capture set up, its tests run
    frames       the messages between the two over pipes
    testprocess  in the process that runs tests: leftovers killed per test, no cores,
                 the worker's status for the watchdog
    isolation    in the process that runs tests: the state each test must leave as it
                 found it (signals, limits, umask, cwd, threads, ...), compared and
                 put back after each test
    namespaces   in the process that runs tests, as root: mount, UTS and IPC
                 namespaces of its own, so that what a test leaves stays there
    mounts       there: the mounts a test left, seen with one poll() per test
    highfd       the runner's descriptors there, above the tests' range
    controller   in the controlling process: crashes and hangs become failures with
                 their cause, SIGINT/SIGTERM/--time-limit end the run incomplete
    strays       in the controlling process: signals a test sent it, taken with their
                 sender, and the test failed instead of the run ended
    watchdog     the controller's thread: per-test limits from outside the test,
                 worker deaths, orphans of dead workers, the overall time limit
    status       the per-worker status record the watchdog reads
    stacks       beside it, the worker's fault dump: where it died or hung, for the
                 failure (the watchdog asks with SIGABRT before it kills)

`syscalls run` always runs the tests in workers (-n 0 means one), forked from the
collected session (pool), so the controller survives any test. Plain `pytest` takes
`--workers N` for the same, or xdist's `-n N` (whose workers are fresh interpreters that
collect the suite again); without either it runs tests in its own process: leftovers
are still killed per test, but a crash ends the run and a hang is cut only by
pytest-timeout's signal.

Why a status file per worker and not the workers' messages: a worker hung in C with the
GIL held sends nothing at all (and under xdist the controller learns that a test started
from a logstart event that names no worker). A record the worker writes with one
pwrite() before each test (nodeid, start, limit) is readable at any time whatever the
worker's state, and costs a few microseconds. A forked worker's pid is known from the
fork, taken under the watchdog's lock; an xdist worker's comes from execnet's popen
gateway as it is started (pytest_xdist_newgateway), before it has run a line: so a
freshly started worker is never taken for an orphan.
"""
