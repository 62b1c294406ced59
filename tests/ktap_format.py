"""A strict reader of KTAP version 1, written for the tests from the format's rules
(Documentation/dev-tools/ktap.rst in Linux 6.1), independently of syscalls/ktap.py.

The rules checked, each a KtapError naming the line:
- the output starts with the version line `KTAP version 1`; a nested block starts with
  the same line, indented one level (two spaces) deeper than its parent;
- a plan `1..N` follows the version line (diagnostic lines, such as KUnit's
  `# Subtest: NAME`, may come between); a block holds exactly N results;
- a result line is `ok|not ok NUMBER [DESCRIPTION][ # [DIRECTIVE] [DATA]]`, numbered
  1, 2, ... in order within its block; the description holds no `#`;
- directives: SKIP (ok or not ok), TODO, XFAIL, TIMEOUT and ERROR (these two with
  not ok);
- a nested block is closed by the result line of the test it belongs to, at the
  parent's indentation; that result is `not ok` when a subtest is;
- `# ...` lines are diagnostics, attached to the result that follows them; every
  other line is an "unknown line", refused here (strict=True) since the suite never
  writes one, or ignored (strict=False), as the format allows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

VERSION = "KTAP version 1"
STEP = "  "
DIRECTIVES = ("SKIP", "TODO", "XFAIL", "TIMEOUT", "ERROR")
_PLAN = re.compile(r"1\.\.(\d+)")
_RESULT = re.compile(r"(ok|not ok) (\d+)(?: ([^#]*?))?(?: # ?(.*))?")


class KtapError(ValueError):
    pass


@dataclass
class Result:
    ok: bool
    number: int
    description: str
    directive: str | None = None
    data: str = ""  # the diagnostic data after the `#` (and the directive)
    diagnostics: list[str] = field(default_factory=list)  # `# ...` lines before it
    block: Block | None = None  # the subtests this result closes


@dataclass
class Block:
    plan: int
    results: list[Result]
    name: str | None = None  # `# Subtest: NAME`
    diagnostics: list[str] = field(default_factory=list)  # before the plan, and trailing


def parse(text: str, strict: bool = True) -> Block:
    if not text.endswith("\n"):
        raise KtapError("the output does not end with a newline")
    lines = text[:-1].split("\n")
    reader = _Reader(lines, strict)
    block = reader.block(0)
    while reader.pos < len(lines):  # diagnostics after the last result (totals)
        line = lines[reader.pos]
        if line.startswith("# ") or line == "#":
            block.diagnostics.append(line[2:])
        elif strict:
            raise reader.error("after the last result: neither a diagnostic nor empty")
        reader.pos += 1
    return block


class _Reader:
    def __init__(self, lines: list[str], strict: bool) -> None:
        self.lines = lines
        self.strict = strict
        self.pos = 0

    def error(self, why: str) -> KtapError:
        line = self.lines[self.pos] if self.pos < len(self.lines) else "<end>"
        return KtapError(f"line {self.pos + 1}: {why}: {line!r}")

    def next_line(self, indent: str) -> str | None:
        """The next line of this block without its indentation (a nested block's
        version line keeps its extra step); None where the block's lines end."""
        while self.pos < len(self.lines):
            line = self.lines[self.pos]
            if line.startswith(indent):
                body = line[len(indent) :]
                if not body.startswith(" ") or body == STEP + VERSION:
                    return body
            elif _ktap_like(line.lstrip(" ")):
                return None  # a line of an enclosing block
            if self.strict:
                raise self.error(f"not indented by {len(indent)} spaces")
            self.pos += 1  # an unknown line, indented or not
        return None

    def block(self, depth: int) -> Block:
        indent = STEP * depth
        if self.next_line(indent) != VERSION:
            raise self.error(f"expected {VERSION!r}")
        self.pos += 1
        block = Block(plan=-1, results=[])
        while True:
            line = self.next_line(indent)
            if line is None:
                raise self.error("no plan line after the version line")
            self.pos += 1
            m = _PLAN.fullmatch(line)
            if m:
                block.plan = int(m.group(1))
                break
            if not line.startswith("#"):
                if not self.strict:
                    continue  # an unknown line
                self.pos -= 1
                raise self.error("expected the plan `1..N` after the version line")
            text = line[1:].strip()
            if text.startswith("Subtest: "):
                block.name = text.removeprefix("Subtest: ")
            block.diagnostics.append(text)
        pending: list[str] = []
        nested: Block | None = None
        while len(block.results) < block.plan:
            line = self.next_line(indent)
            if line is None:
                raise self.error(f"{len(block.results)} results of the {block.plan} planned")
            if line == STEP + VERSION:
                if nested is not None:
                    raise self.error("a nested block without the result that closes it")
                nested = self.block(depth + 1)
                continue
            self.pos += 1
            if line.startswith("#"):
                pending.append(line[1:].removeprefix(" "))
                continue
            m = _RESULT.fullmatch(line)
            if not m:
                if not self.strict:
                    continue  # an unknown line
                self.pos -= 1
                raise self.error("neither a result, a diagnostic nor a nested block")
            result = self.result(m, len(block.results) + 1)
            result.diagnostics, result.block = pending, nested
            if nested is not None and result.ok and not all(r.ok for r in nested.results):
                self.pos -= 1
                raise self.error("ok, though one of its subtests is not ok")
            block.results.append(result)
            pending, nested = [], None
        if nested is not None:
            raise self.error("a nested block after the last planned result")
        return block

    def result(self, m: re.Match[str], expected: int) -> Result:
        ok = m.group(1) == "ok"
        number = int(m.group(2))
        if number != expected:
            self.pos -= 1
            raise self.error(f"test number {number}, expected {expected}")
        description = (m.group(3) or "").strip()
        rest = m.group(4)
        directive, data = None, ""
        if rest is not None:
            word, _, tail = rest.partition(" ")
            if word.upper() in DIRECTIVES:
                directive, data = word.upper(), tail.strip()
            else:
                data = rest.strip()
        if directive in ("TIMEOUT", "ERROR") and ok:
            self.pos -= 1
            raise self.error(f"{directive} on an ok result")
        return Result(ok, number, description, directive, data)


def _ktap_like(line: str) -> bool:
    return bool(
        line == VERSION or line.startswith("#") or _PLAN.fullmatch(line) or _RESULT.fullmatch(line)
    )


def leaves(block: Block, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Result]:
    """Every result without subtests, keyed by the descriptions from the top down."""
    out: dict[tuple[str, ...], Result] = {}
    for r in block.results:
        key = (*path, r.description)
        if r.block is None:
            if key in out:
                raise KtapError(f"two results named {' / '.join(key)!r}")
            out[key] = r
        else:
            out.update(leaves(r.block, key))
    return out
