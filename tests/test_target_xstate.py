"""syscalls.targets.xstate: its seccomp filter refuses exactly ptrace's XSAVE register
set (with EIO) and nothing else, and host_size() reads the host's XSAVE size.

A program run through the filter's command line (and so its main()) traces a child of
its own and reports what the kernel answered; the same program without the filter shows
that the answers that differ differ because of it.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from syscalls.targets import xstate

pytestmark = pytest.mark.skipif(platform.machine() != "x86_64", reason="an x86_64 filter")

ROOT = Path(__file__).resolve().parent.parent

# Traces a sleeping child (PTRACE_SEIZE, PTRACE_INTERRUPT) and prints, as JSON, the
# errno (0: success) of register-set requests on it and of a few other syscalls.
PROBE = r"""
import ctypes, errno, json, os, subprocess, sys
sys.path.insert(0, sys.argv[1])
from syscalls.targets import xstate as x

libc = x._libc
child = subprocess.Popen([sys.executable, "-I", "-S", "-c", "import signal; signal.pause()"])
answers = {}
try:
    assert libc.ptrace(x.PTRACE_SEIZE, child.pid, None, None) == 0
    assert libc.ptrace(x.PTRACE_INTERRUPT, child.pid, None, None) == 0
    os.waitpid(child.pid, x.WALL)

    def regset(request, regset, size, buf=None):
        buf = buf or ctypes.create_string_buffer(size)
        iov = x._Iovec(ctypes.addressof(buf), size)
        if libc.ptrace(request, child.pid, regset, ctypes.byref(iov)) == 0:
            return 0
        return errno.errorcode[ctypes.get_errno()]

    NT_PRSTATUS, NT_PRFPREG = 1, 2
    answers["get xstate"] = regset(x.PTRACE_GETREGSET, x.NT_X86_XSTATE, 1 << 16)
    answers["set xstate, wrong size"] = regset(x.PTRACE_SETREGSET, x.NT_X86_XSTATE, 64)
    answers["get xstate, high bits"] = regset(
        x.PTRACE_GETREGSET, x.NT_X86_XSTATE | 1 << 32, 1 << 16
    )
    regs = ctypes.create_string_buffer(27 * 8)  # struct user_regs_struct
    answers["get prstatus"] = regset(x.PTRACE_GETREGSET, NT_PRSTATUS, 27 * 8, regs)
    answers["set prstatus"] = regset(x.PTRACE_SETREGSET, NT_PRSTATUS, 27 * 8, regs)
    answers["get fpregs set"] = regset(x.PTRACE_GETREGSET, NT_PRFPREG, 512)
    fp = ctypes.create_string_buffer(512)
    getfp = libc.ptrace(14, child.pid, None, fp)  # PTRACE_GETFPREGS
    answers["getfpregs"] = 0 if getfp == 0 else errno.errorcode[ctypes.get_errno()]
    setfp = libc.ptrace(15, child.pid, None, fp)  # PTRACE_SETFPREGS, what it read
    answers["setfpregs"] = 0 if setfp == 0 else errno.errorcode[ctypes.get_errno()]
    answers["getpid"] = os.getpid() > 0
finally:
    child.kill()
    child.wait()
status = open("/proc/self/status").read()
answers["seccomp"] = [l.split()[1] for l in status.splitlines() if l.startswith("Seccomp:")]
print(json.dumps(answers))
"""


def probe(filtered: bool) -> dict[str, object]:
    argv = [sys.executable, "-c", PROBE, str(ROOT)]
    if filtered:
        argv = xstate.command(argv)
    p = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


@pytest.fixture(scope="module")
def unfiltered() -> dict[str, object]:
    answers = probe(filtered=False)
    if answers["get xstate"] != 0:
        pytest.skip(f"no XSAVE register set on this host ({answers['get xstate']})")
    return answers


def test_filter_refuses_the_xsave_register_set_with_eio(unfiltered: dict) -> None:
    filtered = probe(filtered=True)
    assert filtered["seccomp"] == ["2"] and unfiltered["seccomp"] == ["0"]
    assert unfiltered["get xstate"] == 0
    assert filtered["get xstate"] == "EIO"
    # the kernel reads the set's type as an unsigned int: the high bits do not matter
    assert unfiltered["get xstate, high bits"] == 0
    assert filtered["get xstate, high bits"] == "EIO"
    assert unfiltered["set xstate, wrong size"] == "EFAULT"  # what UML meets on AMX
    assert filtered["set xstate, wrong size"] == "EIO"


def test_filter_lets_every_other_request_and_syscall_through(unfiltered: dict) -> None:
    filtered = probe(filtered=True)
    others = {k: v for k, v in filtered.items() if "xstate" not in k and k != "seccomp"}
    assert others == {k: unfiltered[k] for k in others}
    assert others["get prstatus"] == 0 and others["set prstatus"] == 0
    assert others["getfpregs"] == 0
    assert others["setfpregs"] == 0  # the FXSAVE path UML falls back to
    assert others["getpid"] is True


def test_filter_command_reports_a_program_it_cannot_run(tmp_path: Path) -> None:
    p = subprocess.run(
        xstate.command([str(tmp_path / "missing")]), capture_output=True, text=True, check=False
    )
    assert p.returncode == 127 and "missing" in p.stderr
    p = subprocess.run(xstate.command([]), capture_output=True, text=True, check=False)
    assert p.returncode == 2 and "usage" in p.stderr


def test_host_size_is_the_xsave_size_of_the_cpu_features() -> None:
    size = xstate.host_size()
    if size is None:
        pytest.skip("no XSAVE register set on this host (or ptrace not allowed)")
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    assert size % 8 == 0 and size >= 512 + 64  # legacy area and XSAVE header
    if "avx" in flags:
        assert size >= 576 + 256  # the AVX state, at its fixed offset
    if "avx512f" in flags:
        assert size >= 1664 + 1024  # the Hi16_ZMM state ends at 2688
    if "amx_tile" in flags:
        assert size >= 2752 + 8192  # XTILEDATA: 8 KiB at offset 2752
