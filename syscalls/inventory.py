"""What the suites test: each test's syscalls, found by reading the source (no kernel calls).

A test exercises the syscalls it calls through the Kernel: `kernel.openat(...)`,
`k.read(...)`, `self.kernel.pipe2(...)`, `kernel.caller("name")(...)`, and
`getattr(kernel, "name")(...)` — with a parametrized name resolved through the test's
literal `@pytest.mark.parametrize` values. Calls reach further through the same file's
helper functions and classes, and through the fixtures the test asks for (from its own
file, its area's conftest.py or suites/conftest.py), including methods called on a fixture's object
(`fds.pipe()` -> pipe2). Names are counted against a platform table through its aliases
(fstatat -> newfstatat).

The constants a test names (`kernel.O_CLOEXEC`, `getattr(kernel, "EPOLLIN")`) are
found the same way, and its `os` and `arch` markers (on the function, its class or the
module's `pytestmark`) are read: a test can run on a platform when no marker excludes
it and the table holds every syscall and constant it names (`syscalls list` counts
them, "runnable on ..."); a missing one would skip it there.

What this cannot see: calls made through a value computed at run time (a name built
from strings, a function passed in), constants named only in strings handed to a
helper (`bits("O_RDONLY|O_CLOEXEC")`), and syscalls made by Python itself (os.*).
"""

from __future__ import annotations

import ast
import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from syscalls.abi import Platform
from syscalls.kernel import Kernel

# Kernel's own helpers (buf, new, has, caller, ...) are not syscalls.
_NOT_SYSCALLS = frozenset(n for n in dir(Kernel) if not n.startswith("_")) | {"ffi", "libc"}
_KERNEL_NAMES = frozenset({"kernel", "k"})

Function = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass
class TestInfo:
    """One test function (a parametrized one counts its cases)."""

    area: str
    file: str  # relative to the suites directory: fs/test_openat.py
    name: str  # test_x, or TestClass::test_x
    syscalls: set[str] = field(default_factory=set)
    cases: int = 1
    constants: set[str] = field(default_factory=set)
    # Per parametrize decorator, per case, the names only that case reaches.
    case_names: list[list[set[str]]] = field(default_factory=list)
    # What its markers admit (each marker's arguments, intersected); None: no marker.
    oses: frozenset[str] | None = None
    arches: frozenset[str] | None = None

    @property
    def nodeid(self) -> str:
        return f"suites/{self.file}::{self.name}"


@dataclass
class Inventory:
    tests: list[TestInfo]
    platform: Platform

    def areas(self) -> dict[str, dict[str, list[TestInfo]]]:
        """{area: {file: [tests]}} in path order."""
        out: dict[str, dict[str, list[TestInfo]]] = {}
        for t in self.tests:
            out.setdefault(t.area, {}).setdefault(t.file, []).append(t)
        return out

    def covered(self) -> set[str]:
        """The platform's syscalls (table names) that at least one test calls."""
        p = self.platform
        return {p.resolve(n) for t in self.tests for n in t.syscalls} & p.syscalls.keys()

    def missing(self) -> list[str]:
        """The platform's syscalls no test calls, sorted by name."""
        return sorted(self.platform.syscalls.keys() - self.covered())

    def unknown(self) -> set[str]:
        """Names tests call that the platform's table does not have."""
        p = self.platform
        return {n for t in self.tests for n in t.syscalls if not p.has(n)}

    def _in_table(self, name: str) -> bool:
        p = self.platform
        return p.has(name) if name.islower() else name in p.constants or name in p.errno

    def runnable(self, t: TestInfo) -> int:
        """How many of t's cases can run on the platform: no os or arch marker excludes
        them, and the table holds every syscall and constant they name (a missing one
        is a skip). A parameter naming a call or constant decides for its own cases."""
        p = self.platform
        if (t.oses is not None and p.os not in t.oses) or (
            t.arches is not None and p.arch not in t.arches
        ):
            return 0
        per_case = set().union(*(names for dec in t.case_names for names in dec))
        if not all(self._in_table(n) for n in (t.syscalls | t.constants) - per_case):
            return 0
        n = t.cases
        for dec in t.case_names:
            ok = sum(all(self._in_table(name) for name in names) for names in dec)
            n = n * ok // len(dec) if dec else n
        return n


def scan(suites: Path, platform: Platform) -> Inventory:
    """Every test under suites/<area>/test_*.py, with the syscalls it calls."""
    tests: list[TestInfo] = []
    shared = _parse(suites / "conftest.py")
    for area_dir in sorted(p for p in suites.iterdir() if p.is_dir()):
        conftests = (shared, _parse(area_dir / "conftest.py"))
        for path in sorted(area_dir.glob("test_*.py")):
            scope = _Scope(_parse(path), *conftests)
            rel = f"{area_dir.name}/{path.name}"
            for name, fn, cls in scope.tests():
                info = TestInfo(area_dir.name, rel, name, cases=scope.cases(fn))
                names = scope.syscalls_of_test(fn, cls)
                info.syscalls = {n for n in names if n.islower()}
                info.constants = names - info.syscalls
                info.case_names = scope.names_of_cases(fn, cls)
                for mark, admits in scope.marks(fn, cls):
                    if mark == "os":
                        info.oses = admits if info.oses is None else info.oses & admits
                    elif mark == "arch":
                        info.arches = admits if info.arches is None else info.arches & admits
                tests.append(info)
    return Inventory(tests, platform)


def _literal(node: ast.expr) -> object:
    """The node's literal value; None where it is not one (a tuple keeps its literal parts)."""
    if isinstance(node, ast.Tuple):
        return tuple(_literal(e) for e in node.elts)
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError):
        return None


@functools.cache
def _library(name: str) -> _Scope | None:
    """A module of this package (syscalls/forking.py) as a scope of helpers."""
    path = Path(__file__).resolve().parent / f"{name}.py"
    return _Scope(_parse(path)) if name.isidentifier() and path.is_file() else None


def _parse(path: Path) -> ast.Module | None:
    if not path.is_file():
        return None
    return ast.parse(path.read_text(), filename=str(path))


def _is_fixture(fn: Function) -> bool:
    for dec in fn.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        if (isinstance(target, ast.Attribute) and target.attr == "fixture") or (
            isinstance(target, ast.Name) and target.id == "fixture"
        ):
            return True
    return False


def _marks(nodes: list[ast.expr]) -> Iterator[tuple[str, frozenset[str]]]:
    """(name, its string arguments) of each `pytest.mark.NAME(...)` among decorators or
    a `pytestmark` value (one mark or a list of them)."""
    for node in nodes:
        for item in node.elts if isinstance(node, ast.List | ast.Tuple) else [node]:
            if (
                isinstance(item, ast.Call)
                and isinstance(item.func, ast.Attribute)
                and isinstance(item.func.value, ast.Attribute)
                and item.func.value.attr == "mark"
            ):
                args = (_literal(a) for a in item.args)
                yield item.func.attr, frozenset(a for a in args if isinstance(a, str))


def _pytestmark(body: list[ast.stmt]) -> list[ast.expr]:
    return [
        node.value
        for node in body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets)
    ]


def _parametrize(fn: Function) -> Iterator[ast.Call]:
    for dec in fn.decorator_list:
        if (
            isinstance(dec, ast.Call)
            and isinstance(dec.func, ast.Attribute)
            and dec.func.attr == "parametrize"
            and len(dec.args) >= 2
        ):
            yield dec


class _Scope:
    """The names one test file can reach: its own and its conftests' (outermost first)."""

    def __init__(self, module: ast.Module | None, *conftests: ast.Module | None) -> None:
        self.module = module
        self.functions: dict[str, Function] = {}
        self.classes: dict[str, dict[str, Function]] = {}
        self.fixtures: dict[str, Function] = {}
        self.literals: dict[str, object] = {}
        self.libraries: dict[str, _Scope] = {}
        self.imported: dict[str, tuple[_Scope, str]] = {}
        self.class_marks: dict[str, list[ast.expr]] = {}
        for tree in (*conftests, module):  # the nearest names win
            if tree is None:
                continue
            for node in tree.body:
                if isinstance(node, Function):
                    (self.fixtures if _is_fixture(node) else self.functions)[node.name] = node
                elif isinstance(node, ast.ClassDef):
                    self.classes[node.name] = {
                        n.name: n for n in node.body if isinstance(n, Function)
                    }
                    if tree is module:
                        self.class_marks[node.name] = [
                            *node.decorator_list,
                            *_pytestmark(node.body),
                        ]
                elif isinstance(node, ast.Assign) and tree is module:
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            with contextlib.suppress(ValueError, TypeError, SyntaxError):
                                self.literals[target.id] = ast.literal_eval(node.value)
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    self._imports(node)
        self._memo: dict[tuple[int, str | None], set[str]] = {}

    def _imports(self, node: ast.ImportFrom) -> None:
        """Helpers from the library: `from syscalls import forking`, `from syscalls.x import f`
        (a function, or a class such as Fds whose methods the suites call)."""
        if node.module == "syscalls":
            for alias in node.names:
                lib = _library(alias.name)
                if lib is not None:
                    self.libraries[alias.asname or alias.name] = lib
        elif node.module and node.module.startswith("syscalls."):
            lib = _library(node.module.partition(".")[2])
            for alias in node.names:
                if lib is not None and alias.name in lib.functions:
                    self.imported[alias.asname or alias.name] = (lib, alias.name)
                elif lib is not None and alias.name in lib.classes:
                    self.classes[alias.asname or alias.name] = lib.classes[alias.name]

    def tests(self) -> Iterator[tuple[str, Function, str | None]]:
        if self.module is None:
            return
        for node in self.module.body:
            if isinstance(node, Function) and node.name.startswith("test"):
                yield node.name, node, None
            elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                for m in node.body:
                    if isinstance(m, Function) and m.name.startswith("test"):
                        yield f"{node.name}::{m.name}", m, node.name

    def marks(self, fn: Function, cls: str | None) -> Iterator[tuple[str, frozenset[str]]]:
        """The marks a test carries: the module's pytestmark, its class's, its own."""
        module = _pytestmark(self.module.body) if self.module else []
        yield from _marks([*module, *self.class_marks.get(cls or "", []), *fn.decorator_list])

    def _values(self, node: ast.expr) -> list | None:
        """A parametrize argument's values, directly or through a module-level name.

        Elements that are not literals (1 << 32, a constant's name) become None: they
        still count as cases, and only string values name syscalls.
        """
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            return [_literal(e) for e in node.elts]
        if isinstance(node, ast.Name):
            value = self.literals.get(node.id)
        elif (  # list(SOME_DICT), sorted(SOME_SET)
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("list", "tuple", "sorted")
            and len(node.args) == 1
        ):
            return self._values(node.args[0])
        else:
            value = _literal(node)
        return list(value) if isinstance(value, list | tuple | dict | set) else None

    def cases(self, fn: Function) -> int:
        n = 1
        for dec in _parametrize(fn):
            values = self._values(dec.args[1])
            n *= len(values) if values else 1
        return n

    def _rows(self, dec: ast.Call) -> list[dict[str, str]]:
        """One parametrize decorator's cases: {argname: string value} for each (a value
        that is not a literal string gives nothing)."""
        try:
            names = ast.literal_eval(dec.args[0])
        except ValueError:
            return []
        names = [s.strip() for s in names.split(",")] if isinstance(names, str) else names
        rows = []
        for value in self._values(dec.args[1]) or []:
            row = value if len(names) > 1 and isinstance(value, list | tuple) else [value]
            rows.append({n: v for n, v in zip(names, row, strict=False) if isinstance(v, str)})
        return rows

    def _param_strings(self, fn: Function) -> dict[str, set[str]]:
        """{argname: string values} from the test's literal parametrize decorators."""
        out: dict[str, set[str]] = {}
        for dec in _parametrize(fn):
            for row in self._rows(dec):
                for name, v in row.items():
                    out.setdefault(name, set()).add(v)
        return out

    def syscalls_of_test(self, fn: Function, cls: str | None) -> set[str]:
        """The syscall and constant names the test reaches, whichever case runs."""
        found = self._body(fn, cls, self._param_strings(fn), self._fixture_types(fn))
        for fixture in self._fixture_params(fn):
            found |= self._function(self.fixtures[fixture], None)
        return found

    def names_of_cases(self, fn: Function, cls: str | None) -> list[list[set[str]]]:
        """Per parametrize decorator, per case, the names that case alone adds to the
        test's own (a call or a constant named by a parameter: getattr(kernel, clock))."""
        types = self._fixture_types(fn)
        common = self._body(fn, cls, {}, types)
        return [
            [
                self._body(fn, cls, {k: {v} for k, v in row.items()}, types) - common
                for row in self._rows(dec)
            ]
            for dec in _parametrize(fn)
        ]

    def _fixture_params(self, fn: Function, seen: frozenset[str] = frozenset()) -> set[str]:
        """The fixtures fn asks for from this scope, and the ones they ask for."""
        found: set[str] = set()
        for arg in fn.args.args:
            if arg.arg in self.fixtures and arg.arg not in seen:
                found.add(arg.arg)
                found |= self._fixture_params(self.fixtures[arg.arg], seen | {arg.arg})
        return found

    def _fixture_types(self, fn: Function) -> dict[str, str]:
        """{param: class name} for params holding an object of a class defined here.

        A fixture's class is the one its return annotation names (Iterator[Fds]), else
        the only class of this scope it instantiates.
        """
        types = {}
        for arg in fn.args.args:
            fixture = self.fixtures.get(arg.arg)
            if fixture is not None:
                named = {
                    n.id for n in ast.walk(fixture.returns or ast.Pass()) if isinstance(n, ast.Name)
                }
                made = {
                    n.func.id
                    for n in ast.walk(fixture)
                    if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
                }
                candidates = (named or made) & self.classes.keys()
                if len(candidates) == 1:
                    types[arg.arg] = candidates.pop()
            for node in ast.walk(arg.annotation or ast.Pass()):
                if isinstance(node, ast.Name) and node.id in self.classes:
                    types[arg.arg] = node.id
        return types

    def _function(self, fn: Function, cls: str | None) -> set[str]:
        key = (id(fn), cls)
        if key not in self._memo:
            self._memo[key] = set()  # a recursive helper ends here
            self._memo[key] = self._body(fn, cls, {}, self._fixture_types(fn))
        return self._memo[key]

    def _body(
        self, fn: Function, cls: str | None, params: dict[str, set[str]], types: dict[str, str]
    ) -> set[str]:
        kernels = set(_KERNEL_NAMES)
        for arg in fn.args.args:
            if isinstance(arg.annotation, ast.Name) and arg.annotation.id == "Kernel":
                kernels.add(arg.arg)
        found: set[str] = set()
        for node in ast.walk(fn):
            if (
                isinstance(node, ast.Attribute)
                and _is_kernel(node.value, kernels)
                and node.attr.isupper()
                and node.attr not in _NOT_SYSCALLS
            ):
                found.add(node.attr)  # a constant: kernel.O_CLOEXEC
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            found |= self._kernel_call(node, kernels, params)
            if isinstance(func, ast.Name):
                if func.id in self.functions:
                    found |= self._function(self.functions[func.id], None)
                elif func.id in self.imported:
                    lib, name = self.imported[func.id]
                    found |= lib._function(lib.functions[name], None)
                elif func.id in self.classes and "__init__" in self.classes[func.id]:
                    found |= self._function(self.classes[func.id]["__init__"], func.id)
                elif func.id in types and "__call__" in self.classes[types[func.id]]:
                    owner = types[func.id]
                    found |= self._function(self.classes[owner]["__call__"], owner)
            elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                lib = self.libraries.get(func.value.id)
                if lib is not None and func.attr in lib.functions:
                    found |= lib._function(lib.functions[func.attr], None)
                owner = cls if func.value.id == "self" else types.get(func.value.id)
                method = self.classes.get(owner or "", {}).get(func.attr)
                if method is not None:
                    found |= self._function(method, owner)
        return found

    @staticmethod
    def _kernel_call(node: ast.Call, kernels: set[str], params: dict[str, set[str]]) -> set[str]:
        """The syscall names one call makes through the Kernel, if it is such a call, and
        the constants a `getattr(kernel, NAME)` that is not called names."""
        func = node.func
        names: set[str] = set()
        if (  # getattr(kernel, "O_CLOEXEC"): a constant
            isinstance(func, ast.Name)
            and func.id == "getattr"
            and len(node.args) >= 2
            and _is_kernel(node.args[0], kernels)
        ):
            return {n for n in _strings(node.args[1], params) if n.isupper()}
        if isinstance(func, ast.Attribute) and _is_kernel(func.value, kernels):
            if func.attr == "caller" and node.args:
                names = _strings(node.args[0], params)
            else:
                names = {func.attr}
        elif (  # getattr(kernel, NAME)(...)
            isinstance(func, ast.Call)
            and isinstance(func.func, ast.Name)
            and func.func.id == "getattr"
            and len(func.args) >= 2
            and _is_kernel(func.args[0], kernels)
        ):
            names = _strings(func.args[1], params)
        return {n for n in names if n.islower() and n not in _NOT_SYSCALLS}


def _is_kernel(expr: ast.expr, kernels: set[str]) -> bool:
    return (isinstance(expr, ast.Name) and expr.id in kernels) or (
        isinstance(expr, ast.Attribute) and expr.attr == "kernel"
    )


def _strings(node: ast.expr, params: dict[str, set[str]]) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.Name):
        return params.get(node.id, set())
    return set()


def render(inv: Inventory, missing: bool = False) -> str:
    """Per area a count, per file its tests and their syscalls; then the coverage."""
    lines = []
    for area, files in inv.areas().items():
        tests = [t for ts in files.values() for t in ts]
        calls = {n for t in tests for n in t.syscalls}
        lines.append(
            f"{area}: {sum(t.cases for t in tests)} tests in {len(files)} files, "
            f"{len(calls)} syscalls"
        )
        for file, ts in files.items():
            lines.append(f"  {file.partition('/')[2]} ({sum(t.cases for t in ts)})")
            for t in ts:
                cases = f" ×{t.cases}" if t.cases > 1 else ""
                used = ", ".join(sorted(t.syscalls)) or "-"
                lines.append(f"    {t.name}{cases}: {used}")
    total = sum(t.cases for t in inv.tests)
    covered, table = len(inv.covered()), len(inv.platform.syscalls)
    pct = 100 * covered / table if table else 0.0
    lines.append("")
    lines.append(f"{total} tests ({len(inv.tests)} functions) in {len(inv.areas())} areas")
    lines.append(f"coverage: {covered} of {table} syscalls in {inv.platform.name} ({pct:.1f}%)")
    runnable = sum(inv.runnable(t) for t in inv.tests)
    lines.append(
        f"runnable on {inv.platform.name}: {runnable} of {total} tests (no os or arch "
        "marker excludes them, the table holds every syscall and constant they name)"
    )
    unknown = inv.unknown()
    if unknown:
        lines.append(f"not in the {inv.platform.name} table: {', '.join(sorted(unknown))}")
    if missing:
        lines.append(f"untested ({table - covered}): {', '.join(inv.missing())}")
    return "\n".join(lines) + "\n"
