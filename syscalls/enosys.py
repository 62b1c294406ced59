"""What an ENOSYS answer means: a syscall this kernel may lack, or one it has lost.

On Linux, kernel/sys_ni.c lists the syscalls a configuration may compile out; the tables
record them (`[optional]`, with the CONFIG_ option) and the entries no kernel implements
(`[unimplemented]`). Every other syscall of the arch's table exists in every kernel of
that release or later, so ENOSYS from it is a failure: the kernel lost it. An optional
one is a skip that names its option, unless the kernel's own configuration, where it
can be read (syscalls.kconfig.running: $SYSCALLS_KERNEL_CONFIG, /proc/config.gz,
/boot/config-RELEASE), has that option: then it too was lost (but DESPITE_OPTION).
Kernels that are not mainline Linux state here, once each, what they legitimately
lack. Tables that say nothing (the BSDs', tables made before this) keep ENOSYS a skip.

A few Linux syscalls also answer ENOSYS for an argument: an operation they do not know,
or one the configuration left out (BY_ARGUMENT). When a harmless call shows the syscall
is there, their ENOSYS is not an absence: a left-out feature the kernel shows missing
is a skip naming it, and anything else an errno like any other, for the test to judge
(so a kernel that lost one operation of futex fails the tests of it, rather than
skipping them as a kernel built without futex).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from syscalls.abi import Platform
from syscalls.expect import version_tuple
from syscalls.kconfig import NOT_SET

ANY = "*"  # a target on which any syscall may be missing

# Per non-mainline target: syscall -> why it lacks it (ANY: every syscall may be missing).
TARGET_LACKS: dict[str, dict[str, str]] = {
    # Debian's runsc 0.0~20221219: the ENOSYS seen in `syscalls run --target gvisor`
    # over the whole suite (and in TARGETS-NOTES.md). gVisor is a reimplementation:
    # what it has not written answers ENOSYS, optional in Linux or not.
    "gvisor": dict.fromkeys(
        (
            "adjtimex",
            "clock_adjtime",
            "clone3",
            "copy_file_range",
            "fsconfig",
            "fsopen",
            "fspick",
            "futex_waitv",
            "kcmp",
            "landlock_add_rule",
            "landlock_create_ruleset",
            "landlock_restrict_self",
            "mount_setattr",
            "move_mount",
            "open_tree",
            "openat2",
            "pidfd_getfd",
            "pidfd_open",
            "pidfd_send_signal",
            "process_vm_readv",
            "reboot",
            "sched_getattr",
            "sched_setattr",
            "sched_setparam",
            "settimeofday",
            "userfaultfd",
            "ustat",
            "vhangup",
            "vmsplice",
        ),
        "gVisor does not implement it",
    ),
    # arch/x86/um/sys_call_table_{64,32}.c: "Not going to be implemented by UML, since
    # we have no hardware" (sys_iopl, sys_ioperm; on 32-bit sys_vm86old, sys_vm86 too,
    # defined as sys_ni_syscall).
    "uml": {
        **dict.fromkeys(("iopl", "ioperm"), "User-Mode Linux has no I/O ports"),
        **dict.fromkeys(("vm86old", "vm86"), "User-Mode Linux has no vm86 mode"),
    },
    # ci/run-arch's qemu-user mode: qemu translates each syscall for the host kernel,
    # and answers ENOSYS for those it does not translate (ptrace among them).
    "qemu-user": {ANY: "qemu-user does not translate it"},
}


@dataclass(frozen=True)
class Answer:
    """What one ENOSYS means: `lost` (a failure) or not (a skip), and the message."""

    lost: bool
    message: str


def _no(_feature: str) -> bool:
    return False


def _unknown() -> tuple[Mapping[str, str], str] | None:
    return None


# Optional syscalls that may answer ENOSYS even in a kernel built with their option,
# and why (for the others, that ENOSYS is a failure: the kernel lost them).
DESPITE_OPTION = {
    "memfd_secret": "secretmem is off (secretmem.enable=0) or the arch cannot take pages "
    "out of the direct map (mm/secretmem.c)",
    "migrate_pages": "page migration needs CONFIG_MIGRATION too (mm/mempolicy.c)",
    "move_pages": "page migration needs CONFIG_MIGRATION too (mm/migrate.c)",
    "quotactl": "a file system without quota support answers ENOSYS (fs/quota/quota.c)",
    "quotactl_fd": "a file system without quota support answers ENOSYS (fs/quota/quota.c)",
}


@dataclass(frozen=True)
class Rule:
    """How ENOSYS is judged on one kernel: its table, its target, its release."""

    platform: Platform
    target: str = "host"
    # The running kernel's release, asked only when it decides (an in-process kernel
    # answers it with a syscall of its own).
    release: Callable[[], str] = str
    # Whether the kernel has a syscall or a feature of one ("futex_pi", "msg_copy"), by
    # a harmless call of its own (Kernel.provides); asked only for BY_ARGUMENT's.
    provides: Callable[[str], bool] = _no
    # The kernel's configuration and where it was read (syscalls.kconfig.running),
    # asked only for an optional syscall's ENOSYS.
    config: Callable[[], tuple[Mapping[str, str], str] | None] = _unknown

    def judge(self, name: str, args: tuple[Any, ...] = ()) -> Answer | None:
        """The meaning of ENOSYS from `name` (the table's name for the syscall) called
        with `args`; None when it is an errno like any other (BY_ARGUMENT)."""
        p = self.platform
        lacks = TARGET_LACKS.get(self.target, {})
        why = lacks.get(name) or lacks.get(ANY)
        if why:
            return Answer(False, f"{name}: ENOSYS ({why})")
        by_argument = BY_ARGUMENT.get(name) if p.os == "linux" else None
        if by_argument is not None and self.provides(by_argument[0]):
            return by_argument[1](self, args)
        if p.optional is None:
            return Answer(False, f"{name}: ENOSYS (the kernel does not implement it)")
        if name in p.unimplemented:
            return Answer(False, f"{name}: ENOSYS (no {p.os} kernel implements it)")
        if name in p.optional:
            option = p.optional[name]
            if option:
                return self._optional(name, option)
            return Answer(False, f"{name}: ENOSYS (kernel/sys_ni.c lets a configuration omit it)")
        if name not in p.syscalls:
            return Answer(False, f"{name}: ENOSYS (not a syscall of the {p.name} table)")
        older = "" if self.target in TARGET_LACKS else self._older_than_table()
        if older:
            return Answer(
                False,
                f"{name}: ENOSYS (this kernel, {older}, is older than the "
                f"{p.release} table: the syscall may be newer)",
            )
        return Answer(
            True, f"{name}: ENOSYS, but every Linux kernel has it (not in kernel/sys_ni.c)"
        )

    def _optional(self, name: str, option: str) -> Answer:
        """ENOSYS from a syscall a configuration may leave out: a failure where the
        kernel's own configuration has its option (the kernel lost it), else a skip."""
        found = self.config()
        value = found[0].get(option, NOT_SET) if found else NOT_SET
        if found is None and self.target in TARGET_LACKS:  # a reimplementation: no config
            return Answer(False, f"{name}: ENOSYS ({option} is off, or {self.target} lacks it)")
        if found is None or value not in ("y", "m"):
            return Answer(False, f"{name}: ENOSYS ({option} is off)")
        why = DESPITE_OPTION.get(name)
        if why:
            return Answer(False, f"{name}: ENOSYS ({option}={value}, but {why})")
        return Answer(
            True, f"{name}: ENOSYS, but this kernel was built with {option}={value} ({found[1]})"
        )

    def _older_than_table(self) -> str:
        """The running release when it is older than the table's tree (major.minor:
        syscalls arrive in those, never in stable updates), else ""."""
        if not self.platform.release:
            return ""
        release = self.release()
        if release and version_tuple(release)[:2] < version_tuple(self.platform.release)[:2]:
            return release
        return ""


# kernel/futex/syscalls.c do_futex: the operations that need CONFIG_FUTEX_PI.
FUTEX_PI_OPS = (
    "FUTEX_LOCK_PI",
    "FUTEX_LOCK_PI2",
    "FUTEX_UNLOCK_PI",
    "FUTEX_TRYLOCK_PI",
    "FUTEX_WAIT_REQUEUE_PI",
    "FUTEX_CMP_REQUEUE_PI",
)


# Per non-mainline target: the futex operations it does not implement (ENOSYS from a
# futex that is there), as TARGET_LACKS says of whole syscalls. Debian's runsc
# 0.0~20221219 over suites/sync: no requeue-PI pair, no FUTEX_LOCK_PI2.
FUTEX_OPS_LACKING = {
    "gvisor": (
        ("FUTEX_LOCK_PI2", "FUTEX_WAIT_REQUEUE_PI", "FUTEX_CMP_REQUEUE_PI"),
        "gVisor does not implement it",
    ),
}


def _futex(rule: Rule, args: tuple[Any, ...]) -> Answer | None:
    """futex is there: its ENOSYS is about the operation. An operation the target does
    not implement, or a PI operation on a kernel whose PI support is missing too, is a
    skip; an unknown operation, FUTEX_CLOCK_REALTIME on one that takes no deadline, or
    an operation the kernel lost is the test's."""
    c = rule.platform.constants
    op = args[1] if len(args) > 1 and isinstance(args[1], int) else None
    if op is None:
        return None
    cmd = op & ~(c.get("FUTEX_PRIVATE_FLAG", 0) | c.get("FUTEX_CLOCK_REALTIME", 0))
    lacking, why = FUTEX_OPS_LACKING.get(rule.target, ((), ""))
    for name in lacking:
        if cmd == c.get(name):
            return Answer(False, f"futex: ENOSYS for {name} ({why})")
    if cmd in {c.get(name) for name in FUTEX_PI_OPS} and not rule.provides("futex_pi"):
        return Answer(
            False,
            "futex: ENOSYS for a PI operation (CONFIG_FUTEX_PI is off: FUTEX_UNLOCK_PI "
            "answers ENOSYS too)",
        )
    return None


def _msgrcv(rule: Rule, args: tuple[Any, ...]) -> Answer | None:
    """msgrcv is there: its ENOSYS is MSG_COPY's (ipc/msg.c prepare_copy), a skip
    where the kernel has no CONFIG_CHECKPOINT_RESTORE, else the test's."""
    flags = args[4] if len(args) > 4 and isinstance(args[4], int) else 0
    if flags & rule.platform.constants.get("MSG_COPY", 0) and not rule.provides("msg_copy"):
        return Answer(
            False,
            "msgrcv: ENOSYS for MSG_COPY (CONFIG_CHECKPOINT_RESTORE is off: no "
            "/proc/sys/kernel/ns_last_pid)",
        )
    return None


# Syscalls whose ENOSYS can be about an argument (see the module's docstring), by the
# table's name (i386's futex is futex_time64): the syscall Kernel.provides() asks
# about, and the judge of its arguments.
BY_ARGUMENT: dict[str, tuple[str, Callable[[Rule, tuple[Any, ...]], Answer | None]]] = {
    "futex": ("futex", _futex),
    "futex_time64": ("futex", _futex),
    "msgrcv": ("msgrcv", _msgrcv),
}
