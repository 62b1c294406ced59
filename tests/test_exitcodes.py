"""syscalls.exitcodes: pytest's statuses mapped onto the one table of ours."""

from __future__ import annotations

import pytest

from syscalls import exitcodes


@pytest.mark.parametrize(
    ("pytest_code", "failed", "ours"),
    [
        (0, False, exitcodes.OK),
        (1, True, exitcodes.FAILED),
        (2, True, exitcodes.FAILED),  # -x / --maxfail under xdist: stopped after failures
        (2, False, exitcodes.INCOMPLETE),  # interrupted
        (3, False, exitcodes.INCOMPLETE),  # internal error
        (4, False, exitcodes.CANNOT_RUN),  # usage error
        (5, False, exitcodes.CANNOT_RUN),  # no tests collected
        (99, False, exitcodes.INCOMPLETE),
    ],
)
def test_pytest_codes_map_onto_ours(pytest_code: int, failed: bool, ours: int) -> None:
    assert exitcodes.from_pytest(pytest_code, failed=failed) == ours


@pytest.mark.parametrize("pytest_code", [0, 1, 2, 5])
def test_an_incomplete_run_is_3_whatever_pytest_said(pytest_code: int) -> None:
    assert exitcodes.from_pytest(pytest_code, incomplete=True) == exitcodes.INCOMPLETE


def test_the_table_is_the_contracts() -> None:
    assert (exitcodes.OK, exitcodes.FAILED, exitcodes.CANNOT_RUN, exitcodes.INCOMPLETE) == (
        0,
        1,
        2,
        3,
    )
    assert exitcodes.BISECT_CANNOT_TEST == 125
