"""BSD table generator: syscalls.master parsing, header constants, clear errors, and the
committed tables cross-checked against the upstream files they were made from.

Samples under tests/data/bsd/ are written by us in each BSD's format, so these tests
always run; the cross-checks read ../shared/reference/<os>/ when it is there.
"""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path

import pytest

from syscalls.abi import Platform
from syscalls.cli import main
from syscalls.tables import TreeError, generate
from syscalls.tables.syscalls_master import MasterError, parse

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data" / "bsd"
REFERENCE = ROOT.parent / "shared" / "reference"
PLATFORMS = ROOT / "platforms"


def by_name(entries):
    return {e.name: e for e in entries}


# --- the parser, on our samples ------------------------------------------------------


def test_netbsd_sample_names_numbers_and_versions():
    entries = by_name(parse((DATA / "netbsd/sys/kern/syscalls.master").read_text(), "netbsd"))
    assert entries["read"].number == 3
    assert entries["break"].number == 17  # the alias after the prototype names it
    assert entries["__stat50"].number == 439
    assert entries["__stat50"].base == "stat" and entries["__stat50"].version == "50"
    assert entries["__kevent50"].number == 435  # prototype over four continued lines
    assert len(entries["__kevent50"].args) == 6
    assert entries["compat_43_ocreat"].compat and entries["compat_43_stat43"].number == 38
    assert entries["shmget"].number == 231  # the #if branch; the EXCL #else is not a syscall
    # UNIMPL, OBSOL, IGNORED and EXCL define nothing.
    assert {e.number for e in entries.values()}.isdisjoint({11, 269, 391})


def test_netbsd_pad_arguments_are_kept_as_slots():
    entries = by_name(parse((DATA / "netbsd/sys/kern/syscalls.master").read_text(), "netbsd"))
    lseek = entries["lseek"]
    assert [a.name for a in lseek.args] == ["fd", "PAD", "offset", "whence"]
    assert [a.is_pad for a in lseek.args] == [False, True, False, False]
    assert lseek.rettype == "off_t"


def test_openbsd_sample_drops_the_sys_prefix():
    entries = by_name(parse((DATA / "openbsd/kern/syscalls.master").read_text(), "openbsd"))
    assert {n: e.number for n, e in entries.items()} == {
        "exit": 1,
        "read": 3,
        "open": 5,
        "ptrace": 26,
        "__syscall": 198,
    }
    assert [a.name for a in entries["ptrace"].args] == ["req", "pid", "addr", "data"]


def test_freebsd_sample_multiline_prototypes_and_compat_names():
    entries = by_name(parse((DATA / "freebsd/sys/kern/syscalls.master").read_text(), "freebsd"))
    assert entries["syscall"].number == 0
    assert entries["_umtx_op"].number == 454
    assert [a.ctype for a in entries["_umtx_op"].args] == [
        "void *",
        "int",
        "u_long",
        "void *",
        "void *",
    ]
    assert entries["fstat"].number == 551 and not entries["fstat"].compat
    assert entries["freebsd11_stat"].number == 188 and entries["freebsd11_stat"].compat
    assert entries["ocreat"].compat  # plain COMPAT: 4.3BSD
    assert 210 not in {e.number for e in entries.values()}  # NODEF: no syscall number
    assert [a.ctype for a in entries["read"].args] == ["int", "void *", "size_t"]


def test_parse_rejects_an_entry_without_prototype():
    with pytest.raises(MasterError, match="entry 7"):
        parse("7\tSTD\tjust words\n", "openbsd")
    with pytest.raises(MasterError, match="unterminated"):
        parse("5\tSTD\t{ int sys_open(const char *path, \\\n", "openbsd")
    with pytest.raises(MasterError, match="dialect"):
        parse("", "minix")


def _refusal(lines: str) -> str:
    """Why a master of sys_exit followed by `lines` is refused."""
    with pytest.raises(MasterError) as raised:
        parse(f"1\tSTD\t{{ int sys_exit(int rval); }}\n{lines}\n", "openbsd")
    return str(raised.value)


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ("99999999999\tSTD\t{ int sys_huge(void); }", "entry 99999999999: not a syscall number"),
        ("9" * 5000 + "\tSTD\t{ int sys_x(void); }", "not a syscall number"),  # int(): 4300
        ("901\tSTD\t{ int sys_caf\u00e9(void); }", "entry 901: 'caf\u00e9' is not a syscall"),
        ("902\tSTD\t{ int sys_x(void); } bad-alias", "entry 902: 'bad-alias' is not a syscall"),
    ],
)
def test_parse_rejects_a_number_or_name_no_table_can_hold(entry: str, says: str) -> None:
    """Each was a ValueError traceback or a table that does not load."""
    assert says in _refusal(entry)


def test_parse_takes_ascii_digits_only() -> None:
    text = "1\tSTD\t{ int sys_exit(int rval); }\n\u0661\tSTD\t{ int sys_one(void); }\n"
    with pytest.raises(MasterError, match="line 2: not an entry"):  # not a second entry 1
        parse(text, "openbsd")


@pytest.mark.parametrize("typo", ["l2", "2a", "O2", "+2", "two"])
def test_a_line_that_is_no_entry_is_refused_not_dropped(typo: str) -> None:
    # silently skipped, the entry was missing from the table
    text = f"1\tSTD\t{{ int sys_exit(int rval); }}\n{typo}\tSTD\t{{ int sys_fork(void); }}\n"
    with pytest.raises(MasterError, match=rf"line 2: .*{re.escape(typo)}"):
        parse(text, "openbsd")


def test_reserved_ranges_and_rcs_ids_are_not_entries() -> None:
    text = (
        "\t$NetBSD: syscalls.master,v 1.285 $\n1\tAUE_EXIT\tSTD\t{ void sys_exit(int rval); }\n"
        "151-153\tAUE_NULL\tRESERVED\n154\tAUE_NULL\tSTD\t{ int nlm_syscall(int debug_level); }\n"
        "155-156\tAUE_NULL\tUNIMPL\n"
    )
    assert [e.number for e in parse(text, "freebsd")] == [1, 154]
    with pytest.raises(MasterError, match="line 1: "):  # a range defines nothing
        parse("157-158\tAUE_NULL\tSTD\t{ int sys_x(void); }\n", "freebsd")


def test_an_entry_run_into_another_prototype_is_refused() -> None:
    # a continuation line whose next line is an entry: its braces end up in the arguments
    text = (
        "1\tSTD\t{ int sys_open(const char *path, \\\n"
        "2 STD { int sys_dup(int fd); }\n\t    int flags); }\n"
    )
    with pytest.raises(MasterError, match=r"entry 1: .* is not a C type"):
        parse(text, "openbsd")


@pytest.mark.parametrize(
    ("lines", "says"),
    [
        # each gave a table: the first two without a word, the last two with one entry
        # silently dropped or a name that was never the master's
        ("2\tSTD\t{ int sys_fork(void); }\n2\tSTD\t{ int sys_vfork(void); }", "entry 2: "),
        ("2\tSTD\t{ int sys_fork(void); }\n3\tSTD\t{ int sys_fork(void); }", "entry 3: fork"),
        ("2\tSTD\t{ int 3sys_fork(void); }", "entry 2: 'int 3' is not a C type"),
        ("2\tSTD\t{ int sys_fork(int 3x); }", "entry 2: 'int 3' is not a C type"),
        ("#ifdef KTRACE\n2\tSTD\t{ int sys_fork(void); }", "line 2: #if without #endif"),
        ("2\tSTD\t{ int sys_fork(void); }\n#endif", "line 3: #endif without #if"),
        ("# else\n2\tSTD\t{ int sys_fork(void); }", "line 2: #else without #if"),
    ],
)
def test_a_master_that_makes_no_single_table_is_refused(lines: str, says: str) -> None:
    assert says in _refusal(lines)


def test_conditionals_with_a_stand_in_on_the_other_side_are_one_table() -> None:
    text = (
        "1\tSTD\t{ int sys_exit(int rval); }\n#ifdef KTRACE\n#if 1\n"
        "45\tSTD\t{ int sys_ktrace(const char *fname); }\n#endif\n# else\n"
        "45\tUNIMPL\tktrace\n#endif\n46\tSTD\t{ int sys_sigaction(int signum); }\n#\n"
    )
    assert [(e.number, e.name) for e in parse(text, "openbsd")] == [
        (1, "exit"),
        (45, "ktrace"),
        (46, "sigaction"),
    ]


# --- the generator, on sample trees ---------------------------------------------------


def test_netbsd_sample_tree_numbers_symbols_errno_constants():
    table = generate(DATA / "netbsd", "amd64")  # the top of a src tree: sys/ below it
    assert (table.os, table.arch) == ("netbsd", "amd64")
    assert table.syscalls["__stat50"] == 439 and "compat_43_ocreat" not in table.syscalls
    assert table.symbols == {"stat": "__stat50", "fstat": "__fstat50", "kevent": "__kevent50"}
    assert table.padding == {"lseek": [1]}  # lseek(int fd, int PAD, off_t offset, int whence)
    assert table.errno == {
        "EPERM": 1,
        "ENOENT": 2,
        "EAGAIN": 35,
        "EWOULDBLOCK": 35,
        "ENOSYS": 78,
        "ENOTSUP": 86,
    }  # ELAST is a limit; ERESTART kernel-only
    assert table.constants["O_CREAT"] == 0x200
    assert table.constants["O_SEARCH"] == 0x800000  # visible through the tree's cdefs.h
    assert "O_KERNEL_ONLY" not in table.constants  # _KERNEL stays undefined
    assert table.constants["F_NETBSD_SEEN"] == 7  # __NetBSD__ = major version from param.h
    assert table.constants["MAP_ARCH_SAMPLE"] == 64  # <machine/...> is the arch's dir
    assert any("NetBSD 7.99.34" in s and "revision 0.1" in s for s in table.sources)


def test_openbsd_sample_tree_maps_every_syscall_to_libc():
    table = generate(DATA / "openbsd", None)  # DIR may be sys/ itself; arch defaults to amd64
    assert table.arch == "amd64"
    assert table.symbols == {"exit": "exit", "read": "read", "open": "open", "ptrace": "ptrace"}
    assert table.errno == {"ENOENT": 2, "ENOTSUP": 91}
    assert any("OpenBSD 7.9" in s for s in table.sources)


def test_freebsd_sample_tree_without_cdefs_sees_bsd_visible_names():
    table = generate(DATA / "freebsd/sys", "x86_64")  # Linux's arch name is accepted
    assert table.arch == "amd64"
    assert table.errno == {"ENOENT": 2, "ENOTCAPABLE": 93}
    assert table.syscalls["fstat"] == 551 and table.symbols == {}


def test_tree_without_headers_still_gives_numbers_and_says_so(tmp_path):
    (tmp_path / "sys/kern").mkdir(parents=True)
    master = (DATA / "openbsd/kern/syscalls.master").read_text()
    (tmp_path / "sys/kern/syscalls.master").write_text(master)
    table = generate(tmp_path, "amd64")
    assert table.syscalls["read"] == 3 and table.errno == {} and table.constants == {}
    assert any("no errno and no constants" in s for s in table.sources)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: None, "not a kernel source tree"),
        (
            lambda d: (d / "kern").mkdir() or (d / "kern/syscalls.master").write_text("1 x\n"),
            "cannot tell which BSD",
        ),
    ],
    ids=["empty directory", "unknown dialect"],
)
def test_not_a_tree_is_one_clear_error(tmp_path, make, message):
    make(tmp_path)
    with pytest.raises(TreeError, match=message):
        generate(tmp_path, "amd64")


def test_unknown_arch_is_one_clear_error():
    with pytest.raises(TreeError, match=r"unknown netbsd arch 'vax' \(known: amd64"):
        generate(DATA / "netbsd", "vax")


def test_cli_reports_errors_in_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "t.toml"
    assert main(["tables", "--from-tree", str(tmp_path), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a kernel source tree" in err[0]
    assert not out.exists()


def test_cli_writes_a_table_platform_can_load(tmp_path, capsys):
    out = tmp_path / "netbsd-sample.toml"
    assert main(["tables", "--from-tree", str(DATA / "netbsd"), "-o", str(out)]) == 0
    assert "netbsd/amd64: 10 syscalls" in capsys.readouterr().out
    p = Platform.load(out)
    assert p.name == "netbsd/amd64" and p.symbols["stat"] == "__stat50"
    assert out.read_text().startswith("# Code generated by `syscalls tables --from-tree netbsd")


# --- the committed tables, against the upstream data they came from ----------------


def committed(os_name: str) -> dict:
    return tomllib.loads((PLATFORMS / os_name / "amd64.toml").read_text())


def reference(os_name: str) -> Path:
    path = REFERENCE / os_name / "syscalls.master"
    if not path.is_file():
        pytest.skip(f"no upstream {os_name} syscalls.master in {REFERENCE} (see SOURCES.md)")
    return path


@pytest.mark.parametrize("os_name", ["netbsd", "openbsd", "freebsd"])
def test_committed_table_matches_the_upstream_master(os_name):
    entries = parse(reference(os_name).read_text(errors="replace"), os_name)
    table = committed(os_name)
    upstream = {}
    for e in entries:
        if not e.compat:
            upstream.setdefault(e.name, e.number)
    assert table["syscalls"] == upstream


def test_committed_netbsd_symbols_are_the_versioned_names():
    entries = parse(reference("netbsd").read_text(errors="replace"), "netbsd")
    symbols = committed("netbsd")["symbols"]
    versioned = {e.name for e in entries if e.version and not e.compat}
    assert set(symbols.values()) == versioned
    assert symbols["stat"] == "__stat50" and symbols["kevent"] == "__kevent50"


def test_committed_netbsd_padding_is_where_the_master_puts_pad():
    entries = parse(reference("netbsd").read_text(errors="replace"), "netbsd")
    pads = {
        e.name: [i for i, a in enumerate(e.args) if a.is_pad]
        for e in entries
        if not e.compat and any(a.is_pad for a in e.args)
    }
    assert committed("netbsd")["padding"] == pads
    assert pads["lseek"] == [1] and pads["mmap"] == [5] and pads["pread"] == [3]


def test_netbsd_reference_agrees_with_well_known_numbers():
    # Numbers NetBSD has kept since they were assigned (sys/sys/syscall.h, any release).
    entries = by_name(parse(reference("netbsd").read_text(errors="replace"), "netbsd"))
    known = {
        "read": 3,
        "write": 4,
        "open": 5,
        "close": 6,
        "getpid": 20,
        "kqueue": 344,
        "__stat50": 439,
        "__fstat50": 440,
        "pipe2": 453,
        "dup3": 454,
        "openat": 468,
    }
    assert {n: entries[n].number for n in known} == known


@pytest.mark.parametrize("os_name", ["netbsd", "openbsd", "freebsd"])
def test_committed_tables_load_and_cite_their_source(os_name):
    p = Platform.load(f"{os_name}/amd64")
    text = (PLATFORMS / os_name / "amd64.toml").read_text()
    assert re.match(r"# Code generated by `syscalls tables --from-tree \S+ --arch amd64", text)
    assert "DO NOT EDIT" in text.splitlines()[0]
    assert p.syscalls["read"] == 3 and p.syscalls["getpid"] == 20
    assert any("syscalls.master" in s for s in p.sources)
    assert p.errno["ENOENT"] == 2 and p.errno["EAGAIN"] == 35  # from the tree's sys/errno.h
    assert p.constants["O_CREAT"] == 0x200 and p.constants["SIGCHLD"] == 20
    assert any(s.startswith("upstream: ") for s in p.sources)  # repository and commit
    if os_name == "openbsd":
        assert p.symbols["read"] == "read" and "syscall" not in p.symbols


# Sizes from each OS's amd64 headers (cited in platforms/<os>/amd64.h); the host is
# x86_64, whose C layout rules are amd64's, so cffi computes what the BSD's cc does.
SIZES = {
    "netbsd": {"struct stat": 152, "struct kevent": 40, "struct reg": 26 * 8},
    "openbsd": {"struct stat": 128, "struct kevent": 32, "struct reg": 24 * 8},
    "freebsd": {"struct stat": 224, "struct kevent": 64, "struct reg": 176},
}


@pytest.mark.parametrize("os_name", sorted(SIZES))
def test_bsd_cdef_layouts(os_name):
    import struct as pystruct

    import cffi

    if pystruct.calcsize("P") != 8:
        pytest.skip("amd64 layouts are computed on a 64-bit host")
    ffi = cffi.FFI()
    ffi.cdef(Platform.load(f"{os_name}/amd64").cdef)
    assert {t: ffi.sizeof(t) for t in SIZES[os_name]} == SIZES[os_name]
    assert ffi.offsetof("struct sockaddr_in", "sin_port") == 2  # after sin_len, sin_family
    assert ffi.offsetof("struct kevent", "data") == (16 if os_name != "netbsd" else 24)


def test_relative_tree_path_reads_the_machine_headers(monkeypatch):
    # <machine/...> is a link made in a temporary directory: a relative tree path must
    # not leave it dangling (the sample's machine/sample.h defines a constant).
    monkeypatch.chdir(DATA)
    assert (
        generate(Path("netbsd"), "amd64").constants == generate(DATA / "netbsd", "amd64").constants
    )


@pytest.mark.parametrize("os_name", ["netbsd", "openbsd", "freebsd"])
def test_libc_symbols_the_suites_reach_are_declared(os_name):
    # Kernel calls [symbols] entries through libc, which cffi can only do for a declared
    # function: every versioned NetBSD name, and OpenBSD's calls the common layer aliases.
    p = Platform.load(f"{os_name}/amd64")
    wanted = set(p.symbols) if os_name == "netbsd" else set()
    if os_name == "openbsd":
        wanted = {"read", "write", "close", "getpid", "fstat", "kevent", "kqueue", "openat"}
        wanted |= {"pread", "mmap", "socket", "wait4", "clock_gettime", "pipe2", "fstatat"}
    undeclared = {p.symbols[n] for n in wanted if not re.search(rf"\b{p.symbols[n]}\s*\(", p.cdef)}
    assert not undeclared


@pytest.mark.parametrize("os_name", ["netbsd", "openbsd", "freebsd"])
def test_common_aliases_name_calls_the_table_has(os_name):
    p = Platform.load(f"{os_name}/amd64")
    assert p.aliases["pread64"] == "pread" and p.has(p.aliases["getdents64"])
    assert {a: p.has(t) for a, t in p.aliases.items()} == {a: True for a in p.aliases}
    assert (p["F_OK"], p["X_OK"], p["W_OK"], p["R_OK"]) == (0, 1, 2, 4)


# --- the cdef layouts, against the BSD's own headers where a tree is here ------------

# Layouts one OS alone has in its cdef: spliced into the program for that OS.
_LAYOUT_OWN = {
    "netbsd": (
        "#include <sys/statvfs.h>\n",
        "S(struct statvfs); O(struct statvfs, f_fsidx); O(struct statvfs, f_owner);\n"
        "    O(struct statvfs, f_fstypename); O(struct statvfs, f_mntonname);\n"
        "    O(struct statvfs, f_mntfromname); S(struct mmsghdr); O(struct mmsghdr, msg_len);",
    ),
}
_LAYOUT_PROGRAM = """
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/event.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <machine/reg.h>
int printf(const char *, ...);
#define S(t) printf("%s %d\\n", #t, (int)sizeof(t))
#define O(t, f) printf("%s.%s %d\\n", #t, #f, (int)__builtin_offsetof(t, f))
int main(void) {
    S(struct stat); S(struct kevent); S(struct reg); S(struct timeval);
    S(struct sockaddr_un); S(struct sockaddr_in); S(struct linger);
    O(struct linger, l_linger);
    O(struct stat, st_mode); O(struct stat, st_ino); O(struct stat, st_nlink);
    O(struct stat, st_uid); O(struct stat, st_rdev); O(struct stat, st_atim);
    O(struct stat, st_size); O(struct stat, st_blocks); O(struct stat, st_blksize);
    O(struct stat, st_flags); O(struct stat, st_gen);
    O(struct kevent, filter); O(struct kevent, flags); O(struct kevent, fflags);
    O(struct kevent, data); O(struct kevent, udata);
    return 0;
}
"""


@pytest.mark.parametrize("os_name", ["netbsd", "openbsd"])
def test_cdef_layouts_match_the_trees_headers(os_name, tmp_path):
    """Compile a program against the tree's own headers (amd64 is this host's ABI) and
    compare what it prints with cffi's layout of platforms/<os>/amd64.h."""
    import os
    import shutil
    import struct as pystruct
    import subprocess

    import cffi

    from syscalls.tables import bsd

    tree = Path(os.environ.get(f"SYSCALLS_{os_name.upper()}_TREE", f"/var/tmp/bsd/{os_name}"))
    sysdir = bsd.sys_dir(tree) if tree.is_dir() else None
    if sysdir is None or not (sysdir / "sys/stat.h").is_file():
        pytest.skip(f"no {os_name} source tree at {tree} (set SYSCALLS_{os_name.upper()}_TREE)")
    if shutil.which("gcc") is None or pystruct.calcsize("P") != 8 or os.uname().machine != "x86_64":
        pytest.skip("needs gcc on an x86_64 host (amd64's C layout rules)")
    _, major = bsd.release(os_name, sysdir)
    stubs = tmp_path / "inc"
    stubs.mkdir()
    flags = bsd._flags(os_name, major, bsd.ARCHES[os_name]["amd64"], sysdir, stubs)
    flags = [f for f in flags if f != "-undef"]  # gcc's own __x86_64__ ABI macros stay
    includes, checks = _LAYOUT_OWN.get(os_name, ("", ""))
    program = includes + _LAYOUT_PROGRAM.replace("    return 0;", f"    {checks}\n    return 0;")
    (tmp_path / "layout.c").write_text(program)
    for _ in range(64):  # headers the program pulls in from libc are stubbed empty
        cc = subprocess.run(
            ["gcc", "-w", *flags, str(tmp_path / "layout.c"), "-o", str(tmp_path / "layout")],
            capture_output=True,
            text=True,
        )
        missing = re.search(r"fatal error: ([\w/.+-]+\.h): No such file", cc.stderr)
        if cc.returncode == 0 or not missing:
            break
        (stubs / missing.group(1)).parent.mkdir(parents=True, exist_ok=True)
        (stubs / missing.group(1)).write_text("")
    assert cc.returncode == 0, cc.stderr[-2000:]
    run = subprocess.run([str(tmp_path / "layout")], capture_output=True, text=True, check=True)
    native = {k: int(v) for k, v in (line.rsplit(" ", 1) for line in run.stdout.splitlines())}
    ffi = cffi.FFI()
    ffi.cdef(Platform.load(f"{os_name}/amd64").cdef)
    ours = {}
    for key in native:
        ctype, _, member = key.partition(".")
        ours[key] = ffi.offsetof(ctype, member) if member else ffi.sizeof(ctype)
    assert ours == native


def test_upstream_note_is_cited_in_the_sources(tmp_path):
    tree = tmp_path / "netbsd"
    shutil.copytree(DATA / "netbsd", tree)
    (tree / "UPSTREAM").write_text("example/repo 0123abc (sys/ subset)\n\n")
    table = generate(tree, "amd64")
    assert table.sources[-1] == "upstream: example/repo 0123abc (sys/ subset)"
    assert not any(s.startswith("upstream:") for s in generate(DATA / "netbsd", "amd64").sources)


def test_no_compiler_on_path_is_the_compiler_error(tmp_path, monkeypatch):
    from syscalls.tables.cmacros import CompilerMissing

    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CompilerMissing, match="apt-get install gcc"):
        generate(DATA / "netbsd", "amd64")


@pytest.mark.parametrize("os_name", ["netbsd", "openbsd", "freebsd"])
def test_every_committed_number_is_that_entry_in_the_master_text(os_name):
    # Independent of the parser: the master text's record for each number the table
    # gives must name the call (NetBSD's __stat50 appears as `|50|stat(`).
    text = reference(os_name).read_text(errors="replace").replace("\\\n", " ")
    records: dict[int, str] = {}
    for m in re.finditer(r"^(\d+)\s(.*?)(?=^\d+\s|\Z)", text, re.M | re.S):
        records.setdefault(int(m.group(1)), m.group(2))
    wrong = {}
    for name, number in committed(os_name)["syscalls"].items():
        record = records.get(number, "")
        # __wait450 is `|50|wait4(`: any split of the trailing digits may be the version.
        digits = len(name) - len(name.rstrip("0123456789"))
        spellings = [rf"\b{name}\b", rf"\bsys_{name}\("] + [
            rf"\|{name[len(name) - i :]}\|{name[2 : len(name) - i]}\("
            for i in range(1, digits + 1)
            if name.startswith("__")
        ]
        if not any(re.search(s, record) for s in spellings):
            wrong[name] = number
    assert not wrong
    assert len(committed(os_name)["syscalls"]) > 200


# --- --values-from: numbers from a bare syscalls.master, values from an earlier table -


def bare_tree(tmp_path: Path, master: Path, upstream: str = "") -> Path:
    tree = tmp_path / "bare"
    (tree / "sys/kern").mkdir(parents=True)
    shutil.copy(master, tree / "sys/kern/syscalls.master")
    if upstream:
        (tree / "UPSTREAM").write_text(upstream + "\n")
    return tree


def test_values_from_keeps_the_earlier_values_and_says_where_each_part_is_from(tmp_path, capsys):
    earlier = tmp_path / "earlier.toml"
    assert main(["tables", "--from-tree", str(DATA / "openbsd"), "-o", str(earlier)]) == 0
    master = tmp_path / "syscalls.master"  # a newer master: read renumbered, ptrace gone
    text = (DATA / "openbsd/kern/syscalls.master").read_text()
    master.write_text(text.replace("3\tSTD", "33\tSTD").replace("26\tSTD", "26\tOBSOL\t#"))
    tree = bare_tree(tmp_path, master, "sys/kern/syscalls.master: example/src 0123abc")
    out = tmp_path / "new.toml"
    argv = ["tables", "--from-tree", str(tree), "--values-from", str(earlier), "-o", str(out)]
    assert main(argv) == 0
    old, new = tomllib.loads(earlier.read_text()), tomllib.loads(out.read_text())
    assert new["syscalls"]["read"] == 33 and "ptrace" not in new["syscalls"]
    assert "ptrace" not in new["symbols"]  # OpenBSD's libc names follow the master too
    assert new["errno"] == old["errno"] == {"ENOENT": 2, "ENOTSUP": 91}
    assert new.get("constants") == old.get("constants")
    sources = new["platform"]["sources"]
    assert sources[0].startswith("sys/kern/syscalls.master (")
    assert sources[1] == "upstream: sys/kern/syscalls.master: example/src 0123abc"
    carried = [
        s for s in sources[2:] if s.startswith(f"errno, constants (--values-from {earlier}): ")
    ]
    assert carried == sources[2:] and any("sys headers (OpenBSD 7.9" in s for s in carried)
    assert not any("not in this tree" in s for s in sources)
    assert f"--values-from {earlier}" in out.read_text().splitlines()[0]
    # Again, from its own output: the same file (no prefix on prefix).
    first = out.read_text()
    argv = ["tables", "--from-tree", str(tree), "--values-from", str(out), "-o", str(out)]
    assert main(argv) == 0
    assert out.read_text() == first.replace(f"--values-from {earlier}", f"--values-from {out}")


@pytest.mark.parametrize(
    ("earlier", "message"),
    [
        ("missing", "earlier.toml: no such file"),
        ("not toml", "earlier.toml: not valid TOML"),
        ("errno of text", "earlier.toml: [errno] EPERM must be an errno number"),
        ("netbsd", "a table for netbsd/amd64, not openbsd/amd64"),
        ("no values", "it has no [errno] or [constants] to carry"),
        ("tree has headers", "the tree has headers of its own"),
    ],
)
def test_values_from_refuses_what_it_cannot_carry_in_one_line(tmp_path, capsys, earlier, message):
    tree = bare_tree(tmp_path, DATA / "openbsd/kern/syscalls.master")
    path = tmp_path / "earlier.toml"
    if earlier == "not toml":
        path.write_text("[platform\n")
    elif earlier == "errno of text":  # copied on into the new table, before
        path.write_text('[platform]\nos = "openbsd"\narch = "amd64"\n[errno]\nEPERM = "1"\n')
    elif earlier == "netbsd":
        main(["tables", "--from-tree", str(DATA / "netbsd"), "-o", str(path)])
    elif earlier == "no values":
        main(["tables", "--from-tree", str(tree), "-o", str(path)])
    elif earlier == "tree has headers":
        main(["tables", "--from-tree", str(DATA / "openbsd"), "-o", str(path)])
        tree = DATA / "openbsd"
    capsys.readouterr()
    out = tmp_path / "out.toml"
    argv = ["tables", "--from-tree", str(tree), "--values-from", str(path), "-o", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and f"--values-from {path}" in err
    assert not out.exists()


def test_committed_tables_cite_the_reference_revision():
    # What SOURCES.md gives for each reference file (its commit) and the master's own
    # revision tag must be what the committed table says its syscalls.master was.
    sources_md = REFERENCE / "SOURCES.md"
    if not sources_md.is_file():
        pytest.skip(f"no {sources_md} (see the README's Tables section)")
    rows = {
        m.group(1): m.group(2)
        for m in re.finditer(
            r"^\| (\w+)/syscalls\.master \|[^\n]*?\b([0-9a-f]{40})\b", sources_md.read_text(), re.M
        )
    }
    for os_name in ("netbsd", "openbsd", "freebsd"):
        p = Platform.load(f"{os_name}/amd64")
        master_lines = [s for s in p.sources if "--values-from" not in s]  # not carried
        assert any(rows[os_name] in s for s in master_lines), os_name
        tag = re.search(r"syscalls\.master,v ([\d.]+)", reference(os_name).read_text()[:2000])
        if tag:
            assert any(f"revision {tag.group(1)})" in s for s in master_lines), os_name
