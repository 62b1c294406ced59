"""The C macro evaluator that reads constants out of headers."""

from pathlib import Path

import pytest

from syscalls.tables.cmacros import Evaluator, constants, parse_defines, parse_enums


@pytest.mark.parametrize(
    ("body", "value"),
    [
        ("0x10", 16),
        ("010", 8),
        ("(1 << 3)", 8),
        ("(A | B)", 3),
        ("~0UL", 2**64 - 1),
        ("(1U << 31)", 2**31),
        ("(1 << 31)", -(2**31)),
        ("0x80000000", 2**31),
        ("((__force __poll_t)0x00000004)", 4),
        ("(-100)", -100),
        ("(int)5", 5),
        ("A + B * 2", 5),
        ("SELF", None),
        ("foo(1)", None),
        ('"str"', None),
        ("(A ? 1 : 2)", None),
        ("", None),
        ("!A", 0),
        ("7 / 2", 3),
        ("1 / 0", None),
        # Past 64 bits no C constant goes: a table could not be written with the first
        # (ValueError: too many digits for a string).
        ("(1 << 999999)", None),
        ("(1 << 3000000) * (1 << 3000000)", None),
        ("1 << -1", None),
        ("9" * 5000, None),
    ],
)
def test_evaluates_like_c(body: str, value: int | None) -> None:
    ev = Evaluator({"A": "1", "B": "2", "SELF": "SELF"})
    assert ev.evaluate(body) == value


def test_unsigned_long_wraps_at_the_data_model_width() -> None:
    assert Evaluator({}, long_bits=32).evaluate("~0UL") == 2**32 - 1


def test_parse_defines_skips_function_like_macros_and_comments() -> None:
    text = "#define A 1 /* one */\n#define F(x) (x)\n#  define B (A+1) // two\n"
    assert parse_defines(text) == {"A": "1", "B": "(A+1)"}


def test_enums_count_on_from_the_last_value() -> None:
    enums = parse_enums("enum { X = 4, Y, Z = X + 10, W };", {})
    ev = Evaluator(enums)
    assert [ev.value(n) for n in "XYZW"] == [4, 5, 14, 15]


def test_constants_from_a_header_through_the_preprocessor(tmp_path: Path) -> None:
    inc = tmp_path / "inc"
    inc.mkdir()
    (inc / "t.h").write_text(
        "#include <missing/libc.h>\n#define T_ONE 1\n#define T_TWO (T_ONE << 1)\n"
        "enum { T_E0, T_E1 };\n#define T_E1 T_E1\n#define OTHER 9\n"
    )
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    flags = ["-nostdinc", "-I", str(inc), "-I", str(stubs)]
    got = constants(["t.h"], flags, ["T_"], stubs=stubs)
    assert got == {"T_ONE": 1, "T_TWO": 2, "T_E0": 0, "T_E1": 1}
    assert (stubs / "missing/libc.h").exists()  # a libc header it could not see: stubbed


# include/uapi/asm-generic/ioctl.h's layout, as the headers define it.
IOC = {
    "_IOC_NRSHIFT": "0",
    "_IOC_NRBITS": "8",
    "_IOC_TYPEBITS": "8",
    "_IOC_SIZEBITS": "14",
    "_IOC_TYPESHIFT": "(_IOC_NRSHIFT+_IOC_NRBITS)",
    "_IOC_SIZESHIFT": "(_IOC_TYPESHIFT+_IOC_TYPEBITS)",
    "_IOC_DIRSHIFT": "(_IOC_SIZESHIFT+_IOC_SIZEBITS)",
    "_IOC_NONE": "0U",
    "_IOC_WRITE": "1U",
    "_IOC_READ": "2U",
    "UFFDIO": "0xAA",
}


@pytest.mark.parametrize(
    ("body", "long_bits", "value"),
    [
        ("_IOR('T', 0x30, unsigned int)", 64, 0x80045430),  # TIOCGPTN
        ("_IOW('T', 0x31, int)", 64, 0x40045431),  # TIOCSPTLCK
        ("_IO('T', 0x41)", 64, 0x5441),  # TIOCGPTPEER
        ("_IOR('f', 1, long)", 64, 0x80086601),  # FS_IOC_GETFLAGS
        ("_IOR('f', 1, long)", 32, 0x80046601),
        ("_IOWR(UFFDIO, 0x3F, __u64)", 64, 0xC008AA3F),
        ("_IOW(0x12, 1, char *)", 32, 0x40041201),
        ("_IOR('f', 1, struct unknown)", 64, None),  # a struct's size is not known here
        ("_IOR('f', 1)", 64, None),
    ],
)
def test_ioctl_requests_are_computed_from_the_headers_layout(
    body: str, long_bits: int, value: int | None
) -> None:
    assert Evaluator(IOC, long_bits).evaluate(body) == value


# The BSDs' sys/ioccom.h (NetBSD 7.99's values; FreeBSD's and OpenBSD's are the same).
BSD_IOC = {
    "IOCPARM_MASK": "0x1fff",
    "IOCPARM_SHIFT": "16",
    "IOCGROUP_SHIFT": "8",
    "IOC_VOID": "(unsigned long)0x20000000",
    "IOC_OUT": "(unsigned long)0x40000000",
    "IOC_IN": "(unsigned long)0x80000000",
    "IOC_INOUT": "(IOC_IN|IOC_OUT)",
}


@pytest.mark.parametrize(
    ("body", "value"),
    [
        ("_IO('f', 1)", 0x20006601),  # FIOCLEX
        ("_IOR('f', 127, int)", 0x4004667F),  # FIONREAD
        ("_IOW('f', 126, int)", 0x8004667E),  # FIONBIO
        ("_IOWR('i', 33, uint64_t)", 0xC0086921),
        ("_IOR('f', 1, struct unknown)", None),
    ],
)
def test_bsd_ioctl_requests_follow_ioccom(body: str, value: int | None) -> None:
    assert Evaluator(BSD_IOC, 64).evaluate(body) == value


def test_character_literals_are_their_code() -> None:
    assert Evaluator({}).evaluate("'T' << 8") == 0x5400
