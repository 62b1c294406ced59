"""The kernel's log as a verdict (syscalls.kmsg): what counts as trouble, how the log is
read, and a test during which the kernel logs trouble failing, in a real session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from syscalls import kmsg
from tests.runner_checks import junit_cases, pytest_in

WARN = "WARNING: CPU: 1 PID: 4242 at fs/open.c:1234 do_sys_openat2+0x1a/0x40"
SPLAT = [
    "------------[ cut here ]------------",
    WARN,
    "Modules linked in: virtio_net",
    "CPU: 1 PID: 4242 Comm: python3 Not tainted 6.1.0 #1",
    "Hardware name: QEMU Standard PC (i440FX + PIIX, 1996)",
    "RIP: 0010:do_sys_openat2+0x1a/0x40",
    "---[ end trace 0000000000000000 ]---",
]


def _record(text: str, seq: int = 1) -> str:
    return f"4,{seq},1000,-;{text}\n SUBSYSTEM=fake\n"


@pytest.mark.parametrize(
    "line",
    [
        WARN,
        "BUG: kernel NULL pointer dereference, address: 0000000000000008",
        "kernel BUG at mm/mmap.c:3301!",
        "Oops: 0002 [#1] PREEMPT SMP NOPTI",
        "general protection fault, probably for non-canonical address 0xdead: 0000 [#1]",
        "UBSAN: shift-out-of-bounds in kernel/futex/core.c:42:7",
        "BUG: KASAN: use-after-free in pipe_read+0x1/0x2",
        "INFO: task python3:123 blocked for more than 120 seconds.",
        "watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [python3:99]",
        "rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:",
        "list_del corruption. next->prev should be ffff, but was dead",
        "refcount_t: underflow; use-after-free.",
        "Kernel panic - not syncing: Fatal exception",
    ],
)
def test_the_kernels_reports_of_its_own_bugs_are_trouble(line: str) -> None:
    assert kmsg.trouble([line]) == [line]


@pytest.mark.parametrize(
    "line",
    [
        "traps: python3[17255] general protection fault ip:0 sp:0 error:0",
        "python3[123]: segfault at 0 ip 00007f00 sp 00007ffe error 4 in libc.so.6",
        'audit: type=1326 audit(1.1:591): pid=26548 comm="python3" sig=31 syscall=110',
        "process 'python3' launched '/bin/sh' with NULL argv: empty string added",
        "capability: warning: `python3' uses 32-bit capabilities (legacy support in use)",
    ],
)
def test_what_user_space_did_is_not_trouble(line: str) -> None:
    assert kmsg.trouble([line]) == []


def test_a_splat_is_named_with_its_process_and_code() -> None:
    assert kmsg.trouble(SPLAT) == [
        f"{WARN}\n  CPU: 1 PID: 4242 Comm: python3 Not tainted 6.1.0 #1"
        "\n  RIP: 0010:do_sys_openat2+0x1a/0x40"
    ]


def test_the_log_is_read_from_where_it_stood_and_only_what_is_new(tmp_path: Path) -> None:
    path = tmp_path / "kmsg"
    path.write_text(_record("BUG: before the session"))
    log = kmsg.KernelLog.open(str(path))
    assert log is not None
    assert log.messages() == []
    with path.open("a") as f:
        f.write(_record("one", 2) + _record("two", 3))
    assert log.messages() == ["one", "two"]  # the " SUBSYSTEM=" lines are no messages
    assert log.messages() == []
    log.close()


def test_a_record_logged_as_the_log_is_opened_is_not_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # open() reads once past the end, to learn whether reading is allowed; a record
    # logged in that instant came back from that read, and was dropped
    path = tmp_path / "kmsg"
    path.write_text(_record("before the session"))
    seek = os.lseek

    def seek_then_log(fd: int, pos: int, how: int) -> int:
        end = seek(fd, pos, how)
        with path.open("a") as f:
            f.write(_record("BUG: as the session began", 2))
        return end

    monkeypatch.setattr(kmsg.os, "lseek", seek_then_log)
    log = kmsg.KernelLog.open(str(path))
    monkeypatch.undo()
    assert log is not None
    assert log.trouble() == ["BUG: as the session began"]
    assert log.messages() == []
    log.close()


def test_a_log_this_process_may_not_read_is_not_checked(tmp_path: Path) -> None:
    assert kmsg.KernelLog.open(str(tmp_path / "missing")) is None
    assert kmsg.KernelLog.open(str(tmp_path)) is None  # a directory: reading fails


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: /dev/kmsg is CAP_SYSLOG's")
def test_the_kernels_own_log_opens_at_its_end_for_root() -> None:
    log = kmsg.KernelLog.open()
    assert log is not None
    try:
        assert all(isinstance(m, str) for m in log.messages())  # only what is new, if any
    finally:
        log.close()


CONFTEST = """
import os
from syscalls.kmsg import KernelLogCheck

def pytest_configure(config):  # as conftest.py does: in the run's controller only
    if not hasattr(config, "workerinput"):
        kmsg, tainted = os.environ["FAKE_KMSG"], os.environ.get("FAKE_TAINTED", "")
        config.pluginmanager.register(KernelLogCheck(config, kmsg, tainted), "kernel-log")
"""

TESTS = """
import os, time

def _log(text):
    with open(os.environ["FAKE_KMSG"], "a") as f:
        f.write("4,9,1000,-;" + text + "\\n")

def test_a_clean():
    time.sleep(0.2)  # still running when test_b's warning is read, beside it

def test_b_warns():
    _log({warn!r}.replace("4242", str(os.getpid())))  # this process: the kernel names it
    _log(f"CPU: 1 PID: {{os.getpid()}} Comm: python3 Not tainted 6.1.0 #1")

def test_c_clean():
    pass
"""


def _session(tmp_path: Path, tests: str, *args: str, tainted: Path | None = None):
    """pytest on `tests` with the check reading a fake log (and taint flags) of its own:
    the process, and its junit.xml's testcases by name."""
    (tmp_path / "kmsg").touch()
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_k.py").write_text(tests)
    junit = tmp_path / "junit.xml"
    env = {"FAKE_KMSG": str(tmp_path / ("unreadable" if tainted else "kmsg"))}
    if tainted is not None:
        env["FAKE_TAINTED"] = str(tainted)
    p = pytest_in(tmp_path, *args, "-p", "no:randomly", f"--junitxml={junit}", env=env)
    return p, junit_cases(junit) if junit.exists() else {}


@pytest.mark.parametrize(
    "workers", [[], ["--workers", "2"], ["-n", "2"]], ids=["serial", "forked", "xdist"]
)
def test_a_test_during_which_the_kernel_warns_fails_naming_the_warning(
    tmp_path: Path, workers: list[str]
) -> None:
    p, cases = _session(tmp_path, TESTS.format(warn=WARN), *workers)
    assert p.returncode == 1, p.stdout[-3000:]
    errors = {name: c.find("error") for name, c in cases.items() if c.find("error") is not None}
    assert len(errors) == 1, p.stdout[-3000:]
    name, error = next(iter(errors.items()))
    text = error.text or ""
    assert "kernel: WARNING: CPU: 1 PID: " in text and "Comm: python3" in text
    if workers[:1] == ["-n"]:  # xdist's workers: the controller cannot tell which
        assert "by the end of this test (or by a test running beside it):" in text
    else:  # its own process, or the forked worker the kernel named
        assert name == "test_b_warns", p.stdout[-3000:]
        assert "the kernel reported trouble during this test:" in text


def test_trouble_outside_any_test_fails_the_run(tmp_path: Path) -> None:
    tests = (
        "import os\n"
        "with open(os.environ['FAKE_KMSG'], 'a') as f:  # at collection\n"
        f"    f.write('4,9,1000,-;' + {WARN!r} + '\\n')\n\n"
        "def test_clean():\n    pass\n"
    )
    p, _ = _session(tmp_path, tests)
    assert p.returncode == 1, p.stdout[-3000:]
    assert "1 passed" in p.stdout
    assert f"syscalls: the kernel reported trouble outside any test:\n{WARN}" in p.stdout


def test_new_trouble_flags_are_read_from_the_taint_flags(tmp_path: Path) -> None:
    tainted = tmp_path / "tainted"
    tainted.write_text(f"{1 << 12}\n")  # O: an out-of-tree module, before
    taint = kmsg.Taint.open(str(tainted))
    assert taint is not None and taint.trouble() == []
    tainted.write_text(f"{1 << 12 | 1 << 13 | 1 << 9}\n")  # E (a module) and W
    assert taint.trouble() == ["the kernel's taint flags gained W (a warning)"]
    assert taint.trouble() == []  # raised once: seen once
    assert kmsg.Taint.open(str(tmp_path / "missing")) is None


def test_a_user_who_may_not_read_the_log_has_the_taint_flags_checked(tmp_path: Path) -> None:
    tainted = tmp_path / "tainted"
    tainted.write_text("0\n")
    tests = (
        "import os\n\n"
        "def test_warns():\n"
        f"    open(os.environ['FAKE_TAINTED'], 'w').write('{1 << 9}')\n\n"
        "def test_after():\n    pass\n"
    )
    p, cases = _session(tmp_path, tests, tainted=tainted)
    assert p.returncode == 1, p.stdout[-3000:]
    error = cases["test_warns"].find("error")
    assert error is not None and "kernel: the kernel's taint flags gained W" in (error.text or "")
    assert cases["test_after"].find("error") is None


def test_a_kernel_that_warns_in_a_loop_fails_the_test_with_the_first_reports(
    tmp_path: Path,
) -> None:
    tests = (
        "import os\n\n"
        "def test_storm():\n"
        "    with open(os.environ['FAKE_KMSG'], 'a') as f:\n"
        f"        f.write(('4,9,1000,-;' + {WARN!r} + '\\n') * 50_000)\n"
    )
    p, cases = _session(tmp_path, tests)
    assert p.returncode == 1, p.stdout[-3000:]
    text = cases["test_storm"].find("error").text or ""
    assert text.count(WARN) == kmsg.MAX_SHOWN + 1  # and once more as the reason
    assert f"(and {50_000 - kmsg.MAX_SHOWN} more reports)" in text
