"""conftest.py moves what collection made out of the cyclic GC's way (gc.freeze)."""

import gc


def test_the_collected_session_is_frozen_before_tests_run() -> None:
    # This test was collected and runs under the checkout's conftest.py, like the suites.
    assert gc.get_freeze_count() > 0
