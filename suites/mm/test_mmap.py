"""mmap(2): anonymous and file mappings, sharing across fork, placement, and refusals.

Faults (SIGSEGV, SIGBUS) happen in a child: in_child reports "child killed by SIGSEGV"
as ChildFailed, which is the kernel's answer the test asserts. Linux-only flags
(MAP_FIXED_NOREPLACE 4.17, MAP_SHARED_VALIDATE 4.15) are marked.
"""

import faulthandler
import os
from pathlib import Path

import pytest

from syscalls import forking, sysctl
from syscalls.child import ChildFailed
from syscalls.kernel import Kernel


def _file(kernel: Kernel, fds: list[int], path: Path, data: bytes, flags: int) -> int:
    path.write_bytes(data)
    fd = kernel.openat(kernel.AT_FDCWD, path, flags).unwrap()
    fds.append(fd)
    return fd


@pytest.mark.smoke
def test_mmap_anonymous_private_is_zeroed_aligned_and_writable(
    kernel: Kernel, maps, mem, page: int
) -> None:
    addr = maps.anon(2 * page)
    assert addr % page == 0
    view = mem(addr, 2 * page)
    assert view[:] == b"\0" * (2 * page)
    view[page : page + 4] = b"abcd"
    assert view[page : page + 4] == b"abcd"


@pytest.mark.smoke
def test_mmap_file_private_shows_file_contents(kernel: Kernel, tmp: Path, fds, maps, mem) -> None:
    fd = _file(kernel, fds, tmp / "f", b"file contents", kernel.O_RDONLY)
    addr = maps.file(fd, 13, kernel.MAP_PRIVATE, kernel.PROT_READ)
    assert mem(addr, 13)[:] == b"file contents"


@pytest.mark.smoke
def test_mmap_file_shared_writes_reach_the_file(kernel: Kernel, tmp: Path, fds, maps, mem) -> None:
    fd = _file(kernel, fds, tmp / "f", b"aaaa", kernel.O_RDWR)
    addr = maps.file(fd, 4, kernel.MAP_SHARED)
    mem(addr, 4)[1:3] = b"XY"
    buf = kernel.buf(4)
    kernel.pread64(fd, buf, 4, 0).unwrap()
    assert kernel.bytes(buf, 4) == b"aXYa"


def test_mmap_file_private_writes_do_not_reach_the_file(
    kernel: Kernel, tmp: Path, fds, maps, mem
) -> None:
    fd = _file(kernel, fds, tmp / "f", b"aaaa", kernel.O_RDWR)
    addr = maps.file(fd, 4, kernel.MAP_PRIVATE)
    mem(addr, 4)[0:2] = b"ZZ"
    buf = kernel.buf(4)
    kernel.pread64(fd, buf, 4, 0).unwrap()
    assert kernel.bytes(buf, 4) == b"aaaa"


def test_mmap_file_shared_sees_later_writes_to_the_file(
    kernel: Kernel, tmp: Path, fds, maps, mem
) -> None:
    fd = _file(kernel, fds, tmp / "f", b"aaaa", kernel.O_RDWR)
    addr = maps.file(fd, 4, kernel.MAP_SHARED, kernel.PROT_READ)
    kernel.pwrite64(fd, b"W", 1, 3).unwrap()
    assert mem(addr, 4)[:] == b"aaaW"


def _write_in_forked_child(kernel: Kernel, view, data: bytes) -> bytes:
    """Raw-fork a child that writes `data` into the view; what the parent then sees."""

    def body() -> int:
        view[0 : len(data)] = data
        return 0

    assert forking.exit_code(kernel, forking.fork(kernel, body)) == 0
    return bytes(view[0 : len(data)])


def test_mmap_shared_anonymous_writes_are_visible_across_fork(
    kernel: Kernel, maps, mem, in_child, page: int
) -> None:
    view = mem(maps.anon(page, kernel.MAP_SHARED), page)
    assert in_child(lambda: _write_in_forked_child(kernel, view, b"child")) == b"child"


@pytest.mark.smoke
def test_mmap_private_anonymous_is_copied_on_write_across_fork(
    kernel: Kernel, maps, mem, in_child, page: int
) -> None:
    view = mem(maps.anon(page), page)
    view[0:5] = b"paren"
    assert in_child(lambda: _write_in_forked_child(kernel, view, b"child")) == b"paren"


@pytest.mark.smoke
def test_mmap_fixed_replaces_the_mapping_at_that_address(
    kernel: Kernel, maps, mem, page: int
) -> None:
    addr = maps.anon(2 * page)
    mem(addr, 1)[0] = b"x"
    flags = kernel.MAP_PRIVATE | kernel.MAP_ANONYMOUS | kernel.MAP_FIXED
    prot = kernel.PROT_READ | kernel.PROT_WRITE
    assert kernel.mmap(addr, page, prot, flags, -1, 0).unwrap() == addr
    assert mem(addr, 1)[0] == b"\0"


def test_mmap_fixed_at_unaligned_address_is_einval(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(2 * page)
    flags = kernel.MAP_PRIVATE | kernel.MAP_ANONYMOUS | kernel.MAP_FIXED
    assert kernel.mmap(addr + 1, page, kernel.PROT_READ, flags, -1, 0).errno == "EINVAL"


@pytest.mark.os("linux")
@pytest.mark.min_kernel("4.17")
def test_mmap_fixed_noreplace_over_a_mapping_is_eexist(kernel: Kernel, maps, page: int) -> None:
    addr = maps.anon(page)
    flags = kernel.MAP_PRIVATE | kernel.MAP_ANONYMOUS | kernel.MAP_FIXED_NOREPLACE
    assert kernel.mmap(addr, page, kernel.PROT_READ, flags, -1, 0).errno == "EEXIST"


@pytest.mark.smoke
def test_mmap_zero_length_is_einval(kernel: Kernel) -> None:
    flags = kernel.MAP_PRIVATE | kernel.MAP_ANONYMOUS
    assert kernel.mmap(0, 0, kernel.PROT_READ, flags, -1, 0).errno == "EINVAL"


def test_mmap_unaligned_offset_is_einval(kernel: Kernel, tmp: Path, fds, page: int) -> None:
    fd = _file(kernel, fds, tmp / "f", b"x" * 2 * page, kernel.O_RDONLY)
    r = kernel.mmap(0, page, kernel.PROT_READ, kernel.MAP_PRIVATE, fd, 100)
    assert r.errno == "EINVAL"


@pytest.mark.smoke
def test_mmap_without_shared_or_private_is_einval(kernel: Kernel, page: int) -> None:
    assert kernel.mmap(0, page, kernel.PROT_READ, kernel.MAP_ANONYMOUS, -1, 0).errno == "EINVAL"


@pytest.mark.smoke
def test_mmap_shared_writable_on_read_only_fd_is_eacces(
    kernel: Kernel, tmp: Path, fds, page: int
) -> None:
    fd = _file(kernel, fds, tmp / "f", b"x" * page, kernel.O_RDONLY)
    prot = kernel.PROT_READ | kernel.PROT_WRITE
    assert kernel.mmap(0, page, prot, kernel.MAP_SHARED, fd, 0).errno == "EACCES"


def test_mmap_private_writable_on_read_only_fd_is_allowed(
    kernel: Kernel, tmp: Path, fds, maps, page: int
) -> None:
    fd = _file(kernel, fds, tmp / "f", b"x" * page, kernel.O_RDONLY)
    maps.file(fd, page, kernel.MAP_PRIVATE)


def test_mmap_write_only_fd_is_eacces(kernel: Kernel, tmp: Path, fds, page: int) -> None:
    fd = _file(kernel, fds, tmp / "f", b"x" * page, kernel.O_WRONLY)
    assert kernel.mmap(0, page, kernel.PROT_WRITE, kernel.MAP_SHARED, fd, 0).errno == "EACCES"


@pytest.mark.smoke
def test_mmap_closed_fd_is_ebadf(kernel: Kernel, tmp: Path, fds, page: int) -> None:
    fd = _file(kernel, fds, tmp / "f", b"x", kernel.O_RDONLY)
    fds.remove(fd)
    kernel.close(fd).unwrap()
    assert kernel.mmap(0, page, kernel.PROT_READ, kernel.MAP_PRIVATE, fd, 0).errno == "EBADF"


@pytest.mark.os("linux")
def test_mmap_directory_is_enodev(kernel: Kernel, tmp: Path, fds, page: int) -> None:
    fd = kernel.openat(kernel.AT_FDCWD, tmp, kernel.O_RDONLY | kernel.O_DIRECTORY).unwrap()
    fds.append(fd)
    assert kernel.mmap(0, page, kernel.PROT_READ, kernel.MAP_PRIVATE, fd, 0).errno == "ENODEV"


@pytest.mark.os("linux")
@pytest.mark.min_kernel("4.15")
def test_mmap_shared_validate_with_unknown_flag_is_eopnotsupp(
    kernel: Kernel, tmp: Path, fds, page: int
) -> None:
    fd = _file(kernel, fds, tmp / "f", b"x" * page, kernel.O_RDWR)
    flags = kernel.MAP_SHARED_VALIDATE | (1 << 25)  # a bit no MAP_ flag uses
    assert kernel.mmap(0, page, kernel.PROT_READ, flags, fd, 0).errno == "EOPNOTSUPP"


def test_mmap_access_past_end_of_file_is_sigbus(
    kernel: Kernel, tmp: Path, fds, maps, mem, in_child, page: int
) -> None:
    fd = _file(kernel, fds, tmp / "f", b"x", kernel.O_RDONLY)
    addr = maps.file(fd, 2 * page, kernel.MAP_PRIVATE, kernel.PROT_READ)
    view = mem(addr, 2 * page)
    assert view[0] == b"x"  # the page holding the file's last byte is readable

    def touch_next_page() -> None:
        faulthandler.disable()
        view[page]

    with pytest.raises(ChildFailed, match="SIGBUS"):
        in_child(touch_next_page)


@pytest.mark.smoke
def test_mmap_prot_none_read_is_sigsegv(kernel: Kernel, maps, mem, in_child, page: int) -> None:
    view = mem(maps.anon(page, prot=kernel.PROT_NONE), page)

    def read() -> None:
        faulthandler.disable()
        view[0]

    with pytest.raises(ChildFailed, match="SIGSEGV"):
        in_child(read)


# --- /dev/zero (gVisor mmap.cc MapDevZero*): a private mapping is anonymous memory; a
# shared one is a fresh shmem object per mmap call (drivers/char/mem.c mmap_zero).


def _dev_zero(kernel: Kernel, fds: list[int]) -> int:
    fd = kernel.openat(kernel.AT_FDCWD, b"/dev/zero", kernel.O_RDWR).unwrap()
    fds.append(fd)
    return fd


@pytest.mark.os("linux")
@pytest.mark.parametrize("share", ["MAP_PRIVATE", "MAP_SHARED"])
@pytest.mark.parametrize("pages", [1, 1.5, 3])
def test_mmap_dev_zero_reads_zeros_and_takes_writes(
    kernel: Kernel, fds, maps, mem, page: int, share: str, pages: float
) -> None:
    length = int(pages * page)
    addr = maps.file(_dev_zero(kernel, fds), length, getattr(kernel, share))
    view = mem(addr, length)
    assert view[:] == b"\0" * length
    view[length - 3 :] = b"end"
    assert view[length - 3 :] == b"end"


@pytest.mark.os("linux")
@pytest.mark.parametrize(
    ("share", "parent_sees"), [("MAP_PRIVATE", b"paren"), ("MAP_SHARED", b"child")]
)
def test_mmap_dev_zero_across_fork(
    kernel: Kernel, fds, maps, mem, in_child, page: int, share: str, parent_sees: bytes
) -> None:
    view = mem(maps.file(_dev_zero(kernel, fds), page, getattr(kernel, share)), page)
    view[0:5] = b"paren"
    assert in_child(lambda: _write_in_forked_child(kernel, view, b"child")) == parent_sees


@pytest.mark.os("linux")
def test_mmap_dev_zero_shared_mappings_of_one_fd_are_independent(
    kernel: Kernel, fds, maps, mem, page: int
) -> None:
    fd = _dev_zero(kernel, fds)
    a = mem(maps.file(fd, page, kernel.MAP_SHARED), page)
    b = mem(maps.file(fd, page, kernel.MAP_SHARED), page)
    a[0:4] = b"\xff" * 4
    assert b[0:4] == b"\0" * 4


# --- what /proc/self/maps reports: r/w/x from the protection asked for, p or s from the
# sharing (fs/proc/task_mmu.c show_map_vma), whatever the MMU itself can express.
PROTS = [
    "PROT_NONE",
    "PROT_READ",
    "PROT_WRITE",
    "PROT_EXEC",
    "PROT_READ|PROT_WRITE",
    "PROT_READ|PROT_EXEC",
    "PROT_WRITE|PROT_EXEC",
    "PROT_READ|PROT_WRITE|PROT_EXEC",
]


def _perms(spec: str, share: str) -> str:
    flags = "".join(
        c if f"PROT_{n}" in spec else "-"
        for c, n in zip("rwx", ("READ", "WRITE", "EXEC"), strict=True)
    )
    return flags + ("s" if share == "MAP_SHARED" else "p")


@pytest.mark.os("linux")
@pytest.mark.parametrize("share", ["MAP_PRIVATE", "MAP_SHARED"])
@pytest.mark.parametrize("prot", PROTS)
def test_mmap_permissions_as_proc_maps_shows_them(
    kernel: Kernel, maps, vma, bits, page: int, prot: str, share: str, observe
) -> None:
    addr = maps.anon(page, getattr(kernel, share), bits(prot))
    v = vma(addr)
    observe("perms", v.perms)
    assert (v.start, v.perms) == (addr, _perms(prot, share))


@pytest.mark.os("linux")
@pytest.mark.parametrize(
    ("share", "prot", "perms"),
    [
        ("MAP_SHARED", "PROT_READ|PROT_WRITE", "rw-s"),
        ("MAP_PRIVATE", "PROT_READ|PROT_EXEC", "r-xp"),
    ],
)
def test_mmap_file_mapping_in_proc_maps_names_the_file(
    kernel: Kernel, tmp: Path, fds, maps, vma, bits, page: int, share: str, prot: str, perms: str
) -> None:
    fd = _file(kernel, fds, tmp / "f", b"x" * page, kernel.O_RDWR)
    addr = maps.file(fd, page, getattr(kernel, share), bits(prot))
    v = vma(addr)
    assert (v.perms, v.name) == (perms, str(tmp / "f"))


@pytest.mark.os("linux")
def test_mprotect_shows_in_proc_maps(kernel: Kernel, maps, vma, page: int) -> None:
    addr = maps.anon(2 * page)
    kernel.mprotect(addr + page, page, kernel.PROT_READ).unwrap()
    assert [vma(addr).perms, vma(addr + page).perms] == ["rw-p", "r--p"]
    assert vma(addr).end == addr + page  # the mapping was split in two


@pytest.mark.os("linux")
def test_mmap_shared_dev_zero_in_proc_maps(kernel: Kernel, fds, maps, vma, page: int) -> None:
    addr = maps.file(_dev_zero(kernel, fds), page, kernel.MAP_SHARED)
    v = vma(addr)
    assert v.perms == "rw-s"
    assert v.name.startswith("/dev/zero")  # the shmem object behind it, "(deleted)"


# --- PROT_EXEC: machine code that returns 42, per arch (mov eax/w0/a0, 42; ret). The
# same bytes serve i386 and x86_64. Written while writable, then made executable: the
# permission change is also what makes the instruction cache see the new code (arm64).
RETURN_42 = {
    "x86_64": b"\xb8\x2a\x00\x00\x00\xc3",
    "i386": b"\xb8\x2a\x00\x00\x00\xc3",
    "aarch64": b"\x40\x05\x80\x52\xc0\x03\x5f\xd6",
    "riscv64": b"\x13\x05\xa0\x02\x82\x80",
}


def _code(kernel: Kernel) -> bytes:
    code = RETURN_42.get(kernel.platform.arch)
    if code is None:
        pytest.skip(f"no machine code for {kernel.platform.arch} in RETURN_42")
    return code


REQUIRES_NX = pytest.mark.requires("nx")  # refusing to run a PROT_READ page


def _call(kernel: Kernel, addr: int) -> int:
    faulthandler.disable()
    return int(kernel.ffi.cast("int (*)(void)", addr)())


@pytest.mark.os("linux")
@pytest.mark.parametrize(
    ("prot", "runs"),
    [("PROT_READ|PROT_EXEC", True), pytest.param("PROT_READ", False, marks=REQUIRES_NX)],
)
def test_mmap_code_runs_only_with_prot_exec(
    kernel: Kernel, maps, mem, in_child, bits, page: int, prot: str, runs: bool
) -> None:
    code = _code(kernel)
    addr = maps.anon(page)
    mem(addr, len(code))[:] = code
    kernel.mprotect(addr, page, bits(prot)).unwrap()
    if runs:
        assert in_child(lambda: _call(kernel, addr)) == 42
    else:
        with pytest.raises(ChildFailed, match="SIGSEGV"):
            in_child(lambda: _call(kernel, addr))


@pytest.mark.os("linux")
def test_mmap_file_with_prot_exec_runs_its_code(
    kernel: Kernel, tmp: Path, fds, maps, in_child, page: int
) -> None:
    if os.statvfs(tmp).f_flag & os.ST_NOEXEC:
        pytest.skip(f"{tmp} is mounted noexec: PROT_EXEC of its files is EPERM")
    fd = _file(kernel, fds, tmp / "code", _code(kernel), kernel.O_RDONLY)
    addr = maps.file(fd, page, kernel.MAP_PRIVATE, kernel.PROT_READ | kernel.PROT_EXEC)
    assert in_child(lambda: _call(kernel, addr)) == 42


# --- huge lengths and addresses beyond the task's size (TASK_SIZE: 47 bits on x86_64,
# 48 on arm64, 4 GiB less a page for i386 tasks). The last page of the address space
# lies beyond it on every arch; a length of all but a page cannot fit below it.


def _top(kernel: Kernel) -> int:
    """2 ** (pointer bits): the end of the address space."""
    return 1 << (8 * kernel.ffi.sizeof("void *"))


@pytest.mark.os("linux")
@pytest.mark.parametrize("length", ["wraps_to_zero", "address_space"])
def test_mmap_huge_length_is_enomem(kernel: Kernel, page: int, length: str) -> None:
    # -page+1 rounds up to 0 (mm/mmap.c do_mmap: "if (!len) return -ENOMEM").
    n = _top(kernel) - page + 1 if length == "wraps_to_zero" else _top(kernel) - page
    flags = kernel.MAP_PRIVATE | kernel.MAP_ANONYMOUS
    assert kernel.mmap(0, n, kernel.PROT_NONE, flags, -1, 0).errno == "ENOMEM"


@pytest.mark.os("linux")
@pytest.mark.parametrize("fixed", ["MAP_FIXED", "MAP_FIXED_NOREPLACE"])
def test_mmap_fixed_beyond_task_size_is_enomem(kernel: Kernel, page: int, fixed: str) -> None:
    flags = kernel.MAP_PRIVATE | kernel.MAP_ANONYMOUS | getattr(kernel, fixed)
    r = kernel.mmap(_top(kernel) - page, page, kernel.PROT_READ, flags, -1, 0)
    assert r.errno == "ENOMEM"


@pytest.mark.os("linux")
def test_mmap_hint_beyond_task_size_is_ignored(kernel: Kernel, maps, mem, page: int) -> None:
    hint = _top(kernel) - page
    addr = maps(
        kernel.mmap(
            hint,
            page,
            kernel.PROT_READ | kernel.PROT_WRITE,
            kernel.MAP_PRIVATE | kernel.MAP_ANONYMOUS,
            -1,
            0,
        ),
        page,
    )
    assert addr != hint
    mem(addr, 1)[0] = b"x"


@pytest.mark.os("linux")
def test_munmap_beyond_task_size_is_einval(kernel: Kernel, page: int) -> None:
    assert kernel.munmap(_top(kernel) - page, page).errno == "EINVAL"


# --- MAP_FIXED_NOREPLACE (Linux 4.17; partial overlaps refused from 4.19, gVisor
# mmap.cc): EEXIST leaves the existing mapping alone.


@pytest.mark.os("linux")
@pytest.mark.min_kernel("4.19")
@pytest.mark.parametrize("extra", [0, "MAP_FIXED"], ids=["alone", "with_map_fixed"])
def test_mmap_fixed_noreplace_over_part_of_a_mapping_is_eexist(
    kernel: Kernel, maps, mem, page: int, extra: int | str
) -> None:
    addr = maps.anon(3 * page)
    maps.unmap(addr, page)  # [addr, addr+page) free, [addr+page, addr+3*page) ours
    maps.held.append((addr + page, 2 * page))
    mem(addr + page, 4)[:] = b"kept"
    flags = kernel.MAP_PRIVATE | kernel.MAP_ANONYMOUS | kernel.MAP_FIXED_NOREPLACE
    flags |= getattr(kernel, extra) if extra else 0
    assert kernel.mmap(addr, 2 * page, kernel.PROT_READ, flags, -1, 0).errno == "EEXIST"
    assert mem(addr + page, 4)[:] == b"kept"


@pytest.mark.os("linux")
@pytest.mark.min_kernel("4.17")
def test_mmap_fixed_noreplace_on_a_free_range_maps_exactly_there(
    kernel: Kernel, maps, page: int
) -> None:
    addr = maps.anon(page)
    maps.unmap(addr, page)
    flags = kernel.MAP_PRIVATE | kernel.MAP_ANONYMOUS | kernel.MAP_FIXED_NOREPLACE
    assert maps(kernel.mmap(addr, page, kernel.PROT_READ, flags, -1, 0), page) == addr


@pytest.mark.os("linux")
@pytest.mark.min_kernel("4.17")
def test_mmap_fixed_noreplace_at_unaligned_address_is_einval(
    kernel: Kernel, maps, page: int
) -> None:
    addr = maps.anon(page)
    flags = kernel.MAP_PRIVATE | kernel.MAP_ANONYMOUS | kernel.MAP_FIXED_NOREPLACE
    assert kernel.mmap(addr + 1, page, kernel.PROT_READ, flags, -1, 0).errno == "EINVAL"


# --- truncating a mapped file (LTP mmap09; gVisor mmap.cc *Truncate*): the size may
# change under the mapping; pages wholly beyond the new end then raise SIGBUS, private
# copies of them included; the page holding the end reads zeros past it.


@pytest.mark.parametrize("size", [4096, 3 * 4096 + 1024, 0], ids=["smaller", "larger", "zero"])
def test_ftruncate_of_a_mapped_file_succeeds(
    kernel: Kernel, tmp: Path, fds, maps, mem, size: int
) -> None:
    fd = _file(kernel, fds, tmp / "f", b"A" * 4 * 4096, kernel.O_RDWR)
    addr = maps.file(fd, 4 * 4096, kernel.MAP_SHARED)
    mem(addr, 1)[0] = b"B"
    kernel.ftruncate(fd, size).unwrap()
    assert (tmp / "f").stat().st_size == size


def _touch(view, index: int, write: bool) -> None:
    faulthandler.disable()
    if write:
        view[index] = b"w"
    else:
        view[index]


@pytest.mark.parametrize(
    ("share", "write"),
    [("MAP_SHARED", False), ("MAP_SHARED", True), ("MAP_PRIVATE", False)],
    ids=["shared_read", "shared_write", "private_copy"],
)
def test_mmap_access_after_truncate_to_zero_is_sigbus(
    kernel: Kernel, tmp: Path, fds, maps, mem, in_child, page: int, share: str, write: bool
) -> None:
    fd = _file(kernel, fds, tmp / "f", b"a" * page, kernel.O_RDWR)
    view = mem(maps.file(fd, page, getattr(kernel, share)), page)
    view[0] = b"c"  # a private mapping now holds its own copy of the page
    kernel.ftruncate(fd, 0).unwrap()
    with pytest.raises(ChildFailed, match="SIGBUS"):
        in_child(lambda: _touch(view, 0, write))


@pytest.mark.os("linux")
def test_mmap_page_holding_the_new_end_reads_zeros_past_it(
    kernel: Kernel, tmp: Path, fds, maps, mem, page: int
) -> None:
    fd = _file(kernel, fds, tmp / "f", b"a" * page, kernel.O_RDWR)
    view = mem(maps.file(fd, page, kernel.MAP_SHARED, kernel.PROT_READ), page)
    kernel.ftruncate(fd, page // 2).unwrap()
    assert view[:] == b"a" * (page // 2) + b"\0" * (page // 2)


@pytest.mark.os("linux")
def test_mmap_truncated_page_is_back_with_zeros_after_growing_again(
    kernel: Kernel, tmp: Path, fds, maps, mem, page: int
) -> None:
    fd = _file(kernel, fds, tmp / "f", b"a" * 2 * page, kernel.O_RDWR)
    view = mem(maps.file(fd, 2 * page, kernel.MAP_SHARED), 2 * page)
    kernel.ftruncate(fd, page).unwrap()
    kernel.ftruncate(fd, 2 * page).unwrap()
    assert view[page:] == b"\0" * page


# MAP_SHARED drops flags it does not know, for old programs; MAP_SHARED_VALIDATE refuses
# them (mm/mmap.c do_mmap: flags &= LEGACY_MAP_MASK). MAP_SYNC is one tmpfs lacks.
@pytest.mark.os("linux")
@pytest.mark.min_kernel("4.15")
def test_mmap_shared_ignores_a_flag_that_shared_validate_refuses(
    kernel: Kernel, tmp: Path, fds, maps, page: int
) -> None:
    fd = _file(kernel, fds, tmp / "f", b"x" * page, kernel.O_RDWR)
    st = kernel.new("struct statfs *")
    kernel.statfs(tmp, st).unwrap()
    if st.f_type != kernel.TMPFS_MAGIC:
        pytest.skip(f"tmp is not on tmpfs (f_type {st.f_type:#x}): MAP_SYNC may be known there")
    prot = kernel.PROT_READ
    maps(kernel.mmap(0, page, prot, kernel.MAP_SHARED | kernel.MAP_SYNC, fd, 0), page)
    validate = kernel.MAP_SHARED_VALIDATE | kernel.MAP_SYNC
    assert kernel.mmap(0, page, prot, validate, fd, 0).errno == "EOPNOTSUPP"


# Anonymous memory knows only MAP_SHARED and MAP_PRIVATE: MAP_SHARED_VALIDATE is EINVAL.
@pytest.mark.os("linux")
@pytest.mark.min_kernel("4.15")
def test_mmap_anonymous_shared_validate_is_einval(kernel: Kernel, page: int) -> None:
    flags = kernel.MAP_SHARED_VALIDATE | kernel.MAP_ANONYMOUS
    assert kernel.mmap(0, page, kernel.PROT_READ, flags, -1, 0).errno == "EINVAL"


@pytest.mark.os("linux")
def test_mmap_anonymous_ignores_the_fd(kernel: Kernel, maps, mem, page: int) -> None:
    flags = kernel.MAP_PRIVATE | kernel.MAP_ANONYMOUS
    prot = kernel.PROT_READ | kernel.PROT_WRITE
    addr = maps(kernel.mmap(0, page, prot, flags, 987654, 0), page)  # no such fd
    assert mem(addr, 4)[:] == b"\0\0\0\0"


# A file mapping whose end would pass the largest file size is EOVERFLOW (mm/mmap.c
# file_mmap_ok), before the file's size matters.
@pytest.mark.os("linux")
def test_mmap_file_offset_past_the_largest_file_size_is_eoverflow(
    kernel: Kernel, tmp: Path, fds, page: int
) -> None:
    if kernel.ffi.sizeof("long") != 8:
        pytest.skip("a 32-bit mmap offset cannot reach the 64-bit limit")
    fd = _file(kernel, fds, tmp / "f", b"x" * page, kernel.O_RDWR)
    top = (1 << 63) - page  # page-aligned: only the end passes LLONG_MAX
    r = kernel.mmap(0, 2 * page, kernel.PROT_READ, kernel.MAP_PRIVATE, fd, top)
    assert r.errno == "EOVERFLOW"


@pytest.mark.os("linux")
def test_mmap_file_growsdown_is_einval(kernel: Kernel, tmp: Path, fds, page: int) -> None:
    fd = _file(kernel, fds, tmp / "f", b"x" * page, kernel.O_RDWR)
    flags = kernel.MAP_PRIVATE | kernel.MAP_GROWSDOWN
    assert kernel.mmap(0, page, kernel.PROT_READ, flags, fd, 0).errno == "EINVAL"


# The length is rounded up to whole pages (mm/mmap.c do_mmap: PAGE_ALIGN): page + 1
# bytes map two pages, not three. Placed inside a PROT_NONE reservation, so the pages
# around are known.
@pytest.mark.os("linux")
def test_mmap_length_is_rounded_up_to_whole_pages(kernel: Kernel, maps, vma, page: int) -> None:
    base = maps.anon(4 * page, prot=kernel.PROT_NONE)
    flags = kernel.MAP_PRIVATE | kernel.MAP_ANONYMOUS | kernel.MAP_FIXED
    rw = kernel.PROT_READ | kernel.PROT_WRITE
    assert kernel.mmap(base, page + 1, rw, flags, -1, 0).unwrap() == base
    assert [vma(base + i * page).perms for i in range(3)] == ["rw-p", "rw-p", "---p"]


# Below vm.mmap_min_addr (where a kernel NULL dereference would land) only
# CAP_SYS_RAWIO may map (security/commoncap.c cap_mmap_addr): EPERM, in a child.
@pytest.mark.os("linux")
@pytest.mark.as_user("root may map page zero (CAP_SYS_RAWIO)")
def test_mmap_fixed_below_mmap_min_addr_as_a_user_is_eperm(
    kernel: Kernel, page: int, in_child
) -> None:
    if sysctl.number("vm/mmap_min_addr") == 0:
        pytest.skip("vm.mmap_min_addr is 0 here: any address may be mapped")

    def run() -> str:
        flags = kernel.MAP_FIXED | kernel.MAP_PRIVATE | kernel.MAP_ANONYMOUS
        r = kernel.mmap(0, page, kernel.PROT_READ, flags, -1, 0)
        if r.ok:
            kernel.munmap(r.value, page)
        return r.outcome

    assert in_child(run) == "EPERM"
