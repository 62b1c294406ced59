"""Expectations that differ by OS or kernel version, stated once at the top of a test.

    RMDIR_NONEMPTY = ByOS(default="ENOTEMPTY", openbsd="ENOTEMPTY")
    ...
    assert r.errno == RMDIR_NONEMPTY[kernel.os]

Skip conditions (needs root, only on these OSes, needs kernel >= X) are markers
instead: @pytest.mark.root, @pytest.mark.os("linux"), @pytest.mark.min_kernel("5.6").
"""

from __future__ import annotations

import re
from typing import Any


class ByOS:
    """A value per OS name, with a default for the rest."""

    _MISSING = object()

    def __init__(self, default: Any = _MISSING, **per_os: Any) -> None:
        self.default = default
        self.per_os = per_os

    def __getitem__(self, os_name: str) -> Any:
        if os_name in self.per_os:
            return self.per_os[os_name]
        if self.default is self._MISSING:
            raise KeyError(f"no expectation for {os_name} (have {', '.join(self.per_os)})")
        return self.default

    def __repr__(self) -> str:
        return f"ByOS(default={self.default!r}, {self.per_os!r})"


def version_tuple(release: str) -> tuple[int, ...]:
    """ "6.1.0-47-cloud-amd64" -> (6, 1, 0); "4.4.0" -> (4, 4, 0)."""
    m = re.match(r"(\d+(?:\.\d+)*)", release)
    return tuple(int(x) for x in m.group(1).split(".")) if m else ()


def at_least(release: str, minimum: str) -> bool:
    return version_tuple(release) >= version_tuple(minimum)
