"""acct(2): BSD process accounting (kernel/acct.c), switched on per PID namespace.

Without CAP_SYS_PACCT in the initial user namespace it is EPERM, root of a user
namespace included. As root the host sees the refusals of acct_on, which change nothing:
a directory (EISDIR), a file that is not regular (EACCES), procfs (EINVAL), a missing
file (ENOENT); and acct(NULL) inside a new PID namespace, which switches off accounting
only there. Accounting to a file for real is disposable: in a VM, inside a new PID
namespace, a process exits and its record (struct acct_v3, CONFIG_BSD_PROCESS_ACCT_V3:
64 bytes) is read back.
"""

import struct
from pathlib import Path

import pytest

from syscalls import forking, namespaces
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

AS_USER = pytest.mark.as_user("root may switch accounting (CAP_SYS_PACCT)")
ACCT_V3 = struct.Struct("=BBHIIIIIIfHHHHHHHH16s")  # include/uapi/linux/acct.h struct acct_v3
AFORK = 0x01


def _in_pid_namespace(kernel: Kernel, body) -> int:
    """For in_child: a new PID namespace whose init runs body(); the init's exit code."""

    def run() -> int:
        # Asked here, where a skip still reaches the test: a kernel without
        # CONFIG_BSD_PROCESS_ACCT answers ENOSYS, which the init below could only report
        # as an exit code. Anything else (EINVAL for procfs, EPERM) means acct is there.
        kernel.acct(b"/proc/self/comm")
        kernel.unshare(kernel.CLONE_NEWPID).unwrap()
        return forking.exit_code(kernel, forking.fork(kernel, body))

    return run


@AS_USER
def test_acct_as_a_user_is_eperm(kernel: Kernel, tmp: Path) -> None:
    (tmp / "acct").write_bytes(b"")
    assert kernel.acct(tmp / "acct").errno == "EPERM"


@AS_USER
def test_acct_off_as_a_user_is_eperm(kernel: Kernel) -> None:
    assert kernel.acct(None).errno == "EPERM"


def test_acct_as_root_of_a_user_namespace_is_eperm(kernel: Kernel, tmp: Path, in_child) -> None:
    (tmp / "acct").write_bytes(b"")

    def run() -> str:
        namespaces.user_namespace_or_skip(kernel)
        return kernel.acct(tmp / "acct").outcome

    assert in_child(run) == "EPERM"


@pytest.mark.root
def test_acct_of_a_directory_is_eisdir(kernel: Kernel, tmp: Path) -> None:
    assert kernel.acct(tmp).errno == "EISDIR"


@pytest.mark.root
def test_acct_of_a_file_that_is_not_regular_is_eacces(kernel: Kernel) -> None:
    assert kernel.acct(b"/dev/null").errno == "EACCES"


@pytest.mark.root
def test_acct_of_a_procfs_file_is_einval(kernel: Kernel) -> None:
    assert kernel.acct(b"/proc/self/comm").errno == "EINVAL"


@pytest.mark.root
def test_acct_of_a_missing_file_is_enoent(kernel: Kernel, tmp: Path) -> None:
    assert kernel.acct(tmp / "absent").errno == "ENOENT"


@pytest.mark.root
def test_acct_off_in_a_new_pid_namespace_succeeds(kernel: Kernel, in_child) -> None:
    def init() -> int:
        return 0 if kernel.acct(None).ok else 3

    assert in_child(_in_pid_namespace(kernel, init)) == 0


# --- a disposable VM: a record read back ------------------------------------------------


@pytest.mark.disposable
@pytest.mark.root
def test_acct_writes_a_record_for_a_process_that_exits(kernel: Kernel, tmp: Path, in_child) -> None:
    log = tmp / "acct"
    log.write_bytes(b"")

    def probe() -> int:
        kernel.prctl(kernel.PR_SET_NAME, b"acct-probe", 0, 0, 0).unwrap()
        return 7

    def init() -> int:
        kernel.acct(log).unwrap()
        code = forking.exit_code(kernel, forking.fork(kernel, probe))
        kernel.acct(None).unwrap()
        return code

    assert in_child(_in_pid_namespace(kernel, init)) == 7
    data = log.read_bytes()
    assert data, "no record was written"
    if data[1] & 0x7F != 3:
        pytest.skip(f"acct records of version {data[1] & 0x7F}: only version 3 is parsed here")
    records = [ACCT_V3.unpack_from(data, i) for i in range(0, len(data), ACCT_V3.size)]
    ours = [r for r in records if r[-1].rstrip(b"\0") == b"acct-probe"]
    assert len(ours) == 1
    flag, _, _, exitcode, uid, _, pid, ppid, *_ = ours[0]
    assert (exitcode, uid, pid, ppid) == (7 << 8, 0, 2, 1)  # pids in the new namespace
    assert flag & AFORK  # forked, never exec'd
