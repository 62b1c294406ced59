"""i386's 64-bit offsets and times: _llseek, the *_time64 aliases, nanosleep's 32-bit
timespec, socketcall's SYS_* numbers.

The bindings are driven here with a stand-in for libc's syscall(), so what the kernel
would be handed (numbers, registers, what a pointer holds) is checked on any host; the
suites check the same calls against a real i386 ABI under ci/run-arch i386. The layouts
are checked with `cc -m32` against the uapi headers, where cc can target i386.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from syscalls import abi_i386
from syscalls.abi import Platform
from syscalls.kernel import Kernel

FAR = 5 << 30 | 3  # past 4 GiB
TIME64 = {  # arch/x86/entry/syscalls/syscall_32.tbl, Linux 6.1: 403-423 (415 unused)
    "clock_gettime": ("clock_gettime64", 403),
    "clock_settime": ("clock_settime64", 404),
    "clock_adjtime": ("clock_adjtime64", 405),
    "clock_getres": ("clock_getres_time64", 406),
    "clock_nanosleep": ("clock_nanosleep_time64", 407),
    "timer_gettime": ("timer_gettime64", 408),
    "timer_settime": ("timer_settime64", 409),
    "timerfd_gettime": ("timerfd_gettime64", 410),
    "timerfd_settime": ("timerfd_settime64", 411),
    "utimensat": ("utimensat_time64", 412),
    "pselect6": ("pselect6_time64", 413),
    "ppoll": ("ppoll_time64", 414),
    "io_pgetevents": ("io_pgetevents_time64", 416),
    "recvmmsg": ("recvmmsg_time64", 417),
    "mq_timedsend": ("mq_timedsend_time64", 418),
    "mq_timedreceive": ("mq_timedreceive_time64", 419),
    "semtimedop": ("semtimedop_time64", 420),
    "rt_sigtimedwait": ("rt_sigtimedwait_time64", 421),
    "futex": ("futex_time64", 422),
    "sched_rr_get_interval": ("sched_rr_get_interval_time64", 423),
}


@pytest.fixture(scope="module")
def i386() -> Platform:
    return Platform.load("linux/i386")


class FakeLibc:
    """syscall(number, *regs): records the call; `answer` plays the kernel."""

    def __init__(self, k: Kernel, answer: Callable[[int, tuple], int]) -> None:
        self.k, self.answer, self.calls = k, answer, []

    def syscall(self, number: Any, *regs: Any) -> int:
        self.calls.append((int(number), regs))
        return self.answer(int(number), regs)


def _kernel(answer: Callable[[int, tuple], int]) -> tuple[Kernel, FakeLibc]:
    k = Kernel(Platform.load("linux/i386"))  # its cdef parses on any host
    k.libc = FakeLibc(k, answer)
    return k, k.libc


# --- tables: the time calls go to their 64-bit variants --------------------------------


def test_every_time64_call_of_the_table_is_what_its_portable_name_calls(i386) -> None:
    in_table = {n: v for n, v in i386.syscalls.items() if 403 <= v <= 423}
    assert {real: nr for real, nr in TIME64.values()} == in_table
    for portable, (real, nr) in TIME64.items():
        assert i386.resolve(portable) == real and i386.syscalls[real] == nr
    # The 32-bit calls keep the portable names (semtimedop's is ipc(SEMTIMEDOP) instead).
    assert {n for n in TIME64 if n not in i386.syscalls} == {"semtimedop"}


def test_clock_gettime32_reaches_the_32_bit_call_and_exists_nowhere_else(i386) -> None:
    assert i386.syscalls[i386.resolve("clock_gettime32")] == 265  # sys_clock_gettime32
    for arch in ("x86_64", "aarch64", "riscv64"):
        assert not Platform.load(f"linux/{arch}").has("clock_gettime32")


def test_64_bit_arches_call_the_time_calls_by_their_own_names() -> None:
    p = Platform.load("linux/x86_64")
    assert all(p.resolve(name) == name for name in TIME64)


def test_socketcall_numbers_come_from_uapi_net_h(i386) -> None:
    assert i386.syscalls["socketcall"] == 102
    assert (i386["SYS_SOCKET"], i386["SYS_SOCKETPAIR"], i386["SYS_SENDMMSG"]) == (1, 8, 20)


# --- what the kernel is handed ---------------------------------------------------------


def test_lseek_is_llseek_and_the_offset_comes_back_through_the_loff_t() -> None:
    pos = 0

    def kernel(number: int, regs: tuple) -> int:
        nonlocal pos
        high, low, result, whence = int(regs[1]), int(regs[2]), regs[3], int(regs[4])
        offset = high << 32 | low
        offset -= (offset >> 63) << 64  # loff_t is signed
        pos = offset if whence == k.SEEK_SET else pos + offset
        result[0] = pos
        return 0

    k, libc = _kernel(kernel)
    r = k.lseek(3, FAR, k.SEEK_SET)
    assert (r.ok, r.value) == (True, FAR)
    assert libc.calls[-1][0] == 140  # _llseek
    assert [int(x) for x in libc.calls[-1][1][:3]] == [3, FAR >> 32, FAR & 0xFFFFFFFF]
    assert k.lseek(3, -2, k.SEEK_CUR).value == FAR - 2  # negative: both halves all ones


def test_lseek_failure_keeps_the_kernels_errno() -> None:
    def kernel(number: int, regs: tuple) -> int:
        k.ffi.errno = k.EINVAL
        return -1

    k, _ = _kernel(kernel)
    r = k.lseek(3, -(FAR), k.SEEK_SET)
    assert (r.value, r.errno) == (-1, "EINVAL")


def test_time_calls_are_their_time64_numbers_with_64_bit_timespecs() -> None:
    k, libc = _kernel(lambda number, regs: 0)
    ts = k.new("struct timespec *", (FAR, 999_999_999))
    k.clock_gettime(k.CLOCK_REALTIME, ts)
    k.futex(k.new("uint32_t *"), 0, 0, ts, None, 0)
    k.semtimedop(1, None, 1, ts)
    k.clock_gettime32(k.CLOCK_REALTIME, k.new("struct old_timespec32 *"))
    assert [number for number, _ in libc.calls] == [403, 422, 420, 265]
    assert k.ffi.sizeof("struct timespec") == 16
    assert k.ffi.offsetof("struct timespec", "tv_nsec") == 8
    assert k.ffi.sizeof("struct itimerspec") == 32 and k.ffi.sizeof("struct old_timespec32") == 8
    assert ts.tv_sec == FAR  # seconds past 2038 fit


def test_nanosleep_hands_the_32_bit_call_an_old_timespec32_and_copies_the_time_left() -> None:
    seen = []

    def kernel(number: int, regs: tuple) -> int:
        req, rem = (k.ffi.cast("int32_t *", r) for r in regs)
        seen.append((number, req[0], req[1]))
        rem[0], rem[1] = 1, 250
        k.ffi.errno = k.EINTR
        return -1

    k, _ = _kernel(kernel)
    rem = k.new("struct timespec *")
    r = k.nanosleep(k.new("struct timespec *", (3, 500)), rem)
    assert seen == [(162, 3, 500)]  # sys_nanosleep_time32
    assert r.errno == "EINTR" and (rem.tv_sec, rem.tv_nsec) == (1, 250)


def test_nanosleep_leaves_rem_alone_unless_the_kernel_wrote_it() -> None:
    k, _ = _kernel(lambda number, regs: 0)
    rem = k.new("struct timespec *", (9, 9))
    assert k.nanosleep(k.new("struct timespec *", (0, 1)), rem).ok
    assert (rem.tv_sec, rem.tv_nsec) == (9, 9)
    assert k.nanosleep(None, None).ok  # NULL passes through (the kernel answers EFAULT)


def test_nanosleep_past_what_32_bits_hold_is_refused_not_truncated() -> None:
    k, libc = _kernel(lambda number, regs: 0)
    with pytest.raises(ValueError, match="clock_nanosleep"):
        k.nanosleep(k.new("struct timespec *", (1 << 31, 0)), None)
    assert libc.calls == []


@pytest.mark.parametrize("call", ["mmap", "mremap"])
def test_addresses_above_2_gib_come_back_unsigned(call: str) -> None:
    high = 0xF7F00000
    k, libc = _kernel(lambda number, regs: high - (1 << 32))  # as libc's 32-bit long has it
    args = (0, 4096, 3, 0x22, -1, 0) if call == "mmap" else (0x1000, 4096, 8192, 1, 0)
    assert getattr(k, call)(*args).unwrap() == high
    assert libc.calls[-1][0] == (192 if call == "mmap" else 163)  # mmap2, mremap


def test_a_failed_mmap_stays_minus_one_with_its_errno() -> None:
    def kernel(number: int, regs: tuple) -> int:
        k.ffi.errno = k.ENOMEM
        return -1

    k, _ = _kernel(kernel)
    r = k.mmap(0, 4096, 3, 0x22, -1, 0)
    assert (r.value, r.errno) == (-1, "ENOMEM")


def test_adapters_without_after_still_return_two_items() -> None:
    assert abi_i386.adapt("nanosleep", (None, None)) == ("nanosleep", (None, None))
    assert len(abi_i386.adapt("ftruncate", (3, 1))) == 2


def test_adjtimex_is_clock_adjtime64_on_the_realtime_clock_with_the_64_bit_timex() -> None:
    k, libc = _kernel(lambda number, regs: 0)
    tx = k.new("struct timex *")
    assert k.adjtimex(tx).ok
    number, regs = libc.calls[-1]
    assert number == 405 and int(regs[0]) == k.CLOCK_REALTIME  # clock_adjtime64
    assert k.ffi.sizeof("struct timex") == 208 and k.ffi.offsetof("struct timex", "tai") == 160


def test_io_getevents_hands_i386s_own_call_an_old_timespec32() -> None:
    seen = []

    def kernel(number: int, regs: tuple) -> int:
        ts = k.ffi.cast("int32_t *", regs[4])
        seen.append((number, ts[0], ts[1]))
        return 0

    k, _ = _kernel(kernel)
    assert k.io_getevents(1, 0, 1, None, k.new("struct timespec *", (2, 700))).ok
    assert seen == [(247, 2, 700)]  # sys_io_getevents_time32


def test_fanotify_mark_splits_its_64_bit_mask_low_half_first() -> None:
    k, libc = _kernel(lambda number, regs: 0)
    k.fanotify_mark(3, 1, 1 << 32 | 0x20, -100, b"/")
    number, regs = libc.calls[-1]
    assert number == 339 and [int(r) for r in regs[:5]] == [3, 1, 0x20, 1, -100]


# --- layouts against the uapi headers, compiled for i386 --------------------------------


def _cc_m32(tmp_path: Path, source: str) -> subprocess.CompletedProcess:
    if shutil.which("cc") is None:
        pytest.skip("needs cc (ci/setup: gcc)")
    multiarch = subprocess.run(["cc", "-print-multiarch"], capture_output=True, text=True)
    (tmp_path / "check.c").write_text(source)
    proc = subprocess.run(
        [
            "cc",
            "-m32",
            "-fsyntax-only",
            "-I",
            f"/usr/include/{multiarch.stdout.strip() or 'x86_64-linux-gnu'}",
            str(tmp_path / "check.c"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if "unrecognized command-line option" in proc.stderr or "No such file" in proc.stderr:
        pytest.skip(f"this cc cannot check i386 uapi layouts: {proc.stderr.strip()[:200]}")
    return proc


def _static_asserts(pairs: list[tuple[str, str, tuple[str, ...]]]) -> str:
    """C that fails to compile unless each (ours, theirs, fields) agree in size and in
    every field's offset."""
    return "".join(
        f'_Static_assert(sizeof({a}) == sizeof({b}), "{a}");\n'
        + "".join(
            f"_Static_assert(__builtin_offsetof({a}, {f}) == __builtin_offsetof({b}, {f}),"
            f' "{a}.{f}");\n'
            for f in fields
        )
        for a, b, fields in pairs
    )


def _ours(i386: Platform, struct: str, renamed: str | None = None) -> str:
    """The i386 cdef's declaration of `struct`, optionally under another name."""
    start = i386.cdef.index(f"{struct} {{")
    text = i386.cdef[start : i386.cdef.index("};", start) + 2]
    return text.replace(struct, renamed) if renamed else text


def _compiles_for_i386(tmp_path: Path, includes: str, ours: str, checks: str) -> None:
    source = (
        "typedef long long int64_t;\ntypedef int int32_t;\n"
        + includes
        + '_Static_assert(sizeof(long) == 4, "-m32");\n'
        + ours
        + "\n"
        + checks
    )
    proc = _cc_m32(tmp_path, source)
    assert proc.returncode == 0, proc.stderr


def test_i386_time_layouts_match_the_uapi_headers(i386, tmp_path: Path) -> None:
    """timespec = __kernel_timespec, itimerspec = __kernel_itimerspec, old_timespec32 =
    linux/time.h's timespec of 32-bit longs (what i386's *_time32 entries read)."""
    ours = (
        _ours(i386, "struct timespec", "struct ours_ts")
        + _ours(i386, "struct old_timespec32")
        + _ours(i386, "struct itimerspec", "struct ours_its").replace(
            "struct timespec", "struct ours_ts"
        )
    )
    pairs = [
        ("struct ours_ts", "struct __kernel_timespec", ("tv_sec", "tv_nsec")),
        ("struct old_timespec32", "struct timespec", ("tv_sec", "tv_nsec")),
        ("struct ours_its", "struct __kernel_itimerspec", ("it_interval", "it_value")),
    ]
    includes = "#include <linux/time.h>\n#include <linux/time_types.h>\n"
    _compiles_for_i386(tmp_path, includes, ours, _static_asserts(pairs))


def test_i386_timex_is_the_kernels_64_bit_timex(i386, tmp_path: Path) -> None:
    """struct timex (i386.h) = linux/timex.h's struct __kernel_timex, what
    clock_adjtime64 reads."""
    fields = ("modes", "offset", "freq", "status", "constant", "time", "tick", "shift", "tai")
    checks = _static_asserts([("struct o", "struct __kernel_timex", fields)])
    ours = _ours(i386, "struct timex", "struct o")
    _compiles_for_i386(tmp_path, "#include <linux/timex.h>\n", ours, checks)
