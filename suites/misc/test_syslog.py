"""syslog(2) (klogctl): the kernel's message ring (kernel/printk/printk.c do_syslog).

Reading its size (SYSLOG_ACTION_SIZE_BUFFER) or its whole contents (READ_ALL) needs
CAP_SYSLOG while kernel.dmesg_restrict is set, and nothing otherwise; every other action
always needs it (EPERM). Bad arguments are EINVAL once past that check. On the host the
tests only read; clearing the ring, reading it destructively, writing to it through
/dev/kmsg and changing the console level are disposable and run only in a VM target.
"""

import os
from pathlib import Path

import pytest

from syscalls import sysctl
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

AS_USER = pytest.mark.as_user("root may read and change the kernel log (CAP_SYSLOG)")
PRINTK = Path("/proc/sys/kernel/printk")


def _restricted() -> bool:
    return sysctl.text("kernel/dmesg_restrict") == "1"


def _read_all(kernel: Kernel, size: int = 1 << 20) -> bytes:
    buf = kernel.buf(size)
    n = kernel.syslog(kernel.SYSLOG_ACTION_READ_ALL, buf, size).unwrap()
    return kernel.bytes(buf, n)


# --- reading ----------------------------------------------------------------------------------


def test_syslog_size_buffer_follows_dmesg_restrict(kernel: Kernel, observe) -> None:
    r = kernel.syslog(kernel.SYSLOG_ACTION_SIZE_BUFFER, None, 0)
    allowed = os.geteuid() == 0 or not _restricted()
    observe("allowed", allowed)
    assert r.outcome == ("ok" if allowed else "EPERM")
    if allowed:
        assert r.value >= 4096 and r.value & (r.value - 1) == 0  # a power of two


@pytest.mark.root
def test_syslog_read_all_returns_prioritised_lines(kernel: Kernel) -> None:
    text = _read_all(kernel)
    assert text, "the kernel log is empty"
    first = text.split(b"\n", 1)[0]
    assert first.startswith(b"<") and first[1:2].isdigit()


@pytest.mark.root
def test_syslog_read_all_returns_no_more_than_asked(kernel: Kernel) -> None:
    assert len(_read_all(kernel, 64)) <= 64


@pytest.mark.root
def test_syslog_read_all_of_nothing_returns_zero(kernel: Kernel) -> None:
    assert kernel.syslog(kernel.SYSLOG_ACTION_READ_ALL, kernel.buf(8), 0).unwrap() == 0


@pytest.mark.root
def test_syslog_read_all_negative_length_is_einval(kernel: Kernel) -> None:
    assert kernel.syslog(kernel.SYSLOG_ACTION_READ_ALL, kernel.buf(8), -1).errno == "EINVAL"


@pytest.mark.root
def test_syslog_read_into_null_is_einval(kernel: Kernel) -> None:
    assert kernel.syslog(kernel.SYSLOG_ACTION_READ, None, 8).errno == "EINVAL"


@pytest.mark.root
@pytest.mark.parametrize("level", [0, 9])
def test_syslog_console_level_out_of_range_is_einval(kernel: Kernel, level: int) -> None:
    assert kernel.syslog(kernel.SYSLOG_ACTION_CONSOLE_LEVEL, None, level).errno == "EINVAL"


@pytest.mark.root
def test_syslog_unknown_action_is_einval(kernel: Kernel) -> None:
    assert kernel.syslog(11, None, 0).errno == "EINVAL"


@pytest.mark.root
def test_syslog_close_and_open_are_no_ops_that_succeed(kernel: Kernel) -> None:
    assert kernel.syslog(kernel.SYSLOG_ACTION_OPEN, None, 0).unwrap() == 0
    assert kernel.syslog(kernel.SYSLOG_ACTION_CLOSE, None, 0).unwrap() == 0


# --- as a user ---------------------------------------------------------------------------------


@AS_USER
@pytest.mark.parametrize("action", ["CLEAR", "CONSOLE_OFF", "CONSOLE_LEVEL", "SIZE_UNREAD"])
def test_syslog_actions_beyond_reading_are_eperm_for_a_user(kernel: Kernel, action: str) -> None:
    r = kernel.syslog(getattr(kernel, f"SYSLOG_ACTION_{action}"), None, 4)
    assert r.errno == "EPERM"


@AS_USER
def test_syslog_read_all_as_a_user_follows_dmesg_restrict(kernel: Kernel) -> None:
    r = kernel.syslog(kernel.SYSLOG_ACTION_READ_ALL, kernel.buf(64), 64)
    assert r.outcome == ("EPERM" if _restricted() else "ok")


@AS_USER
def test_syslog_unknown_action_as_a_user_is_eperm(kernel: Kernel) -> None:
    assert kernel.syslog(11, None, 0).errno == "EPERM"


# --- a disposable VM: writing, clearing, the console level ----------------------------------------


def _log(marker: bytes) -> None:
    """One record in the ring, through /dev/kmsg; the newline ends it (a record without
    one stays open for a continuation, and readers do not see it yet)."""
    fd = os.open("/dev/kmsg", os.O_WRONLY)
    try:
        os.write(fd, marker + b"\n")
    finally:
        os.close(fd)


@pytest.mark.disposable
@pytest.mark.root
def test_syslog_clear_empties_what_read_all_returns(kernel: Kernel) -> None:
    _log(b"syscalls-before-clear")
    seen = b"syscalls-before-clear" in _read_all(kernel)
    kernel.syslog(kernel.SYSLOG_ACTION_CLEAR, None, 0).unwrap()
    assert seen and b"syscalls-before-clear" not in _read_all(kernel)


@pytest.mark.disposable
@pytest.mark.root
def test_syslog_read_clear_returns_the_log_then_clears_it(kernel: Kernel) -> None:
    _log(b"syscalls-read-clear")
    buf = kernel.buf(1 << 20)
    n = kernel.syslog(kernel.SYSLOG_ACTION_READ_CLEAR, buf, 1 << 20).unwrap()
    assert b"syscalls-read-clear" in kernel.bytes(buf, n)
    assert b"syscalls-read-clear" not in _read_all(kernel)


@pytest.mark.disposable
@pytest.mark.root
def test_syslog_read_consumes_unread_messages(kernel: Kernel) -> None:
    _log(b"syscalls-unread")
    unread = kernel.syslog(kernel.SYSLOG_ACTION_SIZE_UNREAD, None, 0).unwrap()
    buf = kernel.buf(1 << 20)
    n = kernel.syslog(kernel.SYSLOG_ACTION_READ, buf, 1 << 20).unwrap()
    assert unread > 0 and b"syscalls-unread" in kernel.bytes(buf, n)
    assert kernel.syslog(kernel.SYSLOG_ACTION_SIZE_UNREAD, None, 0).unwrap() < unread


@pytest.mark.disposable
@pytest.mark.root
def test_syslog_console_level_shows_in_proc_printk(kernel: Kernel) -> None:
    before = PRINTK.read_text()
    try:
        kernel.syslog(kernel.SYSLOG_ACTION_CONSOLE_LEVEL, None, 3).unwrap()
        assert PRINTK.read_text().split()[0] == "3"
    finally:
        PRINTK.write_text(before.split()[0])


@pytest.mark.disposable
@pytest.mark.root
def test_syslog_console_off_then_on_restores_the_level(kernel: Kernel) -> None:
    before = PRINTK.read_text().split()[0]
    try:
        kernel.syslog(kernel.SYSLOG_ACTION_CONSOLE_OFF, None, 0).unwrap()
        off = PRINTK.read_text().split()[0]
        kernel.syslog(kernel.SYSLOG_ACTION_CONSOLE_ON, None, 0).unwrap()
        assert PRINTK.read_text().split()[0] == before
        assert int(off) <= int(before)
    finally:
        PRINTK.write_text(before)
