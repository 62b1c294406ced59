"""Integer constants out of C headers, by the C preprocessor and a small evaluator.

`cc -E -dM` lists every object-like macro the headers define; evaluating their bodies
here (rather than compiling and running a program) works for any target arch, since
nothing is executed. Enumerators are read from the preprocessed text the same way.
ioctl request numbers (`_IOR('T', 0x30, unsigned int)`) are computed from the
headers' own layout macros — Linux's _IOC_*SHIFT and _IOC_READ/_IOC_WRITE, or the BSDs'
(sys/ioccom.h) IOC_VOID/IOC_OUT/IOC_IN, IOCPARM_SHIFT/IOCPARM_MASK and IOCGROUP_SHIFT —
and the size of the type, for the C types whose size the data model alone fixes (a
struct's size is not known here: such requests are left out).
"""

from __future__ import annotations

import ast
import operator
import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

_DEFINE = re.compile(r"^#\s*define\s+([A-Za-z_]\w*)(?!\()\s*(.*)$")
_TOKEN = re.compile(
    r"\s*(?:(0[xX][0-9a-fA-F]+|\d+)[uUlL]*|([A-Za-z_]\w*)|(<<|>>|[-+~|&^*/%()!]|\?|:))"
)
# Parenthesised casts like (__force __poll_t), (unsigned long), (int): dropped.
_CAST = re.compile(
    r"\(\s*(?:(?:const|signed|unsigned|long|int|short|char|__force|"
    r"__s\d+|__u\d+|__kernel_\w+|__\w+_t|\w+_t)\s*)+\*?\s*\)"
)
_ENUM = re.compile(r"\benum\b[^{;]*\{([^}]*)\}", re.S)
_CHAR = re.compile(r"'([^'\\])'")  # a plain character literal: 'T'
# include/uapi/asm-generic/ioctl.h: _IO(type, nr), _IOR/_IOW/_IOWR(type, nr, argtype).
_IOCTL = re.compile(r"\b_IO(|R|W|WR)\s*\(([^()]*)\)")
_IOCTL_DIR = {"": "_IOC_NONE", "R": "_IOC_READ", "W": "_IOC_WRITE", "WR": "_IOC_READ|_IOC_WRITE"}
# The BSDs' sys/ioccom.h: _IOC(inout, group, num, len), the direction a high bit of its own.
_BSD_IOCTL_DIR = {"": "IOC_VOID", "R": "IOC_OUT", "W": "IOC_IN", "WR": "IOC_INOUT"}


# What the evaluator computes: C's integer operators. No C integer, nor any step of C's
# arithmetic, is wider than 64 bits: a body that goes past is no constant of C's.
_BINARY = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.LShift: operator.lshift,
    ast.RShift: operator.rshift, ast.BitOr: operator.or_, ast.BitAnd: operator.and_,
    ast.BitXor: operator.xor,
}  # fmt: skip
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert}
WIDE = 1 << 64


class CompilerMissing(RuntimeError):
    """No C preprocessor: the header-reading half of the generator cannot run."""


def find_cc() -> str:
    for name in ("cc", "gcc", "clang"):
        path = shutil.which(name)
        if path:
            return path
    raise CompilerMissing(
        "reading constants from headers needs a C preprocessor (cc, gcc or clang); "
        "install one (Debian: apt-get install gcc) and run again"
    )


_MISSING = re.compile(r"fatal error: ([\w/.+-]+\.h): No such file")


def preprocess(
    includes: Sequence[str], flags: Sequence[str], dump_macros: bool, stubs: Path | None = None
) -> str:
    """Run the preprocessor over a file that #includes each header; its output text.

    With `stubs` (a directory also on the include path), a header the tree's headers
    include from the C library (<unistd.h> in linux/shm.h) is stubbed out empty, so that
    no host header leaks into another arch's table.
    """
    source = "".join(f"#include <{h}>\n" for h in includes)
    cmd = [find_cc(), "-E", "-P", "-x", "c", *flags, "-"]
    if dump_macros:
        cmd.insert(2, "-dM")
    for _ in range(32):
        proc = subprocess.run(cmd, input=source, capture_output=True, text=True, check=False)
        if proc.returncode == 0:
            return proc.stdout
        missing = _MISSING.search(proc.stderr)
        if stubs is None or not missing or (stubs / missing.group(1)).exists():
            break
        (stubs / missing.group(1)).parent.mkdir(parents=True, exist_ok=True)
        (stubs / missing.group(1)).write_text("")
    raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr.strip()[:2000]}")


def parse_defines(text: str) -> dict[str, str]:
    """NAME -> body for every object-like #define in `text` (-dM output or a header)."""
    macros: dict[str, str] = {}
    for line in text.splitlines():
        m = _DEFINE.match(line.strip())
        if m:
            body = re.sub(r"/\*.*?\*/|//.*$", "", m.group(2)).strip()
            macros[m.group(1)] = body
    return macros


def parse_enums(text: str, macros: dict[str, str]) -> dict[str, str]:
    """Enumerators of every enum in preprocessed text, as bodies the evaluator reads."""
    found: dict[str, str] = {}
    for body in _ENUM.findall(text):
        previous = None
        for item in body.split(","):
            name, _, expr = item.partition("=")
            name = name.strip()
            if not re.fullmatch(r"[A-Za-z_]\w*", name):
                continue
            if expr.strip():
                value = expr.strip()
            elif previous is None:
                value = "0"
            else:
                value = f"({previous}) + 1"
            found[name] = value
            previous = name
    return found


class Evaluator:
    """Evaluates macro bodies to integers, expanding the macros they name."""

    def __init__(self, macros: dict[str, str], long_bits: int = 64) -> None:
        self.macros = macros
        self.long_bits = long_bits
        self._done: dict[str, int | None] = {}

    def value(self, name: str) -> int | None:
        if name not in self._done:
            self._done[name] = None  # guards against self-reference
            body = self.macros.get(name)
            self._done[name] = None if body is None else self.evaluate(body)
        return self._done[name]

    def sizeof(self, ctype: str) -> int | None:
        """sizeof a C type named in an ioctl macro, where the data model fixes it."""
        words = ctype.replace("*", " * ").split()
        if "*" in words:
            return self.long_bits // 8
        words = [w for w in words if w not in ("const", "volatile", "signed", "unsigned")]
        name = " ".join(words) or "int"
        m = re.fullmatch(r"(?:__[su]|u?int)(8|16|32|64)(?:_t)?", name)
        if m:
            return int(m.group(1)) // 8
        sizes = {"char": 1, "short": 2, "short int": 2, "int": 4, "long long": 8}
        word = self.long_bits // 8
        sizes.update(dict.fromkeys(("long", "long int", "size_t", "__kernel_size_t"), word))
        return sizes.get(name)

    def _ioctl(self, m: re.Match[str]) -> str:
        """One _IO/_IOR/_IOW/_IOWR call as the number it makes (or a poison token)."""
        args = [a.strip() for a in m.group(2).split(",")]
        size = 0
        if m.group(1):
            size = self.sizeof(args[2]) if len(args) == 3 else None
        elif len(args) != 2:
            size = None
        kind, nr = (self.evaluate(a) for a in args[:2]) if len(args) >= 2 else (None, None)
        if "_IOC_DIRSHIFT" not in self.macros and "IOCPARM_SHIFT" in self.macros:
            return self._bsd_ioctl(m.group(1), kind, nr, size)
        shifts = [self.value(f"_IOC_{p}SHIFT") for p in ("DIR", "TYPE", "NR", "SIZE")]
        direction = self.evaluate(_IOCTL_DIR[m.group(1)])
        if size is None or None in (*shifts, direction, kind, nr):
            return "?"  # the whole body then evaluates to None
        d, t, n, s = shifts
        return str(direction << d | kind << t | nr << n | size << s)

    def _bsd_ioctl(
        self, kind_of_call: str, group: int | None, nr: int | None, size: int | None
    ) -> str:
        """sys/ioccom.h's _IOC: inout | (len & IOCPARM_MASK) << IOCPARM_SHIFT |
        group << IOCGROUP_SHIFT | num."""
        direction = self.value(_BSD_IOCTL_DIR[kind_of_call])
        mask, shift = self.value("IOCPARM_MASK"), self.value("IOCPARM_SHIFT")
        group_shift = self.value("IOCGROUP_SHIFT")
        if size is None or None in (direction, mask, shift, group_shift, group, nr):
            return "?"
        return str(direction | (size & mask) << shift | group << group_shift | nr)

    def evaluate(self, body: str) -> int | None:
        body = _CHAR.sub(lambda m: str(ord(m.group(1))), body)
        body = _IOCTL.sub(self._ioctl, body)
        text = _CAST.sub(" ", body).strip()
        if not text:
            return None
        out: list[str] = []
        unsigned_bits = 0  # C's unsigned arithmetic wraps: ~0UL is all ones, not -1
        plain_int = True  # only int operands: C computes in int, so 1 << 31 is negative
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                return None
            pos = m.end()
            number, ident, op = m.groups()
            if number is not None:
                suffix = m.group(0).strip()[len(number) :].lower()
                literal = _literal(number) if len(number) <= 32 else WIDE
                if literal >= WIDE:
                    return None
                if suffix or literal > 0x7FFFFFFF:
                    plain_int = False
                if "u" in suffix:
                    width = self.long_bits if "l" in suffix else 32
                    unsigned_bits = max(unsigned_bits, 64 if "ll" in suffix else width)
                out.append(str(literal))
            elif ident is not None:
                v = self.value(ident)
                if v is None:
                    return None
                if not -(1 << 31) <= v < (1 << 31):
                    plain_int = False
                out.append(f"({v})")
            else:
                out.append({"/": "//", "!": " not ", "?": None, ":": None}.get(op, op) or "")
                if op in "?:":
                    return None
        try:
            result = _arithmetic(ast.parse(" ".join(out).strip(), mode="eval").body)
        except (SyntaxError, ValueError, ZeroDivisionError, RecursionError, MemoryError):
            return None
        if plain_int and (1 << 31) <= result < (1 << 32):
            return result - (1 << 32)
        return result & ((1 << unsigned_bits) - 1) if unsigned_bits and result < 0 else result


def _arithmetic(node: ast.AST) -> int:
    """An expression of the vetted tokens, each step within 64 bits (ValueError past:
    a header's `1 << 999999` made a constant no table could be written with)."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        value = node.value
    elif isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _arithmetic(node.left), _arithmetic(node.right)
        if isinstance(node.op, ast.LShift) and not 0 <= right < 128:
            raise ValueError("shift count out of range")
        value = _BINARY[type(node.op)](left, right)
    elif isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        value = _UNARY[type(node.op)](_arithmetic(node.operand))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):  # C's !
        value = int(not _arithmetic(node.operand))
    else:
        raise ValueError("not an integer expression")
    if not -WIDE < value < WIDE:
        raise ValueError("wider than 64 bits")
    return value


def _literal(number: str) -> int:
    if number[:2] in ("0x", "0X"):
        return int(number, 16)
    return int(number, 8) if number.startswith("0") and number != "0" else int(number)


def constants(
    includes: Sequence[str],
    flags: Sequence[str],
    wanted: Iterable[str],
    extra_headers: Iterable[Path] = (),
    stubs: Path | None = None,
    long_bits: int = 64,
) -> dict[str, int]:
    """Every macro or enumerator whose name starts with one of `wanted` prefixes.

    `extra_headers` are read as text for their simple #defines and enums (headers that
    cannot be preprocessed on their own, such as kernel-internal ones).
    """
    macros = parse_defines(preprocess(includes, flags, True, stubs))
    plain = preprocess(includes, flags, False, stubs)
    for name, body in parse_enums(plain, macros).items():
        if macros.get(name, name) == name:  # `#define IPPROTO_TCP IPPROTO_TCP` names the enum
            macros[name] = body
    for header in extra_headers:
        text = header.read_text(errors="replace")
        for name, body in {**parse_enums(text, macros), **parse_defines(text)}.items():
            macros.setdefault(name, body)
    # "X_" keeps names starting with X_; "*_MAGIC" keeps names ending with _MAGIC.
    prefixes = tuple(w for w in wanted if not w.startswith("*"))
    suffixes = tuple(w[1:] for w in wanted if w.startswith("*"))
    reserved = tuple(w for w in prefixes if w.startswith("__")) or ("\0",)
    ev = Evaluator(macros, long_bits)
    out = {}
    for name in sorted(macros):
        # Names reserved to the implementation (__x) only where a prefix asks for them.
        wanted_name = name.startswith(prefixes) or bool(suffixes and name.endswith(suffixes))
        if wanted_name and (not name.startswith("__") or name.startswith(reserved)):
            v = ev.value(name)
            if v is not None:
                out[name] = v
    return out
