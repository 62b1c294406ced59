"""A test marked disposable, run by tests/test_disposable.py under different targets."""

import pytest


@pytest.mark.disposable
def test_changes_the_machine() -> None:
    pass
