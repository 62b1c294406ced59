"""Linux table generator: sample trees (always), Debian's linux-source-6.1 (when installed),
the committed aarch64/i386/riscv64 tables and their hand-written layers, and i386's
calling convention (syscalls/abi_i386.py).
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import textwrap
import tomllib
from pathlib import Path

import pytest

from syscalls import abi_i386
from syscalls.abi import Platform
from syscalls.cli import main
from syscalls.tables import TreeError, generate, linux

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = Path(__file__).resolve().parent / "data" / "linux"
TARBALL = Path("/usr/src/linux-source-6.1.tar.xz")
ARCHES = ("x86_64", "aarch64", "i386", "riscv64")
NEW_ARCHES = ("aarch64", "i386", "riscv64")
needs_cc = pytest.mark.skipif(shutil.which("cc") is None, reason="needs cc (ci/setup: gcc)")


# --- sample trees ---------------------------------------------------------------------


@needs_cc
def test_sample_x86_64_takes_its_tbl_abis_only():
    table = generate(SAMPLE, "x86_64")
    assert table.syscalls == {"read": 0, "open": 2, "mmap": 9, "sample_new_call": 548}
    assert table.errno == {"EPERM": 1, "ENOENT": 2, "EAGAIN": 11, "EWOULDBLOCK": 11, "ENOSYS": 38}
    assert table.constants["O_CREAT"] == 0o100 and table.constants["AT_FDCWD"] == -100
    assert "O_KERNEL_ONLY" not in table.constants  # __KERNEL__ stays undefined
    assert any("Linux 6.99.1-sample" in s for s in table.sources)


@needs_cc
def test_a_constant_wider_than_c_allows_is_left_out(tmp_path: Path) -> None:
    tree = tmp_path / "linux"
    shutil.copytree(SAMPLE, tree)
    with (tree / "include/uapi/asm-generic/fcntl.h").open("a") as f:
        f.write("#define O_HUGE (1 << 999999)\n")  # `tables` died writing it (ValueError)
    out = tmp_path / "x86_64.toml"
    assert main(["tables", "--from-tree", str(tree), "-o", str(out)]) == 0
    text = out.read_text()
    assert "O_CREAT" in text and "O_HUGE" not in text


@needs_cc
def test_sample_i386_reads_syscall_32_tbl():
    assert generate(SAMPLE, "i386").syscalls == {"read": 3, "mmap2": 192, "fstatat64": 300}


@needs_cc
def test_sample_arm64_arch_headers_come_before_generic_ones():
    table = generate(SAMPLE, "aarch64")
    assert table.constants["O_DIRECTORY"] == 0o40000  # arm64's own, not the generic one
    assert table.syscalls == {"openat": 56, "fstat": 80}


@needs_cc
def test_sample_riscv64_is_64_bit_without_compiler_predefines():
    # riscv's bitsperlong.h reads __SIZEOF_POINTER__: the 64-bit names, not fstat64.
    table = generate(SAMPLE, "riscv64")
    assert table.syscalls == {"openat": 56, "fstat": 80}
    assert table.constants["O_DIRECTORY"] == 0o200000


def test_unknown_linux_arch_is_one_clear_error():
    with pytest.raises(TreeError, match=r"unknown Linux arch 'sparc64' \(known: x86_64"):
        generate(SAMPLE, "sparc64")


def test_missing_directory_is_one_clear_error(tmp_path):
    with pytest.raises(TreeError, match="no such directory"):
        generate(tmp_path / "nope", None)


def test_cli_unknown_arch_exits_2_with_one_line(tmp_path, capsys):
    out = tmp_path / "t.toml"
    code = main(["tables", "--from-tree", str(SAMPLE), "--arch", "m68k", "-o", str(out)])
    assert code == 2 and not out.exists()
    assert capsys.readouterr().err.count("\n") == 1


TBL = "arch/x86/entry/syscalls/syscall_64.tbl"


@pytest.mark.parametrize(
    ("line", "says"),
    [
        (b"600\tcommon\tbad-name\tsys_x", "'bad-name' is not a syscall name"),
        ("602\tcommon\tcaf\u00e9\tsys_x".encode(), "'caf\u00e9' is not a syscall name"),
        (b"604\tcommon\t\xff\xfe\tsys_x", "'\ufffd\ufffd' is not a syscall name"),
        (b"xyz\tcommon\tfoo\tsys_foo", "'xyz' is not a syscall number"),
        (b"-5\tcommon\tneg\tsys_neg", "'-5' is not a syscall number"),
        (b"0x10\tcommon\thex\tsys_hex", "'0x10' is not a syscall number"),
        (b"1_000\tcommon\tunder\tsys_x", "'1_000' is not a syscall number"),
        ("\uff11\uff12\tcommon\twide\tsys_x".encode(), "is not a syscall number"),
        (b"99999999999\tcommon\thuge\tsys_huge", "'99999999999' is not a syscall number"),
        (b"9" * 5000 + b"\tcommon\thuger\tsys_x", "is not a syscall number"),
        (b"0\tcommon\tdupzero\tsys_dupzero", "0 dupzero: the number or name is taken"),
        (b"600\tcommon\tread\tsys_read2", "600 read: the number or name is taken"),
        (b"l23\tx32\ttypo\tsys_typo", "'l23' is not a syscall number"),  # another ABI's
        (b"605\tcommon", "expected <number> <abi> <name>"),  # were skipped unseen
        (b"605", "expected <number> <abi> <name>"),
    ],
)
def test_a_tbl_line_that_is_no_syscall_names_its_file_and_line(line, says, tmp_path, capsys):
    """Each made a traceback (int(), UnicodeDecodeError) or a table that does not load
    (a negative or huge number, a name TOML cannot hold) or that lost a syscall."""
    tree = tmp_path / "tree"
    shutil.copytree(SAMPLE, tree)
    with (tree / TBL).open("ab") as f:
        f.write(line + b"\n")
    out = tmp_path / "t.toml"
    assert main(["tables", "--from-tree", str(tree), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"syscalls tables: {tree / TBL}:7: ") and says in err, err
    assert err.count("\n") == 1 and not out.exists()


@pytest.mark.parametrize(
    ("makefile", "release"),
    [
        (b"VERSION = 6\n", "unknown"),  # was a KeyError
        (b"# \xff\nVERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 0\n", "6.1.0"),  # UnicodeDecodeError
    ],
)
def test_the_release_from_a_makefile_half_there_or_not_utf8(makefile, release, tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(SAMPLE, tree)
    (tree / "Makefile").write_bytes(makefile)
    assert linux.release(tree) == release


@pytest.mark.parametrize("name", ["Makefile", TBL])
def test_a_tree_file_that_is_a_fifo_is_refused_without_waiting(name, tmp_path, capsys):
    tree = tmp_path / "tree"
    shutil.copytree(SAMPLE, tree)
    (tree / name).unlink()
    os.mkfifo(tree / name)  # reading it would wait for a writer, for ever
    assert main(["tables", "--from-tree", str(tree), "-o", str(tmp_path / "t.toml")]) == 2
    err = capsys.readouterr().err
    assert err == f"syscalls tables: {tree / name}: not a regular file, not a kernel source file\n"


def test_not_a_kernel_tree_is_one_clear_error(tmp_path):
    (tmp_path / "include").mkdir()  # a directory, but neither Linux's nor a BSD's layout
    with pytest.raises(TreeError, match="not a kernel source tree"):
        generate(tmp_path, "x86_64")


def test_no_compiler_on_path_says_which_to_install(tmp_path, monkeypatch, capsys):
    # PATH without cc, gcc or clang: the numbers could be read, the headers cannot.
    from syscalls.tables.cmacros import CompilerMissing

    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CompilerMissing, match=r"needs a C preprocessor \(cc, gcc or clang\)"):
        generate(SAMPLE, "x86_64")
    out = tmp_path / "t.toml"
    assert main(["tables", "--from-tree", str(SAMPLE), "-o", str(out)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "apt-get install gcc" in err[0] and not out.exists()


# --- the real tree: Debian's linux-source-6.1 ----------------------------------------

# Just what the generator reads: the tarball holds the whole kernel.
_MEMBERS = (
    "Makefile",
    "include/uapi/*",
    "arch/x86/include/uapi/*",
    "arch/arm64/include/uapi/*",
    "arch/riscv/include/uapi/*",
    "arch/x86/entry/syscalls/*",
    *linux.INTERNAL_HEADERS,
    # kernel/sys_ni.c's optional syscalls: where they are defined, and the Makefiles and
    # Kbuild files that say which option builds those files and directories
    "Kbuild",
    "*/Makefile",
    *(f"{d}/*.c" for d in ("kernel", "fs", "mm", "ipc", "net", "security", "io_uring", "block")),
    *(f"arch/{a}/*.c" for a in ("x86", "arm64", "riscv")),
)


@pytest.fixture(scope="module")
def linux_tree(tmp_path_factory) -> Path:
    if not TARBALL.is_file():
        pytest.skip(f"{TARBALL} missing (Debian package linux-source-6.1; ci/setup installs it)")
    if shutil.which("cc") is None:
        pytest.skip("needs cc (ci/setup: gcc)")
    dest = tmp_path_factory.mktemp("linux-source")
    subprocess.run(
        [
            "tar",
            "-xJf",
            str(TARBALL),
            "-C",
            str(dest),
            "--wildcards",
            *(f"linux-source-6.1/{m}" for m in _MEMBERS),
        ],
        check=True,
    )
    return dest / "linux-source-6.1"


@pytest.mark.parametrize("arch", ARCHES)
def test_committed_table_is_what_the_tree_generates(linux_tree, arch, tmp_path):
    out = tmp_path / f"{arch}.toml"
    assert main(["tables", "--from-tree", str(linux_tree), "--arch", arch, "-o", str(out)]) == 0
    fresh = tomllib.loads(out.read_text())
    committed = tomllib.loads((ROOT / "platforms/linux" / f"{arch}.toml").read_text())
    for section in ("syscalls", "errno", "constants", "optional", "unimplemented", "platform"):
        assert fresh[section] == committed[section], section


def test_i386_stat64_layout_matches_the_tree(linux_tree, tmp_path):
    """i386-packed.h's struct stat against the tree's struct stat64, compiled with -m32."""
    decl = (ROOT / "platforms/linux/i386-packed.h").read_text()
    decl = decl.replace("struct stat {", "struct ours {")
    fields = (
        "st_dev",
        "st_mode",
        "st_nlink",
        "st_uid",
        "st_rdev",
        "st_size",
        "st_blksize",
        "st_blocks",
        "st_atime",
        "st_mtime",
        "st_ctime_nsec",
        "st_ino",
    )
    source = (
        textwrap.dedent("""\
        #include <asm/stat.h>
        #define CHECK(f) _Static_assert(__builtin_offsetof(struct ours, f) == \\
            __builtin_offsetof(struct stat64, f), #f);
        """)
        + decl.replace("};", "} __attribute__((packed));")
        + "".join(f"CHECK({f})\n" for f in fields)
        + '_Static_assert(sizeof(struct ours) == sizeof(struct stat64), "size");\n'
    )
    (tmp_path / "check.c").write_text(source)
    proc = subprocess.run(
        [
            "cc",
            "-m32",
            "-fsyntax-only",
            "-nostdinc",
            "-D__i386__",
            "-I",
            str(linux_tree / "arch/x86/include/uapi"),
            "-I",
            str(linux_tree / "include/uapi"),
            "-I",
            str(tmp_path),
            str(tmp_path / "check.c"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if "unrecognized command-line option" in proc.stderr:
        pytest.skip("this cc cannot target i386 (-m32)")
    assert proc.returncode == 0, proc.stderr


# --- committed tables and their hand-written layers ----------------------------------


@pytest.mark.parametrize("arch", NEW_ARCHES)
def test_new_arch_tables_load_with_their_layers(arch):
    p = Platform.load(f"linux/{arch}")
    assert p.name == f"linux/{arch}" and "struct stat" in p.cdef + p.cdef_packed
    assert p.errno["ENOENT"] == 2 and p.errno["EAGAIN"] == 11
    assert p.has("openat") and p.has("fstatat") and p.has("clone3")
    text = (ROOT / "platforms/linux" / f"{arch}.toml").read_text()
    assert text.startswith(
        f"# Code generated by `syscalls tables --from-tree linux-source-6.1 "
        f"--arch {arch} -o platforms/linux/{arch}.toml`; DO NOT EDIT."
    )


@pytest.mark.parametrize("arch", ["aarch64", "riscv64"])
def test_generic_table_arches_have_no_legacy_calls(arch):
    p = Platform.load(f"linux/{arch}")
    assert not any(p.has(n) for n in ("open", "fork", "pipe", "poll", "stat", "dup2"))
    assert p.resolve("fstatat") == "newfstatat" and p.syscalls["newfstatat"] == 79
    assert p.syscalls["openat"] == 56 and p.syscalls["mmap"] == 222


def test_i386_aliases_and_numbers():
    p = Platform.load("linux/i386")
    assert {n: p.syscalls[p.resolve(n)] for n in ("fstatat", "fstat", "stat", "lstat")} == {
        "fstatat": 300,
        "fstat": 197,
        "stat": 195,
        "lstat": 196,
    }
    assert p.syscalls["mmap2"] == 192 and p.syscalls["socketcall"] == 102
    assert p.syscalls["socket"] == 359  # direct socket calls since Linux 4.3
    assert p.syscalls["clock_gettime64"] == 403 and p.syscalls["clock_gettime"] == 265
    assert p.constants["O_LARGEFILE"] == 0o100000 and p.constants["O_DIRECTORY"] == 0o200000


def test_aarch64_own_flag_values():
    p = Platform.load("linux/aarch64")
    assert p.constants["O_DIRECTORY"] == 0o40000 and p.constants["O_NOFOLLOW"] == 0o100000


# --- i386 calling convention -----------------------------------------------------------


def test_i386_64_bit_offsets_take_two_registers_low_first():
    assert abi_i386.adapt("pread64", (3, "buf", 10, 0x1_0000_0002)) == (
        "pread64",
        (3, "buf", 10, 2, 1),
    )
    assert abi_i386.adapt("ftruncate", (4, 5)) == ("ftruncate64", (4, 5, 0))
    assert abi_i386.adapt("ftruncate", (4, -1)) == ("ftruncate64", (4, 0xFFFFFFFF, 0xFFFFFFFF))
    assert abi_i386.adapt("fallocate", (3, 0, 1 << 32, 4096)) == (
        "fallocate",
        (3, 0, 0, 1, 4096, 0),
    )
    assert abi_i386.adapt("posix_fadvise", (3, 8, 16, 4)) == ("fadvise64_64", (3, 8, 0, 16, 0, 4))


def test_i386_mmap_goes_to_mmap2_in_pages():
    real, regs, address = abi_i386.adapt("mmap", (0, 8192, 3, 0x22, -1, 3 * 4096))
    assert (real, regs) == ("mmap2", (0, 8192, 3, 0x22, -1, 3))
    # The returned address reads unsigned (above 2 GiB); -1 stays the failure.
    assert (address(-0x1000), address(-1)) == (0xFFFFF000, -1)
    # An offset mmap2 cannot express goes to the old mmap's argument block (six 32-bit
    # words, struct mmap_arg_struct), so that the kernel itself answers EINVAL.
    real, regs, _ = abi_i386.adapt("mmap", (0, 8192, 3, 2, -1, 100))
    assert real == "mmap" and len(regs) == 1
    assert struct.unpack("=6I", regs[0]) == (0, 8192, 3, 2, 0xFFFFFFFF, 100)


def test_i386_clone_takes_tls_before_child_tid():
    # CONFIG_CLONE_BACKWARDS: flags, stack, parent_tid, tls, child_tid.
    assert abi_i386.adapt("clone", (0x11, 0, 100, 200, 300)) == ("clone", (0x11, 0, 100, 300, 200))
    with pytest.raises(TypeError, match="5 arguments"):
        abi_i386.adapt("clone", (0x11, 0))


def test_i386_semop_goes_through_the_ipc_multiplexer():
    assert abi_i386.adapt("semop", (7, "sops", 2)) == ("ipc", (1, 7, 2, 0, "sops"))
    p = Platform.load("linux/i386")
    assert p.syscalls["ipc"] == 117
    # semtimedop takes the suite's 64-bit timespec: semtimedop_time64 (420), no adapter.
    assert "semtimedop" not in abi_i386.ADAPTERS
    assert p.syscalls[p.resolve("semtimedop")] == 420


def test_i386_preadv_family_passes_the_kernels_pos_l_pos_h_unchanged():
    # Every arch's preadv/pwritev(2) take (pos_l, pos_h); callers pass both halves.
    for name in ("preadv", "pwritev", "preadv2", "pwritev2"):
        assert abi_i386.adapt(name, (3, "iov", 1, -1, -1, 0)) == (name, (3, "iov", 1, -1, -1, 0))


def test_i386_table_layers_route_to_the_calls_that_fit_its_abi():
    p = Platform.load("linux/i386")
    assert p.syscalls[p.resolve("select")] == 142  # _newselect, not old_select (82)
    assert p.syscalls[p.resolve("getrlimit")] == 191  # ugetrlimit, not old_getrlimit (76)
    assert p.syscalls[p.resolve("fcntl")] == 221  # fcntl64: takes F_OFD_* with flock64
    assert (p["F_GETLK"], p["F_SETLK"], p["F_SETLKW"]) == (12, 13, 14)
    assert Platform.load("linux/x86_64")["F_SETLK"] == 6


def test_i386_lseek_goes_to_llseek_with_the_offset_split_high_first():
    real, regs, _after = abi_i386.adapt("lseek", (3, 1 << 32 | 5, 0))
    assert real == "_llseek" and (regs[:3], regs[4]) == ((3, 1, 5), 0)
    assert abi_i386.adapt("getpid", ()) == ("getpid", ())


def test_i386_adapted_names_exist_in_the_i386_table():
    p = Platform.load("linux/i386")
    samples = {
        "mmap": (0, 4096, 3, 0x22, -1, 0),
        "lseek": (0, 0, 0),
        "fallocate": (0, 0, 0, 0),
        "clone": (0, 0, 0, 0, 0),
        "semop": (0, 0, 0),
        "nanosleep": (None, None),
        "adjtimex": (None,),
        "io_getevents": (0, 0, 0, None, None),
    }
    for name in abi_i386.ADAPTERS:
        args = samples.get(name, (0, 0, 0, 0, 0, 0))
        real, *_ = abi_i386.adapt(name, args)
        assert real in p.syscalls, name
