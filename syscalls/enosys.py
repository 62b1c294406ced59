"""What an ENOSYS answer means: a syscall this kernel may lack, or one it has lost.

On Linux, kernel/sys_ni.c lists the syscalls a configuration may compile out; the tables
record them (`[optional]`, with the CONFIG_ option) and the entries no kernel implements
(`[unimplemented]`). Every other syscall of the arch's table exists in every kernel of
that release or later, so ENOSYS from it is a failure: the kernel lost it. An optional
one stays a skip that names its option. Kernels that are not mainline Linux state here,
once each, what they legitimately lack. Tables that say nothing (the BSDs', tables made
before this) keep ENOSYS a skip.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from syscalls.abi import Platform
from syscalls.expect import version_tuple

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
            "futex_waitv",
            "kcmp",
            "landlock_add_rule",
            "landlock_create_ruleset",
            "landlock_restrict_self",
            "mount_setattr",
            "open_tree",
            "openat2",
            "pidfd_getfd",
            "pidfd_open",
            "pidfd_send_signal",
            "process_vm_readv",
            "reboot",
            "sched_getattr",
            "settimeofday",
            "userfaultfd",
            "ustat",
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


@dataclass(frozen=True)
class Rule:
    """How ENOSYS is judged on one kernel: its table, its target, its release."""

    platform: Platform
    target: str = "host"
    # The running kernel's release, asked only when it decides (an in-process kernel
    # answers it with a syscall of its own).
    release: Callable[[], str] = str

    def judge(self, name: str) -> Answer:
        """The meaning of ENOSYS from `name` (the table's name for the syscall)."""
        p = self.platform
        lacks = TARGET_LACKS.get(self.target, {})
        why = lacks.get(name) or lacks.get(ANY)
        if why:
            return Answer(False, f"{name}: ENOSYS ({why})")
        if p.optional is None:
            return Answer(False, f"{name}: ENOSYS (the kernel does not implement it)")
        if name in p.unimplemented:
            return Answer(False, f"{name}: ENOSYS (no {p.os} kernel implements it)")
        if name in p.optional:
            option = p.optional[name]
            if option:
                return Answer(False, f"{name}: ENOSYS ({option} is off)")
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

    def _older_than_table(self) -> str:
        """The running release when it is older than the table's tree (major.minor:
        syscalls arrive in those, never in stable updates), else ""."""
        if not self.platform.release:
            return ""
        release = self.release()
        if release and version_tuple(release)[:2] < version_tuple(self.platform.release)[:2]:
            return release
        return ""
