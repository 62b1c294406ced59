"""ENOSYS as a verdict (syscalls/enosys.py): a Linux syscall every kernel has fails the
test that met ENOSYS from it; one a configuration may leave out, or one the target
lacks, is a skip that says why; tables that say nothing (BSD) keep ENOSYS a skip."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from syscalls import child, kconfig
from syscalls.abi import Platform, host_os_arch
from syscalls.enosys import TARGET_LACKS, Rule
from syscalls.kernel import Kernel, MissingSyscall, Unsupported

ROOT = Path(__file__).resolve().parent.parent
X86_64 = Platform.load("linux/x86_64")
on_x86_64 = pytest.mark.skipif(host_os_arch() != ("linux", "x86_64"), reason="needs linux/x86_64")
TUXCALL = 184  # x86_64's table entry without an implementation: ENOSYS on every kernel


def test_an_always_present_syscall_is_lost():
    answer = Rule(X86_64, "host", lambda: "6.1.0").judge("openat")
    assert answer.lost
    assert (
        answer.message == "openat: ENOSYS, but every Linux kernel has it (not in kernel/sys_ni.c)"
    )


def test_an_optional_syscall_skips_naming_its_option():
    answer = Rule(X86_64, "host", lambda: "6.1.0").judge("userfaultfd")
    assert not answer.lost and answer.message == "userfaultfd: ENOSYS (CONFIG_USERFAULTFD is off)"


def test_an_optional_syscall_without_a_named_option_still_skips():
    assert X86_64.optional is not None and X86_64.optional["clone3"] == ""
    answer = Rule(X86_64, "host", lambda: "6.1.0").judge("clone3")
    assert not answer.lost and "sys_ni.c" in answer.message


def test_an_unimplemented_entry_skips():
    answer = Rule(X86_64, "host", lambda: "6.1.0").judge("tuxcall")
    assert not answer.lost and answer.message == "tuxcall: ENOSYS (no linux kernel implements it)"


def test_same_major_minor_is_judged_whatever_the_stable_update():
    assert X86_64.release.startswith("6.1.")
    assert Rule(X86_64, "host", lambda: "6.1.0-57-cloud-amd64").judge("openat").lost
    assert Rule(X86_64, "vm", lambda: "6.12.9").judge("openat").lost


def test_a_kernel_older_than_the_table_may_lack_newer_syscalls():
    answer = Rule(X86_64, "host", lambda: "5.10.0").judge("openat")
    assert not answer.lost and "older than the 6.1" in answer.message


@pytest.mark.parametrize(
    ("target", "name", "why"),
    [
        ("gvisor", "pidfd_open", "gVisor does not implement it"),
        ("uml", "iopl", "User-Mode Linux has no I/O ports"),
        ("qemu-user", "ptrace", "qemu-user does not translate it"),
    ],
)
def test_a_target_skips_what_it_legitimately_lacks(target, name, why):
    answer = Rule(X86_64, target, "4.4.0").judge(name)
    assert not answer.lost and answer.message == f"{name}: ENOSYS ({why})"


@pytest.mark.parametrize("target", ["gvisor", "uml"])
def test_a_target_still_fails_for_what_it_does_not_list(target):
    # gVisor reports 4.4.0 whatever it implements: its list, not its release, decides.
    assert "openat" not in TARGET_LACKS[target]
    assert Rule(X86_64, target, "4.4.0").judge("openat").lost


def test_optional_syscalls_stay_optional_on_a_target():
    assert not Rule(X86_64, "gvisor", lambda: "4.4.0").judge("userfaultfd").lost
    assert not Rule(X86_64, "uml", lambda: "6.1.0").judge("io_uring_setup").lost


def test_the_release_is_asked_only_when_it_decides():
    def unasked() -> str:
        raise AssertionError("release asked")

    assert not Rule(Platform.load("netbsd/amd64"), "rump", unasked).judge("openat").lost
    assert not Rule(X86_64, "host", unasked).judge("userfaultfd").lost
    assert not Rule(X86_64, "gvisor", unasked).judge("pidfd_open").lost


def test_bsd_tables_keep_enosys_a_skip():
    answer = Rule(Platform.load("netbsd/amd64"), "rump", lambda: "7.99.34").judge("openat")
    assert not answer.lost and answer.message == "openat: ENOSYS (the kernel does not implement it)"


def _platform(**names: str) -> Platform:
    """The host's table, with made-up names calling tuxcall's number; optional ones get
    the option given (or are always present when it is None)."""
    p = Platform.load()
    assert p.optional is not None
    for name, option in names.items():
        p.syscalls[name] = TUXCALL
        if option is not None:
            p.optional[name] = option
    return p


@on_x86_64
def test_kernel_raises_missing_syscall_for_a_lost_one():
    k = Kernel(_platform(sample_lost=None))
    with pytest.raises(MissingSyscall, match="sample_lost: ENOSYS, but every Linux kernel has it"):
        k.sample_lost()
    assert isinstance(MissingSyscall("x"), AssertionError)  # pytest reports it as a failure


@on_x86_64
def test_kernel_raises_unsupported_for_an_optional_one():
    k = Kernel(_platform(sample_optional="CONFIG_SAMPLE"))
    with pytest.raises(Unsupported, match=r"sample_optional: ENOSYS \(CONFIG_SAMPLE is off\)"):
        k.sample_optional()
    k.target = "qemu-user"
    with pytest.raises(Unsupported, match="qemu-user does not translate it"):
        k.caller("tuxcall")()


@on_x86_64
def test_pytest_reports_a_lost_syscall_as_a_failure_and_an_optional_one_as_a_skip(tmp_path):
    """Through the suite's conftest: outcome and message in the JUnit XML."""
    table = tmp_path / "x86_64.toml"
    text = (ROOT / "platforms/linux/x86_64.toml").read_text()
    text = text.replace("[syscalls]\n", f"[syscalls]\nsample_lost = {TUXCALL}\n", 1)
    text = text.replace("[syscalls]\n", f"[syscalls]\nsample_optional = {TUXCALL}\n", 1)
    text = text.replace("[optional]\n", '[optional]\nsample_optional = "CONFIG_SAMPLE"\n', 1)
    table.write_text(text)
    junit = tmp_path / "junit.xml"
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0"),
            *(f"--rootdir={ROOT}", f"--platform={table}", f"--junitxml={junit}"),
            "tests/data/enosys/check_enosys.py",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "SYSCALLS_TARGET": "host"},
        timeout=120,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    lost = cases["test_lost"].find("failure")
    assert lost is not None and "sample_lost: ENOSYS, but every Linux kernel has it" in lost.get(
        "message", ""
    )
    in_child = cases["test_lost_in_a_child"].find("failure")
    assert in_child is not None and "every Linux kernel has it" in (in_child.text or "")
    skipped = cases["test_optional"].find("skipped")
    assert skipped is not None
    assert "sample_optional: ENOSYS (CONFIG_SAMPLE is off)" in skipped.get("message", "")


# --- ENOSYS for an argument (BY_ARGUMENT): futex's operations, msgrcv's MSG_COPY


def _provides(*features: str):
    return lambda feature: feature in features


def _rule(*features: str) -> Rule:
    return Rule(X86_64, "host", lambda: "6.1.0", _provides(*features))


def _futex_args(op: str, *flags: str) -> tuple[int, ...]:
    c = X86_64.constants
    return (0, c[op] | sum(c[f] for f in flags), 0, 0, 0, 0)


def test_enosys_from_a_futex_that_is_there_is_the_tests_errno():
    for op in ("FUTEX_WAKE_OP", "FUTEX_WAIT", "FUTEX_LOCK_PI"):
        assert _rule("futex", "futex_pi").judge("futex", _futex_args(op)) is None
    unknown = (0, 0x7F, 0, 0, 0, 0)
    assert _rule("futex", "futex_pi").judge("futex", unknown) is None


def test_enosys_from_a_futex_pi_operation_without_pi_support_skips_naming_it():
    answer = _rule("futex").judge("futex", _futex_args("FUTEX_LOCK_PI2", "FUTEX_PRIVATE_FLAG"))
    assert answer is not None and not answer.lost
    assert "CONFIG_FUTEX_PI is off" in answer.message
    assert _rule("futex").judge("futex", _futex_args("FUTEX_WAKE")) is None


def test_enosys_from_a_kernel_without_futex_skips_naming_config_futex():
    answer = _rule().judge("futex", _futex_args("FUTEX_WAKE"))
    assert answer is not None and answer.message == "futex: ENOSYS (CONFIG_FUTEX is off)"


def test_enosys_from_msgrcv_is_msg_copys_without_checkpoint_restore():
    copy = X86_64.constants["MSG_COPY"] | X86_64.constants["IPC_NOWAIT"]
    answer = _rule("msgrcv").judge("msgrcv", (0, 0, 64, 1, copy))
    assert answer is not None and "MSG_COPY (CONFIG_CHECKPOINT_RESTORE is off" in answer.message
    assert _rule("msgrcv", "msg_copy").judge("msgrcv", (0, 0, 64, 1, copy)) is None
    assert "CONFIG_SYSVIPC is off" in _rule().judge("msgrcv", (0, 0, 64, 1, copy)).message


def test_a_target_that_lacks_a_syscall_is_asked_before_its_arguments():
    rule = Rule(X86_64, "qemu-user", lambda: "6.1.0", _provides("futex"))
    answer = rule.judge("futex", _futex_args("FUTEX_WAKE"))
    assert answer is not None and "qemu-user" in answer.message


@on_x86_64
def test_the_kernel_returns_enosys_of_futexs_arguments_as_an_answer():
    k = Kernel(Platform.load())
    assert k.provides("futex") and k.provides("futex_pi") and k.provides("msgrcv")
    word = k.new("uint32_t *")
    r = k.futex(word, 0x7F | k.FUTEX_PRIVATE_FLAG, 0, None, None, 0)
    assert r.errno == "ENOSYS"
    with pytest.raises(ValueError, match="no probe"):
        k.provides("nothing")


def test_a_futex_operation_a_target_does_not_implement_skips_naming_it():
    rule = Rule(X86_64, "gvisor", lambda: "4.4.0", _provides("futex", "futex_pi"))
    answer = rule.judge("futex", _futex_args("FUTEX_CMP_REQUEUE_PI", "FUTEX_PRIVATE_FLAG"))
    assert answer is not None and not answer.lost
    assert answer.message == "futex: ENOSYS for FUTEX_CMP_REQUEUE_PI (gVisor does not implement it)"
    assert rule.judge("futex", _futex_args("FUTEX_WAKE_OP")) is None


# --- the kernel's own configuration (kconfig.running) decides an optional syscall's ENOSYS


def _configured(**options: str):
    return lambda: (options, "/boot/config-test")


def test_an_optional_syscall_whose_option_the_kernel_was_built_with_is_lost():
    rule = Rule(X86_64, "host", lambda: "6.1.0", config=_configured(CONFIG_USERFAULTFD="y"))
    answer = rule.judge("userfaultfd")
    assert answer is not None and answer.lost
    assert answer.message == (
        "userfaultfd: ENOSYS, but this kernel was built with CONFIG_USERFAULTFD=y "
        "(/boot/config-test)"
    )


@pytest.mark.parametrize("options", [{"CONFIG_USERFAULTFD": "n"}, {}])
def test_an_optional_syscall_whose_option_the_config_leaves_out_skips(options):
    rule = Rule(X86_64, "host", lambda: "6.1.0", config=_configured(**options))
    answer = rule.judge("userfaultfd")
    assert answer is not None and not answer.lost
    assert answer.message == "userfaultfd: ENOSYS (CONFIG_USERFAULTFD is off)"


def test_an_optional_syscall_that_may_lack_despite_its_option_skips_saying_why():
    rule = Rule(X86_64, "host", lambda: "6.1.0", config=_configured(CONFIG_SECRETMEM="y"))
    answer = rule.judge("memfd_secret")
    assert answer is not None and not answer.lost
    assert answer.message.startswith("memfd_secret: ENOSYS (CONFIG_SECRETMEM=y, but secretmem")


def test_a_target_that_lacks_a_syscall_is_asked_before_the_config():
    rule = Rule(X86_64, "gvisor", lambda: "4.4.0", config=_configured(CONFIG_USERFAULTFD="y"))
    answer = rule.judge("userfaultfd")
    assert answer is not None
    assert answer.message == "userfaultfd: ENOSYS (gVisor does not implement it)"


def _deny_with_enosys(k: Kernel, name: str) -> None:
    """A seccomp filter on this process: `name` answers ENOSYS, all else is allowed."""
    ld, jeq, ret = (
        k.BPF_LD | k.BPF_W | k.BPF_ABS,
        k.BPF_JMP | k.BPF_JEQ | k.BPF_K,
        k.BPF_RET | k.BPF_K,
    )
    nr = k.platform.syscalls[k.platform.resolve(name)]
    insns = [
        (ld, 0, 0, 4),  # seccomp_data.arch
        (jeq, 0, 3, k.AUDIT_ARCH_X86_64),
        (ld, 0, 0, 0),  # seccomp_data.nr
        (jeq, 0, 1, nr),
        (ret, 0, 0, k.SECCOMP_RET_ERRNO | k.ENOSYS),
        (ret, 0, 0, k.SECCOMP_RET_ALLOW),
    ]
    filt = k.new("struct sock_filter[]", insns)
    prog = k.new("struct sock_fprog *", [len(insns), filt])
    k.prctl(k.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0).unwrap()
    k.seccomp(k.SECCOMP_SET_MODE_FILTER, 0, prog).unwrap()


@on_x86_64
@pytest.mark.parametrize("name", ["timerfd_create", "futex"])
def test_a_configured_syscall_a_kernel_answers_enosys_for_fails_the_test(name: str) -> None:
    """A real ENOSYS (from a seccomp filter) of a syscall the running kernel's
    configuration has: MissingSyscall, naming the option and the file."""
    k = Kernel(Platform.load())
    option = k.platform.optional[name]
    found = kconfig.running(os.uname().release)
    if found is None or found[0].get(option) not in ("y", "m"):
        pytest.skip(f"this kernel's configuration cannot be read, or has no {option}")

    def run() -> str:
        _deny_with_enosys(k, name)
        args = (0, 0) if name == "timerfd_create" else (k.new("uint32_t *"), k.FUTEX_WAKE, 0)
        try:
            getattr(k, name)(*args)
        except MissingSyscall as e:
            return str(e)
        return "no MissingSyscall"

    expected = f"{name}: ENOSYS, but this kernel was built with {option}={found[0][option]}"
    assert child.run(run, 30).startswith(expected)


def test_i386s_futex_time64_is_judged_by_its_arguments_as_futex_is():
    i386 = Platform.load("linux/i386")
    asked: list[str] = []

    def provides(feature: str) -> bool:
        asked.append(feature)
        return True

    rule = Rule(i386, "host", lambda: "6.1.0", provides)
    assert rule.judge("futex_time64", (0, 0x7F, 0, 0, 0, 0)) is None
    assert asked == ["futex"]


def test_an_optional_syscall_on_a_target_without_a_configuration_says_either_may_be_why():
    answer = Rule(X86_64, "gvisor", lambda: "4.4.0").judge("remap_file_pages")
    assert answer is not None and not answer.lost
    assert answer.message == "remap_file_pages: ENOSYS (CONFIG_MMU is off, or gvisor lacks it)"
