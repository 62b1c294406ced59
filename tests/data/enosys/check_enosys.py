"""Run by tests/test_enosys.py through pytest and the suite's conftest, with a table in
which two made-up names call a syscall number no Linux kernel implements (tuxcall)."""


def test_lost(kernel):
    kernel.sample_lost()


def test_optional(kernel):
    kernel.sample_optional()


def test_lost_in_a_child(kernel, in_child):
    in_child(kernel.sample_lost)
