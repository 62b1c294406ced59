"""ptrace and seccomp: what a tracer may not do to its tracee's filters without
CAP_SYS_ADMIN. Suspending them (PTRACE_O_SUSPEND_SECCOMP: kernel/ptrace.c
check_ptrace_options, EPERM) and reading them out (PTRACE_SECCOMP_GET_FILTER and
PTRACE_SECCOMP_GET_METADATA: kernel/seccomp.c seccomp_get_filter, seccomp_get_metadata,
EACCES, before the tracee's filters are looked at) are a checkpoint/restore tool's,
root's. The tracee is the tracer's own child (PTRACE_TRACEME), with no filter.

All of it is CONFIG_CHECKPOINT_RESTORE's: a kernel built without it answers EINVAL
before any check (Debian's User-Mode Linux), a skip here where its configuration says so.
"""

import pytest

from syscalls import kconfig
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

AS_USER = pytest.mark.as_user("root may suspend and read seccomp filters (CAP_SYS_ADMIN)")


def _checked(outcome: str) -> str:
    if outcome == "EINVAL" and kconfig.built_without("CONFIG_CHECKPOINT_RESTORE"):
        pytest.skip("needs CONFIG_CHECKPOINT_RESTORE (EINVAL), which this kernel lacks")
    return outcome


@AS_USER
def test_setoptions_suspend_seccomp_as_a_user_is_eperm(kernel: Kernel, ptrace, in_child) -> None:
    def run() -> str:
        with ptrace.traceme() as pid:
            return ptrace("PTRACE_SETOPTIONS", pid, 0, kernel.PTRACE_O_SUSPEND_SECCOMP).outcome

    assert _checked(in_child(run)) == "EPERM"


@AS_USER
@pytest.mark.parametrize("request_", ["PTRACE_SECCOMP_GET_FILTER", "PTRACE_SECCOMP_GET_METADATA"])
def test_reading_the_tracees_seccomp_filters_as_a_user_is_eacces(
    kernel: Kernel, ptrace, in_child, request_: str
) -> None:
    """As root the answer would be EINVAL: the tracee has no filter."""

    def run() -> str:
        with ptrace.traceme() as pid:
            meta = kernel.new("unsigned long long[2]")  # struct seccomp_metadata
            return ptrace(request_, pid, 16, meta).outcome

    assert _checked(in_child(run)) == "EACCES"
