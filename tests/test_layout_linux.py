"""The linux/x86_64 table against the host's real C headers (glibc and linux-libc-dev).

Every syscall number, errno, constant and struct field the table declares is compared
with what a C program compiled against the system headers prints.
"""

from __future__ import annotations

import functools
import shutil

import pytest

from syscalls.abi import Platform, host_os_arch
from syscalls.layout import Report, check
from syscalls.tables import linux

pytestmark = [
    pytest.mark.skipif(
        host_os_arch() != ("linux", "x86_64"),
        reason="checks the linux/x86_64 table against this host's headers",
    ),
    pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler (ci/setup: gcc)"),
]

LIBC = (
    "errno.h",
    "fcntl.h",
    "unistd.h",
    "signal.h",
    "time.h",
    "poll.h",
    "sched.h",
    "limits.h",
    "dirent.h",
    "sys/stat.h",
    "sys/statfs.h",
    "sys/mman.h",
    "sys/epoll.h",
    "sys/wait.h",
    "sys/ptrace.h",
    "sys/user.h",
    "sys/prctl.h",
    "sys/resource.h",
    "sys/time.h",
    "sys/times.h",
    "sys/uio.h",
    "sys/eventfd.h",
    "sys/timerfd.h",
    "sys/signalfd.h",
    "sys/inotify.h",
    "sys/socket.h",
    "netinet/in.h",
    "netinet/tcp.h",
    "sys/un.h",
    "sys/random.h",
    "sys/xattr.h",
    "sys/ipc.h",
    "sys/sem.h",
    "sys/shm.h",
    "sys/msg.h",
    "sys/mount.h",
    "sys/file.h",
    "sys/sysinfo.h",
    "sys/utsname.h",
    "sys/select.h",
    "mqueue.h",
    "sys/ioctl.h",
    "sys/timex.h",
    "sys/fanotify.h",
    "sys/quota.h",
    "sys/swap.h",
    "utime.h",
)
# The uapi headers the generator reads, with the arch's own syscall and stat headers.
UAPI = (
    "asm/unistd_64.h",
    *(h for h in linux.HEADERS if h != "asm/unistd.h"),
    "linux/time_types.h",
    "linux/socket.h",
    "linux/filter.h",
    "asm/stat.h",
    "asm/statfs.h",
)
# Each set must compile on its own: libc's headers and the kernel's clash.
SETS = {
    "libc": LIBC,
    "uapi": UAPI,
    "uapi-stat": ("linux/stat.h",),
    "uapi-sched": ("linux/sched.h",),
}
DEFINES = ("_GNU_SOURCE",)
# The kernel's names for structs that C headers spell differently.
C_NAMES = {"struct linux_dirent64": "struct dirent64"}
# Where the table (the kernel's view) and the C library legitimately disagree.
KNOWN_DIFFERENCES = {
    "SIGRTMIN": "glibc reserves the first real-time signals for its own threads",
    "O_LARGEFILE": "glibc defines it as 0 where off_t is always 64-bit",
    "SIGSTKSZ": "glibc >= 2.34 sizes it at run time (sysconf), not the kernel's minimum",
    "MINSIGSTKSZ": "glibc >= 2.34 sizes it at run time (sysconf), not the kernel's minimum",
}


@functools.cache
def report() -> Report:
    return check(Platform.load("linux/x86_64"), SETS, DEFINES, C_NAMES, KNOWN_DIFFERENCES)


def test_table_agrees_with_c_headers() -> None:
    assert report().mismatches == []


def test_every_syscall_number_is_checked() -> None:
    unseen = [k for k in report().unseen if k.startswith("syscall ")]
    assert unseen == []


def test_every_errno_is_checked() -> None:
    unseen = [k for k in report().unseen if k.startswith("errno ")]
    assert unseen == []


def test_every_struct_field_is_checked() -> None:
    unseen = [
        k for k in report().unseen if k.startswith(("sizeof ", "offsetof ")) and ".__" not in k
    ]
    assert unseen == []


def test_most_constants_are_checked() -> None:
    constants = [k for k in report().checked if k.startswith("constant ")]
    unseen = [k for k in report().unseen if k.startswith("constant ")]
    # Some table constants exist only inside the kernel or in headers neither set uses.
    assert len(constants) >= 4 * len(unseen), f"unchecked: {sorted(unseen)[:50]}"


def test_a_wrong_entry_fails_the_check() -> None:
    p = Platform.load("linux/x86_64")
    p.syscalls["openat"] += 1
    p.constants["O_CREAT"] = 0o1000
    p.errno["ENOENT"] = 3
    p.cdef = p.cdef.replace("long st_size;", "long st_blocks_x; long st_size;", 1)
    p.cdef = p.cdef.replace("long st_blocks;", "", 1).replace("st_blocks_x", "st_blocks")
    bad = check(p, {"libc": LIBC, "uapi": UAPI}, DEFINES, C_NAMES, KNOWN_DIFFERENCES)
    text = "\n".join(bad.mismatches)
    for key in (
        "syscall openat",
        "constant O_CREAT",
        "errno ENOENT",
        "offsetof struct stat.st_size",
    ):
        assert key in text


def test_report_counts_are_substantial() -> None:
    r = report()
    assert sum(k.startswith("syscall ") for k in r.checked) >= 300
    assert sum(k.startswith("offsetof ") for k in r.checked) >= 200


def test_bit_fields_are_checked_through_their_struct_size() -> None:
    """C has no offsetof for a bit field: perf_event_attr's and user_desc's are not
    probed, and their structs' sizes and other fields are."""
    r = report()
    for struct, field in (("perf_event_attr", "sample_type"), ("user_desc", "limit")):
        assert f"sizeof struct {struct}" in r.checked
        assert f"offsetof struct {struct}.{field}" in r.checked
    assert not any(k.endswith((".disabled", ".seg_32bit")) for k in (*r.checked, *r.unseen))
