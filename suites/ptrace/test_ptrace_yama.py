"""Who may attach to a process that is not its descendant: Yama's ptrace_scope and
PR_SET_PTRACER (security/yama/yama_lsm.c), where Yama is present.

Expected outcome of PTRACE_ATTACH by a sibling, as (root, user), per scope read from
/proc/sys/kernel/yama/ptrace_scope (None: no Yama, and only the common same-uid rule):
- None and 0: allowed;
- 1 (relational): only descendants, a tracer the tracee named with PR_SET_PTRACER (or
  any, PR_SET_PTRACER_ANY), or CAP_SYS_PTRACE (root);
- 2 (admin only): CAP_SYS_PTRACE, whatever the tracee declared;
- 3: nobody.
PR_SET_PTRACER is Yama's prctl: without Yama it is an unknown option, EINVAL; with it,
naming a pid that does not exist is EINVAL too.
"""

import os
from pathlib import Path

import pytest

from syscalls import forking
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

SCOPE_FILE = Path("/proc/sys/kernel/yama/ptrace_scope")
SCOPE = int(SCOPE_FILE.read_text()) if SCOPE_FILE.exists() else None
ROOT = os.geteuid() == 0

# declared (how the tracee named its tracer) -> scope -> (root, user)
UNDECLARED = {None: ("ok", "ok"), 0: ("ok", "ok"), 1: ("ok", "EPERM"), 2: ("ok", "EPERM")}
DECLARED = {None: ("ok", "ok"), 0: ("ok", "ok"), 1: ("ok", "ok"), 2: ("ok", "EPERM")}
NOBODY = {3: ("EPERM", "EPERM")}
SIBLING_ATTACH = {
    None: UNDECLARED | NOBODY,
    "tracer": DECLARED | NOBODY,
    "any": DECLARED | NOBODY,
}
PR_SET_PTRACER_OUTCOME = "EINVAL" if SCOPE is None else "ok"
NO_SUCH_PID = 2**30  # above PID_MAX_LIMIT: never a process


def _sibling_attach(kernel: Kernel, ptrace, declared) -> str:
    """A tracer child tries PTRACE_ATTACH on a tracee child (its sibling); what it got."""
    to_tracer_r, to_tracer_w = os.pipe()
    result_r, result_w = os.pipe()
    ready_r, ready_w = os.pipe()
    hold_r, _hold_w = os.pipe()  # nobody writes: the tracee waits on it

    def tracer() -> int:
        pid = int.from_bytes(os.read(to_tracer_r, 4), "little")
        r = ptrace("PTRACE_ATTACH", pid, 0, 0)
        if r.ok:
            ptrace.wait_stop(pid)
            ptrace("PTRACE_DETACH", pid, 0, 0).unwrap()
        os.write(result_w, r.outcome.encode())
        return 0

    tracer_pid = forking.fork(kernel, tracer)

    def tracee() -> int:
        if declared is not None:
            who = tracer_pid if declared == "tracer" else kernel.PR_SET_PTRACER_ANY
            kernel.prctl(kernel.PR_SET_PTRACER, who, 0, 0, 0)  # EINVAL without Yama
        os.write(ready_w, b"r")
        os.read(hold_r, 1)
        return 0

    tracee_pid = forking.fork(kernel, tracee)
    try:
        assert os.read(ready_r, 1) == b"r"
        os.write(to_tracer_w, tracee_pid.to_bytes(4, "little"))
        outcome = os.read(result_r, 16).decode()
        assert forking.exit_code(kernel, tracer_pid) == 0
        return outcome
    finally:
        ptrace.reap(tracee_pid)


@pytest.mark.parametrize("declared", [None, "tracer", "any"])
def test_sibling_attach_follows_the_yama_scope(kernel: Kernel, ptrace, in_child, declared) -> None:
    if SCOPE not in SIBLING_ATTACH[declared]:
        pytest.skip(f"Yama ptrace_scope {SCOPE} is not one this test states an outcome for")
    expected = SIBLING_ATTACH[declared][SCOPE][0 if ROOT else 1]
    assert in_child(lambda: _sibling_attach(kernel, ptrace, declared)) == expected


def test_pr_set_ptracer_names_the_parent_where_yama_is(kernel: Kernel, in_child) -> None:
    def run() -> str:
        return kernel.prctl(kernel.PR_SET_PTRACER, os.getppid(), 0, 0, 0).outcome

    assert in_child(run) == PR_SET_PTRACER_OUTCOME


def test_pr_set_ptracer_any_where_yama_is(kernel: Kernel, in_child) -> None:
    def run() -> str:
        return kernel.prctl(kernel.PR_SET_PTRACER, kernel.PR_SET_PTRACER_ANY, 0, 0, 0).outcome

    assert in_child(run) == PR_SET_PTRACER_OUTCOME


def test_pr_set_ptracer_of_a_pid_that_does_not_exist_is_einval(kernel: Kernel, in_child) -> None:
    def run() -> str:
        return kernel.prctl(kernel.PR_SET_PTRACER, NO_SUCH_PID, 0, 0, 0).outcome

    assert in_child(run) == "EINVAL"
