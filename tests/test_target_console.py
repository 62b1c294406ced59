"""syscalls.targets.console: the target's console copied within bounds."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

from syscalls.targets import console, guest, results
from syscalls.targets.procgroup import ProcessGroup

STARTED = guest.STARTED.decode()


def test_what_stays_under_the_limit_is_copied_whole() -> None:
    out = io.BytesIO()
    copy = console.Bounded(out, limit=10, tail=4)
    copy.write(b"abc")
    copy.write(b"defg")
    copy.finish()
    assert out.getvalue() == b"abcdefg"


def test_past_the_limit_only_the_last_part_is_kept_and_the_rest_counted() -> None:
    out = io.BytesIO()
    copy = console.Bounded(out, limit=10, tail=4)
    copy.write(b"0123456789abc")  # 10 copied, 3 held
    copy.write(b"defgh")  # 8 held: the first 4 of them go
    copy.finish()
    head, _, rest = out.getvalue().partition(b"\n[syscalls: ")
    assert head == b"0123456789"
    note, _, tail = rest.partition(b"]\n")
    assert note == b"console output past 10 bytes: 4 bytes left out; the last 4 follow"
    assert tail == b"efgh"


def test_a_kernel_that_floods_its_console_does_not_fill_the_disk(tmp_path: Path) -> None:
    """A console that prints without end (a printk storm) until the run's limit: what
    reaches console.log and the terminal stays within LIMIT and TAIL."""
    out = tmp_path / "out"
    out.mkdir()
    terminal = io.BytesIO()
    limits = guest.Limits(boot=30, test=30, total=3)
    script = f"echo '{STARTED}'; yes 'printk storm'"
    limit, tail = console.LIMIT, console.TAIL
    console.LIMIT, console.TAIL = 1 << 20, 4096
    try:
        with ProcessGroup() as group:
            proc = group.start(
                ["sh", "-c", script], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE
            )
            ending = guest.supervise(proc, out, limits, terminal)
    finally:
        console.LIMIT, console.TAIL = limit, tail
    assert ending.kind == "timeout"
    log = (out / results.CONSOLE).read_bytes()
    assert len(log) < (1 << 20) + 4096 + 200
    assert b"bytes left out; the last 4096 follow]" in log
    assert b"printk storm" in log[-4096:]  # the end of what it printed
    assert len(terminal.getvalue()) < (1 << 20) + 4096 + 200


def test_what_reaches_the_terminal_is_printable() -> None:
    """Escape sequences a guest prints (its kernel's, or a test's output of a name the
    kernel gave) would drive the user's terminal: they reach it escaped."""
    assert console.printable(b"ok \x1b[2J\r\n\x00 caf\xc3\xa9\t\xc2\x9b1m \x07\x7f\n") == (
        b"ok \\x1b[2J\n\\x00 caf\xc3\xa9\t\\xc2\\x9b1m \\x07\\x7f\n"
    )
    out = io.BytesIO()
    sink = console.Printable(out)
    sink.write(b"a\xc2")  # a C1 control cut in two between writes
    sink.write(b"\x9bb\xc2")
    sink.write(b"\xa9")  # and an e-acute
    assert out.getvalue() == b"a\\xc2\\x9bb\xc2\xa9"


def test_the_terminal_copy_is_printable_and_console_log_keeps_the_bytes(
    tmp_path: Path,
) -> None:
    terminal = io.BytesIO()
    with console.copies(tmp_path / "console.log", terminal) as (log, shown):
        for copy in (log, shown):
            copy.write(b"\x1b]0;owned\x07title\r\n")
    assert (tmp_path / "console.log").read_bytes() == b"\x1b]0;owned\x07title\r\n"
    assert terminal.getvalue() == b"\\x1b]0;owned\\x07title\n"
