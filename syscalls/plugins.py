"""The pytest plugins a run of the suites turns off, wherever pytest runs them: on the
host (`syscalls run`) and in a target's guest; and the one it adds (EVENTS).

Hypothesis's plugin (installed with the dev extra) costs 0.1 s of start-up in the
controller and in each worker on the host; pytest's log capture about 40 us a test (in a
TCG guest, on the smoke selection, both are within the noise of a boot). No suite test
logs or uses Hypothesis; measured, 8% less CPU for the whole suite on the host. Each
stays on when the arguments ask for it."""

from __future__ import annotations

# The progress log (JSON lines, one per test's start and end) a target's guest writes
# for the host, and `syscalls run` for itself: the results rebuilt from it when the
# run's process dies
EVENTS = "syscalls.targets.events"

# plugin name -> how an argument would ask for it
UNUSED = {"hypothesispytest": ("--hypothesis",), "logging": ("--log", "log_", "caplog")}


def turned_off(pytest_args: list[str]) -> list[str]:
    """-p no:NAME for each plugin in UNUSED that no argument names."""
    off = []
    for name, mentions in UNUSED.items():
        if not any(a.startswith(mentions) or a in (name, f"-p{name}") for a in pytest_args):
            off += ["-p", f"no:{name}"]
    return off
