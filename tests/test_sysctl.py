"""syscalls.sysctl: settings under /proc/sys read by tests, a skip where one is missing."""

from pathlib import Path

import pytest

from syscalls import sysctl


def test_a_setting_is_read_stripped(tmp_path: Path) -> None:
    (tmp_path / "kernel").mkdir()
    (tmp_path / "kernel" / "dmesg_restrict").write_text("1\n")
    assert sysctl.text("kernel/dmesg_restrict", tmp_path) == "1"
    assert sysctl.number("kernel/dmesg_restrict", tmp_path) == 1


def test_a_setting_of_several_fields_gives_its_first_as_a_number(tmp_path: Path) -> None:
    (tmp_path / "printk").write_text("4\t4\t1\t7\n")
    assert sysctl.number("printk", tmp_path) == 4


def test_a_missing_setting_is_a_skip_that_names_it(tmp_path: Path) -> None:
    with pytest.raises(pytest.skip.Exception, match=r"ctrl-alt-del is not there"):
        sysctl.text("kernel/ctrl-alt-del", tmp_path)


def test_a_setting_that_is_not_a_number_fails_saying_what_it_holds(tmp_path: Path) -> None:
    (tmp_path / "msg_max").write_text("lots\n")
    with pytest.raises(AssertionError, match=r"holds 'lots', not a number"):
        sysctl.number("msg_max", tmp_path)


def test_the_real_tree_is_read() -> None:
    assert sysctl.number("kernel/pid_max") > 0
