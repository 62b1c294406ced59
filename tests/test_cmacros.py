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
