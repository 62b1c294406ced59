"""What the suites test: each test's syscalls, found by reading the source (no kernel calls).

A test exercises the syscalls it calls through the Kernel: `kernel.openat(...)`,
`k.read(...)`, `self.kernel.pipe2(...)`, `self.k.read(...)` (any attribute a class
binds to a Kernel), a local `k = self.kernel`, `kernel.caller("name")(...)`, and
`getattr(kernel, name)(...)`. A name there is resolved when it is built from literals:
a string, `+` and f-strings over such names, a local bound to one or looping over a
literal list, a test's literal `@pytest.mark.parametrize` values, and a helper's
parameter given a literal at its call site (`sysv.remove("msgctl", q)`) or as its
default. Calls reach further through the same file's helper functions and classes, and
through the fixtures the test asks for (from its own file, its area's conftest.py or
suites/conftest.py), including methods called on a fixture's object (`fds.pipe()` ->
pipe2). Names are counted against a platform table through its aliases
(fstatat -> newfstatat).

A test that makes a syscall in a way this cannot read (machine code: the vfork stub)
says so with `@pytest.mark.calls("vfork")` (on the test, its class, or the module's
pytestmark); those names are counted as the test's too. What stays unseen: names
computed from run-time values, and syscalls made by Python itself (os.*).

The platform's `[left_out]` table names the syscall numbers Linux never implements
(stubs, removed calls: always ENOSYS), with the reason and source of each; the listing
names them, and they are not counted as untested.

The constants a test names (`kernel.O_CLOEXEC`, `getattr(kernel, "EPOLLIN")`) are found
the same way, and its `os` and `arch` markers (on the test, its class, or the module's
pytestmark) are read: a case can run on a platform when no marker excludes it and the
table holds every syscall and constant it names (`syscalls list`: "runnable on ...");
a missing one would skip it there. Constants named only inside strings handed to a
helper (`bits("O_RDONLY|O_CLOEXEC")`) are not seen.
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
# @pytest.mark.calls("name", ...): syscalls a test makes in a way not read from its code.
MARKER = "calls"

Function = ast.FunctionDef | ast.AsyncFunctionDef
# What names a function's string-valued locals and parameters may hold.
Strings = dict[str, set[str]]


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
    # What its os and arch markers admit (each marker's arguments, intersected); None:
    # no such marker.
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
        """The platform's syscalls (table names) that at least one test calls; a number
        the platform leaves out (always ENOSYS) is not counted, whoever calls it."""
        p = self.platform
        called = {p.resolve(n) for t in self.tests for n in t.syscalls}
        return (called & p.syscalls.keys()) - p.left_out.keys()

    def missing(self) -> list[str]:
        """The platform's syscalls no test calls and none left out, sorted by name."""
        return sorted(
            self.platform.syscalls.keys() - self.covered() - self.platform.left_out.keys()
        )

    def left_out(self) -> dict[str, str]:
        """{syscall: why} for the table's numbers Linux never implements (always ENOSYS)."""
        p = self.platform
        return {n: why for n, why in sorted(p.left_out.items()) if n in p.syscalls}

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
                info.oses, info.arches = (scope.admitted(fn, cls, m) for m in ("os", "arch"))
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


# Keys of the functions being read (every scope's, outermost first), and those whose answer
# used one of them before it was finished (see _Scope._function).
_ACTIVE: list[tuple] = []
_TAINTED: set[tuple] = set()


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
        self.class_nodes: dict[str, ast.ClassDef] = {}
        self.fixtures: dict[str, Function] = {}
        self.literals: dict[str, object] = {}
        self.libraries: dict[str, _Scope] = {}
        self.imported: dict[str, tuple[_Scope, str]] = {}
        self.marked: set[str] = set()  # the module's pytestmark calls(...)
        self.pytestmark: list[ast.expr] = []  # the module's
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
                    self.class_nodes[node.name] = node
                elif isinstance(node, ast.Assign) and tree is module:
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            with contextlib.suppress(ValueError, TypeError, SyntaxError):
                                self.literals[target.id] = ast.literal_eval(node.value)
                            if target.id == "pytestmark":
                                self.marked |= _marked([node.value])
                                self.pytestmark = [node.value]
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    self._imports(node)
        self._memo: dict[tuple, set[str]] = {}
        self._attributes: dict[str, set[str]] = {}

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

    def _values(self, node: ast.expr) -> list | None:
        """A parametrize argument's values, directly or through a module-level name.

        Elements that are not literals (1 << 32, a constant's name) become None: they
        still count as cases, and only string values name syscalls.
        """
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            out: list = []
            for e in node.elts:  # [*NAMES, "more"]: a literal list spread in place
                spread = self._values(e.value) if isinstance(e, ast.Starred) else None
                out.extend(spread if spread is not None else [_literal(e)])
            return out
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

    def _param_strings(self, fn: Function) -> Strings:
        """{argname: string values} from the test's literal parametrize decorators."""
        out: Strings = {}
        for dec in _parametrize(fn):
            try:
                names = ast.literal_eval(dec.args[0])
            except ValueError:
                continue
            names = [s.strip() for s in names.split(",")] if isinstance(names, str) else names
            for value in self._values(dec.args[1]) or []:
                row = value if len(names) > 1 and isinstance(value, list | tuple) else [value]
                for name, v in zip(names, row, strict=False):
                    if isinstance(v, str):
                        out.setdefault(name, set()).add(v)
        return out

    def syscalls_of_test(self, fn: Function, cls: str | None) -> set[str]:
        found = self._body(fn, cls, self._param_strings(fn), self._fixture_types(fn))
        for fixture in self._fixture_params(fn):
            found |= self._function(self.fixtures[fixture], None)
        decorators = fn.decorator_list
        if cls is not None and cls in self.class_nodes:
            decorators = [*decorators, *self.class_nodes[cls].decorator_list]
        return found | self.marked | _marked(decorators)

    def names_of_cases(self, fn: Function, cls: str | None) -> list[list[set[str]]]:
        """Per parametrize decorator, per case, the names that case alone adds to the
        test's own (a call or a constant named by a parameter: getattr(kernel, clock))."""
        types = self._fixture_types(fn)
        common = self._body(fn, cls, {}, types)
        return [
            [
                self._body(fn, cls, {k: {v} for k, v in row.items()}, types) - common
                for row in self._param_rows(dec)
            ]
            for dec in _parametrize(fn)
        ]

    def _param_rows(self, dec: ast.Call) -> list[dict[str, str]]:
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

    def admitted(self, fn: Function, cls: str | None, marker: str) -> frozenset[str] | None:
        """What the test's `pytest.mark.<marker>(...)` marks (os, arch) admit, from the
        module's pytestmark, its class and its own decorators: each mark's arguments,
        intersected; None where it has no such mark."""
        decorators = [*self.pytestmark, *fn.decorator_list]
        node = self.class_nodes.get(cls or "")
        if node is not None:
            decorators += node.decorator_list
            decorators += [
                n.value
                for n in node.body
                if isinstance(n, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in n.targets)
            ]
        admits = None
        for args in _mark_args(decorators, marker):
            admits = args if admits is None else admits & args
        return admits

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

    def _kernel_attributes(self, cls: str | None) -> set[str]:
        """The attributes class `cls` of this scope binds to a Kernel (none outside one)."""
        name = cls or ""
        if name not in self._attributes:
            self._attributes[name] = _kernel_attributes(self.classes.get(name, {}))
        return self._attributes[name]

    def _function(self, fn: Function, cls: str | None, bound: Strings | None = None) -> set[str]:
        """The syscalls fn reaches, its parameters holding the strings `bound` names
        (what its call site passed) or else their literal defaults."""
        params = {**_defaults(fn), **(bound or {})}
        key = (id(fn), cls, tuple(sorted((k, tuple(sorted(v))) for k, v in params.items())))
        if key in self._memo:
            return self._memo[key]
        if key in _ACTIVE:
            # A recursive helper ends here. The calls between it and this point saw an
            # unfinished answer: they are not memoized, or what they report would depend
            # on which function the scan happened to enter first.
            _TAINTED.update(_ACTIVE[_ACTIVE.index(key) + 1 :])
            return set()
        _ACTIVE.append(key)
        try:
            found = self._body(fn, cls, params, self._fixture_types(fn))
        finally:
            _ACTIVE.pop()
        if key in _TAINTED:
            _TAINTED.discard(key)
        else:
            self._memo[key] = found
        return found

    def _body(
        self, fn: Function, cls: str | None, params: Strings, types: dict[str, str]
    ) -> set[str]:
        kernels = set(_KERNEL_NAMES)
        for arg in fn.args.args:
            if isinstance(arg.annotation, ast.Name) and arg.annotation.id == "Kernel":
                kernels.add(arg.arg)
        attrs = self._kernel_attributes(cls)
        kernels |= _kernel_aliases(fn, kernels, attrs)
        env = self._locals(fn, params)
        found: set[str] = set()
        for node in ast.walk(fn):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.isupper()
                and _is_kernel_value(node.value, kernels, attrs)
            ):
                found.add(node.attr)  # a constant: kernel.O_CLOEXEC
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            found |= _kernel_call(node, kernels, attrs, env)
            if isinstance(func, ast.Name):
                if func.id in self.functions:
                    callee = self.functions[func.id]
                    found |= self._function(callee, None, _bind(callee, node, env, 0))
                elif func.id in self.imported:
                    lib, name = self.imported[func.id]
                    callee = lib.functions[name]
                    found |= lib._function(callee, None, _bind(callee, node, env, 0))
                elif func.id in self.classes and "__init__" in self.classes[func.id]:
                    callee = self.classes[func.id]["__init__"]
                    found |= self._function(callee, func.id, _bind(callee, node, env, 1))
                elif func.id in types and "__call__" in self.classes[types[func.id]]:
                    owner = types[func.id]
                    callee = self.classes[owner]["__call__"]
                    found |= self._function(callee, owner, _bind(callee, node, env, 1))
            elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                lib = self.libraries.get(func.value.id)
                if lib is not None and func.attr in lib.functions:
                    callee = lib.functions[func.attr]
                    found |= lib._function(callee, None, _bind(callee, node, env, 0))
                owner = cls if func.value.id == "self" else types.get(func.value.id)
                method = self.classes.get(owner or "", {}).get(func.attr)
                if method is not None:
                    found |= self._function(method, owner, _bind(method, node, env, 1))
        return found

    def _locals(self, fn: Function, params: Strings) -> Strings:
        """The strings each name in fn may hold: its parameters' (`params`), the module's
        literal strings, and its locals bound to strings or looping over literal rows."""
        env: Strings = {k: {v} for k, v in self.literals.items() if isinstance(v, str)}
        env.update(params)
        for _ in range(2):  # a name bound from a name bound later in the text
            for node in ast.walk(fn):
                if isinstance(node, ast.Assign) and len(node.targets) == 1:
                    _assign(env, node.targets[0], [_row(node.value, env)])
                elif isinstance(node, ast.For | ast.comprehension):
                    _assign(env, node.target, self._rows(node.iter, env))
        return env

    def _rows(self, node: ast.expr, env: Strings) -> list[list[set[str]]]:
        """What iterating over node yields, each item as per-position string sets."""
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            return [_row(e, env) for e in node.elts]
        value = self.literals.get(node.id) if isinstance(node, ast.Name) else None
        if isinstance(value, list | tuple | set | dict):
            return [_row_of(v) for v in value]
        return []


def _row(node: ast.expr, env: Strings) -> list[set[str]]:
    if isinstance(node, ast.Tuple):
        return [_strings(e, env) for e in node.elts]
    return [_strings(node, env)]


def _row_of(value: object) -> list[set[str]]:
    items = value if isinstance(value, tuple | list) else (value,)
    return [{v} if isinstance(v, str) else set() for v in items]


def _assign(env: Strings, target: ast.expr, rows: list[list[set[str]]]) -> None:
    """Bind target (a name, or a tuple of names) to the strings each row holds."""
    names = target.elts if isinstance(target, ast.Tuple) else [target]
    for row in rows:
        if len(row) != len(names) and len(names) > 1:
            continue
        values = row if len(names) > 1 else [set().union(*row) if len(row) == 1 else set()]
        for name, strings in zip(names, values, strict=False):
            if isinstance(name, ast.Name) and strings:
                env.setdefault(name.id, set()).update(strings)


def _strings(node: ast.expr, env: Strings) -> set[str]:
    """The strings node may evaluate to, when it is built from literals; else empty."""
    if isinstance(node, ast.Constant):
        return {node.value} if isinstance(node.value, str) else set()
    if isinstance(node, ast.Name):
        return set(env.get(node.id, ()))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _strings(node.left, env), _strings(node.right, env)
        return {a + b for a in left for b in right}
    if isinstance(node, ast.IfExp):
        return _strings(node.body, env) | _strings(node.orelse, env)
    if isinstance(node, ast.JoinedStr):
        out = {""}
        for part in node.values:
            if isinstance(part, ast.FormattedValue):
                pieces = set() if part.format_spec else _strings(part.value, env)
            else:
                pieces = _strings(part, env)
            out = {a + b for a in out for b in pieces}
        return out
    return set()


def _bind(callee: Function, call: ast.Call, env: Strings, skip: int) -> Strings:
    """{parameter: strings} for the literal-built strings a call site passes to callee
    (skip: 1 for a method's self)."""
    names = [a.arg for a in (*callee.args.posonlyargs, *callee.args.args)][skip:]
    out: Strings = {}
    for name, arg in zip(names, call.args, strict=False):
        if isinstance(arg, ast.Starred):
            break
        if strings := _strings(arg, env):
            out[name] = strings
    for kw in call.keywords:
        if kw.arg is not None and (strings := _strings(kw.value, env)):
            out[kw.arg] = strings
    return out


def _defaults(fn: Function) -> Strings:
    """{parameter: {default}} for fn's parameters whose default is a string literal."""
    positional = [*fn.args.posonlyargs, *fn.args.args]
    pairs = [
        *zip(positional[len(positional) - len(fn.args.defaults) :], fn.args.defaults, strict=True),
        *zip(fn.args.kwonlyargs, fn.args.kw_defaults, strict=True),
    ]
    return {
        a.arg: {d.value}
        for a, d in pairs
        if isinstance(d, ast.Constant) and isinstance(d.value, str)
    }


def _is_kernel_value(node: ast.expr | None, kernels: set[str], attrs: set[str]) -> bool:
    """node names a Kernel: a kernel name, `<x>.kernel`, or `self.<attribute bound to one>`."""
    if isinstance(node, ast.Name):
        return node.id in kernels
    if isinstance(node, ast.Attribute):
        return node.attr == "kernel" or (
            isinstance(node.value, ast.Name) and node.value.id == "self" and node.attr in attrs
        )
    return False


def _kernel_aliases(fn: Function, kernels: set[str], attrs: set[str]) -> set[str]:
    """Local names fn binds to a Kernel (`k = self.kernel`)."""
    return {
        node.targets[0].id
        for node in ast.walk(fn)
        if isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and _is_kernel_value(node.value, kernels, attrs)
    }


def _kernel_attributes(methods: dict[str, Function]) -> set[str]:
    """The attributes a class's methods bind to a Kernel (`self.k = kernel`)."""
    attrs: set[str] = set()
    for fn in methods.values():
        kernels = set(_KERNEL_NAMES)
        kernels |= {
            a.arg
            for a in fn.args.args
            if isinstance(a.annotation, ast.Name) and a.annotation.id == "Kernel"
        }
        for node in ast.walk(fn):
            if isinstance(node, ast.Assign):
                targets, value = node.targets, node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                targets, value = [node.target], node.value
            else:
                continue
            if _is_kernel_value(value, kernels, set()):
                attrs |= {
                    t.attr
                    for t in targets
                    if isinstance(t, ast.Attribute)
                    and isinstance(t.value, ast.Name)
                    and t.value.id == "self"
                }
    return attrs


def _kernel_call(node: ast.Call, kernels: set[str], attrs: set[str], env: Strings) -> set[str]:
    """The syscall names one call makes through the Kernel, if it is such a call, and
    the constants a `getattr(kernel, NAME)` names."""
    func = node.func
    names: set[str] = set()
    if (  # getattr(kernel, "O_CLOEXEC"): a constant (a called one is a syscall, below);
        # with a default, getattr(kernel, "O_LARGEFILE", 0), one the test can do without
        isinstance(func, ast.Name)
        and func.id == "getattr"
        and len(node.args) == 2
        and _is_kernel_value(node.args[0], kernels, attrs)
    ):
        return {n for n in _strings(node.args[1], env) if n.isupper()}
    if isinstance(func, ast.Attribute) and _is_kernel_value(func.value, kernels, attrs):
        if func.attr == "caller" and node.args:
            names = _strings(node.args[0], env)
        else:
            names = {func.attr}
    elif (  # getattr(kernel, NAME)(...)
        isinstance(func, ast.Call)
        and isinstance(func.func, ast.Name)
        and func.func.id == "getattr"
        and len(func.args) >= 2
        and _is_kernel_value(func.args[0], kernels, attrs)
    ):
        names = _strings(func.args[1], env)
    return {n for n in names if n.islower() and n not in _NOT_SYSCALLS}


def _mark_args(decorators: list[ast.expr], marker: str) -> Iterator[frozenset[str]]:
    """The string arguments of each `pytest.mark.<marker>(...)` among decorators (or a
    pytestmark list)."""
    for dec in decorators:
        for node in ast.walk(dec):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == marker
                and isinstance(node.func.value, ast.Attribute)
                and node.func.value.attr == "mark"
            ):
                yield frozenset(
                    a.value
                    for a in node.args
                    if isinstance(a, ast.Constant) and isinstance(a.value, str)
                )


def _marked(decorators: list[ast.expr]) -> set[str]:
    """The names in `pytest.mark.calls(...)` among decorators (or a pytestmark list)."""
    return set().union(*_mark_args(decorators, MARKER))


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
    covered, table = inv.covered(), len(inv.platform.syscalls)
    left = inv.left_out()
    pct = 100 * len(covered) / table if table else 0.0
    lines.append("")
    lines.append(f"{total} tests ({len(inv.tests)} functions) in {len(inv.areas())} areas")
    line = f"coverage: {len(covered)} of {table} syscalls in {inv.platform.name} ({pct:.1f}%"
    if left:
        rest = table - len(left)
        line += (
            f"; {len(left)} left out: stubs and removed calls that always answer ENOSYS; "
            f"{len(covered)} of the other {rest}, {100 * len(covered) / rest:.1f}%"
        )
    lines.append(line + ")")
    if left:
        lines.append(f"left out ({len(left)}):")
        lines.extend(f"  {name}: {why}" for name, why in left.items())
    runnable = sum(inv.runnable(t) for t in inv.tests)
    lines.append(
        f"runnable on {inv.platform.name}: {runnable} of {total} tests (no os or arch "
        "marker excludes them, the table holds every syscall and constant they name)"
    )
    unknown = inv.unknown()
    if unknown:
        lines.append(f"not in the {inv.platform.name} table: {', '.join(sorted(unknown))}")
    if missing:
        untested = inv.missing()
        lines.append(f"untested ({len(untested)}): {', '.join(untested)}")
    return "\n".join(lines) + "\n"
