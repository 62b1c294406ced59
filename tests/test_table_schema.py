"""Binding tables are checked against one schema when loaded (syscalls.table_schema), and
their C declarations compiled up front (syscalls.kernel.declarations): a bad table is a
PlatformError of one line naming the file and the key, file and line, never a traceback
or a suite whose tests fail one by one."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from syscalls.abi import PLATFORMS_DIR, Platform, PlatformError, available
from syscalls.kernel import Kernel, declarations, load_checked

GOOD = '[platform]\nos = "linux"\narch = "x86_64"\n[syscalls]\nread = 0\n[errno]\nENOENT = 2\n'


def table(tmp_path: Path, text: str, name: str = "t.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def refused(path: Path | str, match: str) -> str:
    with pytest.raises(PlatformError) as info:
        load_checked(str(path))
    message = str(info.value)
    assert "\n" not in message
    assert re.search(match, message), message
    return message


def test_a_good_minimal_table_loads(tmp_path: Path) -> None:
    p = load_checked(str(table(tmp_path, GOOD)))
    assert p.syscalls == {"read": 0} and p.errno == {"ENOENT": 2}


@pytest.mark.parametrize(
    ("text", "match"),
    [
        # the cases of issue 9: each an INTERNALERROR, 55 KeyErrors or a cffi TypeError
        (GOOD.replace('os = "linux"', "os = 5"), r"t\.toml: \[platform\] os must be .*, not 5"),
        (GOOD.replace("read = 0", 'read = "0"'), r"\[syscalls\] read must be a syscall number"),
        (GOOD.replace("[syscalls]\nread = 0\n", ""), r"t\.toml: no \[syscalls\]"),
        (GOOD.replace("[errno]\nENOENT = 2\n", ""), r"t\.toml: no \[errno\]"),
        (GOOD.replace("read = 0", "read = true"), r"read must be a syscall number.*not True"),
        (GOOD.replace("read = 0", "read = -1"), r"read must be a syscall number"),
        (GOOD.replace("read = 0", "read = 1.5"), r"read must be a syscall number"),
        (GOOD.replace("read = 0", "read = 4294967296"), r"read must be a syscall number"),
        (GOOD.replace("ENOENT = 2", "ENOENT = 0"), r"\[errno\] ENOENT must be an errno number"),
        (GOOD + "[constants]\nO_X = 18446744073709551616\n", r"O_X must be an integer of at most"),
        (GOOD + '[constants]\nO_X = "1"\n', r"\[constants\] O_X must be an integer"),
        (GOOD + "[constants.O_X]\na = 1\n", r"O_X must be an integer .*not a table"),
        (GOOD + '[symbols]\nread = "not a symbol"\n', r"\[symbols\] read must be a C name"),
        (GOOD + "[padding]\nread = 1\n", r"\[padding\] read must be a list of argument"),
        (GOOD + "[padding]\nread = [9]\n", r"\[padding\] read must be a list of argument"),
        (GOOD + "[padding]\nwrite = [1]\n", r"t\.toml: \[padding\] write: not in \[syscalls\]"),
        (GOOD + "[optional]\nread = 1\n", r"\[optional\] read must be a string"),
        (GOOD + '[aliases]\nrd = "reed"\n', r"t\.toml: \[aliases\] rd = 'reed': reed is in"),
        (GOOD + "[syscall]\nwrite = 1\n", r"unknown section \[syscall\] \(known: \[platform\]"),
        ("x = 3\n" + GOOD, r"t\.toml: unknown section \[x\]"),
        (GOOD.replace("[platform]\n", "[platform]\nrelease = 6\n"), r"release must be a string"),
        (GOOD.replace("[platform]\n", '[platform]\nrelese = "6"\n'), r"relese: unknown key"),
        (GOOD.replace("[platform]\n", 'platform = "linux"\n[p]\n'), r"\[platform\] must be a"),
        (GOOD.replace("[platform]\n", '[platform]\nsources = "x"\n'), r"sources must be a list"),
        (GOOD.replace("[platform]\n", '[platform]\ncdef = "x.h"\n'), r"cdef must be a list"),
        (GOOD.replace("[platform]\n", '[platform]\ncdef = ["/etc/x.h"]\n'), r"cdef must be"),
        (GOOD.replace("[platform]\n", '[platform]\ncdef = ["gone.h"]\n'), r"cdef names gone\.h"),
        (
            GOOD.replace("[platform]\n", '[platform]\nerrors_in_value = ["wait4"]\n'),
            r"t\.toml: \[platform\] errors_in_value names wait4, which is in neither",
        ),
        (GOOD.replace('arch = "x86_64"', 'arch = "../../etc"'), r"\[platform\] arch must be"),
        (GOOD.replace('arch = "x86_64"\n', ""), r"t\.toml: \[platform\] must name os and arch"),
        ("", r"t\.toml: \[platform\] must name os and arch"),
        (GOOD + "[syscalls\n", r"t\.toml: not valid TOML: "),
        ("a = 1" + "0" * 5000 + "\n", r"t\.toml: not valid TOML: "),
        ("a = " + "[" * 5000 + "]" * 5000 + "\n", r"t\.toml: not valid TOML: "),
    ],
)
def test_a_malformed_table_is_one_line_naming_file_and_key(
    tmp_path: Path, text: str, match: str
) -> None:
    refused(table(tmp_path, text), match)


def test_a_file_that_is_not_text_or_not_a_file_is_refused(tmp_path: Path) -> None:
    refused(table(tmp_path, "").parent / "missing.toml", r"no such table: .*missing\.toml")
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00[platform]")
    refused(binary, r"bin\.toml: not UTF-8 text")
    (tmp_path / "dir.toml").mkdir()
    refused(tmp_path / "dir.toml", r"dir\.toml: is a directory, not a binding table")
    os.mkfifo(tmp_path / "fifo.toml")  # read as a file, it would wait for a writer forever
    refused(tmp_path / "fifo.toml", r"fifo\.toml: not a regular file")
    refused("/dev/zero.toml", r"no such table")


@pytest.mark.parametrize("spec", ["../../etc/passwd", "linux/../../x", "linux", "LINUX/X86"])
def test_a_platform_name_is_os_slash_arch_and_nothing_else(spec: str) -> None:
    refused(spec, r"expected OS/ARCH")


# -- C declarations ----------------------------------------------------------------------


def with_header(tmp_path: Path, header: str, name: str = "mine.h", cdef: bool = True) -> Path:
    """A copy of the x86_64 table whose own C declarations are `header`."""
    text = (PLATFORMS_DIR / "linux" / "x86_64.toml").read_text()
    if cdef:
        text = text.replace('arch = "x86_64"\n', f'arch = "x86_64"\ncdef = ["{name}"]\n', 1)
    (tmp_path / name).write_text(header)
    return table(tmp_path, text, "mine.toml")


def test_the_table_s_own_headers_are_used_after_the_os_s(tmp_path: Path) -> None:
    path = with_header(tmp_path, "struct mine { struct timespec ts; int x; };\n", "extra.h")
    (tmp_path / "mine.h").write_text("struct sibling { struct mine m; long y; };\n")
    p = load_checked(str(path))
    assert [f.name for f in p.cdef_files] == ["common.h", "lp64.h", "x86_64.h", "extra.h", "mine.h"]
    k = Kernel(p)
    assert k.ffi.sizeof("struct sibling") == k.ffi.sizeof("struct timespec") + 8 + 8


def test_a_sibling_header_alone_is_used(tmp_path: Path) -> None:
    path = with_header(tmp_path, "struct only_mine { int x; };\n", cdef=False)
    assert Kernel(Platform.load(path)).ffi.sizeof("struct only_mine") == 4


@pytest.mark.parametrize(
    ("header", "match"),
    [
        ("struct oops { int x ;\n", r"mine\.h: At end of input"),  # not blamed on the next file
        ("struct ok { int x; };\nstruct stat { int x; };\n", r"mine\.h:2: duplicate .*struct stat"),
        ("struct a { int x; } ]\n", r"mine\.h:1:\d+: before: \]"),
        ("#include <stdio.h>\n", r"mine\.h:1:1: Directives not supported"),
        ("struct a { int x[n]; };\n", r"unsupported expression.*\(in .*mine\.h\)"),
        ("\x01\n", r"mine\.h:1:1: Illegal character"),
    ],
)
def test_bad_c_is_one_line_naming_the_table_the_header_and_the_line(
    tmp_path: Path, header: str, match: str
) -> None:
    path = with_header(tmp_path, header)
    message = refused(path, r"mine\.toml: C declarations: .*" + match)
    # the pytest glue, too, reports it rather than an INTERNALERROR (Kernel compiles it)
    with pytest.raises(PlatformError, match=re.escape(message)):
        Kernel(Platform.load(path))


def test_a_header_that_is_not_a_file_or_not_text_is_refused(tmp_path: Path) -> None:
    path = with_header(tmp_path, "", cdef=False)
    (tmp_path / "mine.h").unlink()
    (tmp_path / "mine.h").mkdir()
    refused(path, r"mine\.h: is a directory, not a C declarations file")
    (tmp_path / "mine.h").rmdir()
    (tmp_path / "mine.h").write_bytes(b"struct \xff;\n")
    refused(path, r"mine\.h: not UTF-8 text")


# -- the committed tables ---------------------------------------------------------------


@pytest.mark.parametrize("spec", available())
def test_every_committed_table_loads_and_compiles(spec: str) -> None:
    p = load_checked(spec)
    declarations(p)
    assert p.syscalls and p.errno


@pytest.mark.parametrize("spec", available())
def test_hand_written_layers_name_only_calls_of_the_committed_table(spec: str) -> None:
    """Load skips this check for the layers around a table given by path (they serve
    any table of the OS): here it holds for the tables they were written for."""
    p = Platform.load(spec)
    known = set(p.syscalls) | set(p.symbols)
    assert {name: to for name, to in p.aliases.items() if to not in known} == {}
    assert p.errors_in_value <= known
