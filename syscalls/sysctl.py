"""The kernel's settings under /proc/sys, as tests read them.

A test whose expectation depends on a setting (dmesg_restrict, msg_max, ctrl-alt-del)
cannot say what the kernel must answer where the setting is not there (gVisor has few
of them, a kernel may be built without the subsystem): there it skips, naming the file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path("/proc/sys")


def text(name: str, root: Path = ROOT) -> str:
    """The setting `name` ("kernel/dmesg_restrict"), stripped; a skip where it is missing."""
    path = root / name
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pytest.skip(f"{path} is not there: this kernel has no such setting")
    except OSError as e:  # unreadable: the setting is there, its value unknown
        pytest.skip(f"{path} cannot be read: {e.strerror}")


def number(name: str, root: Path = ROOT) -> int:
    """The setting `name` as a number (its first field, for those that hold several)."""
    value = text(name, root)
    try:
        return int(value.split()[0])
    except (IndexError, ValueError):
        raise AssertionError(f"{root / name} holds {value[:40]!r}, not a number") from None
