"""`syscalls compare`: reading runs, aligning observations, the text table, the HTML page.

Real runs come from the fs suite run in a subprocess (as this user and, as root, also as
`nobody`: root bypasses permission checks, so the two runs genuinely disagree); the
finer cases use small hand-made profiles.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

from syscalls.cli import main
from syscalls.compare import (
    AGREE,
    DIFFER,
    MAX_WIDTH,
    PARTIAL,
    InputError,
    by_syscall,
    compare,
    junit_nodeid,
    label_runs,
    load,
    render_text,
)
from syscalls.report_html import render_html

ROOT = Path(__file__).resolve().parent.parent


def _suite_run(out: Path, as_nobody: bool = False) -> Path:
    """Run suites/fs into out/junit.xml (+ junit.profile.json); the junit path."""
    out.mkdir(parents=True, exist_ok=True)
    prefix = []
    if as_nobody:
        out.chmod(0o777)
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    junit = out / "junit.xml"
    proc = subprocess.run(
        [
            *prefix,
            sys.executable,
            "-m",
            "pytest",
            "suites/fs",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={junit}",
            f"--basetemp={out / 'basetemp'}",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "TMPDIR": str(out)},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    # Failing suite tests are fine here (they are data to compare); a broken run is not.
    assert proc.returncode in (0, 1), proc.stdout[-2000:] + proc.stderr[-2000:]
    shutil.rmtree(out / "basetemp", ignore_errors=True)
    return junit


@pytest.fixture(scope="module")
def real() -> Iterator[dict[str, Path]]:
    # Under /tmp rather than pytest's 0700 base, so that `nobody` can write its results.
    with tempfile.TemporaryDirectory(prefix="syscalls-compare-", dir="/tmp") as base:
        Path(base).chmod(0o755)
        runs = {"user": _suite_run(Path(base) / "user")}
        if os.geteuid() == 0:
            runs["nobody"] = _suite_run(Path(base) / "nobody", as_nobody=True)
        yield runs


def _profile_of(junit: Path) -> Path:
    return junit.with_name("junit.profile.json")


def test_profile_and_junit_of_one_real_run_agree(real, capsys) -> None:
    junit = real["user"]
    profile, xml = load(_profile_of(junit)), load(junit)
    assert len(profile.tests) == len(xml.tests) > 50
    assert profile.tests.keys() == xml.tests.keys()
    assert any(t.observations for t in xml.tests.values())
    assert main(["compare", str(_profile_of(junit)), str(junit)]) == 0
    out = capsys.readouterr().out
    n = len(profile.tests)
    assert (
        f"{n} tests: 0 answered differently where they ran, 0 ran on some runs only, {n} agree"
        in out
    )
    assert "(no differences)" in out


def test_root_and_nobody_runs_disagree_where_permissions_matter(real, tmp_path, capsys) -> None:
    if "nobody" not in real:
        pytest.skip("a second run as nobody needs root")
    a, b = _profile_of(real["user"]), _profile_of(real["nobody"])
    raw = [json.loads(p.read_text())["tests"] for p in (a, b)]

    # The oracle: a test answered differently when it ran (was not skipped) in both runs
    # and its outcome or observation list is not identical; one that only one run
    # skipped ("needs root") ran on some runs only.
    def ran(run: dict, nodeid: str) -> bool:
        return run[nodeid]["outcome"] != "skipped"

    def same(nodeid: str) -> bool:
        return (raw[0][nodeid]["outcome"], raw[0][nodeid]["observations"]) == (
            raw[1][nodeid]["outcome"],
            raw[1][nodeid]["observations"],
        )

    expected = {n for n in raw[0] if ran(raw[0], n) and ran(raw[1], n) and not same(n)}
    partial = {n for n in raw[0] if not same(n)} - expected
    assert expected | partial, "root and nobody answered the fs suite identically"
    runs = [load(a), load(b)]
    label_runs(runs)
    assert runs[0].label.endswith("(user)") and runs[1].label.endswith("(nobody)")
    comparison = compare(runs)
    assert {r.nodeid for r in comparison.rows if r.status == DIFFER} == expected
    assert {r.nodeid for r in comparison.rows if r.status == PARTIAL} == partial
    for row in comparison.rows:
        if row.status == DIFFER:
            assert row.outcomes == [raw[0][row.nodeid]["outcome"], raw[1][row.nodeid]["outcome"]]

    html = tmp_path / "out.html"
    assert main(["compare", str(a), str(b), "--html", str(html), "--width", "100"]) == 1
    out = capsys.readouterr().out
    assert all(len(line) <= 100 for line in out.splitlines())
    for nodeid in expected:
        assert nodeid.rpartition("::")[2][:20] in out
    assert f"{len(expected)} answered differently where they ran" in out
    assert html.read_text().count('class="test differ"') == len(expected)
    assert html.read_text().count('class="test partial"') == len(partial)


# Hand-made runs


def _profile(path: Path, tests: dict, target: str = "host", kernel: str = "6.1.0") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"format": 1, "platform": "linux/x86_64", "kernel": kernel, "target": target}
    data["tests"] = {
        k: {"outcome": v[0], "observations": v[1], **({"reason": v[2]} if len(v) > 2 else {})}
        for k, v in tests.items()
    }
    path.write_text(json.dumps(data))
    return path


T = "suites/fs/test_x.py::"

BASE = {
    T + "test_same": ("passed", ["openat=ok", "close=ok"]),
    T + "test_outcome": ("passed", ["openat=ok"]),
    T + "test_errno": ("passed", ["openat=ok", "read=EBADF"]),
    T + "test_repeated": ("passed", ["read=ok", "read=ok", "read=EAGAIN"]),
    T + "test_reason": ("skipped", [], "needs Linux >= 6.8 (this is 6.1.0)"),
    T + "test_only_here": ("passed", []),
}
OTHER = {
    T + "test_same": ("passed", ["openat=ok", "close=ok"]),
    T + "test_outcome": ("failed", ["openat=ok"], "AssertionError"),
    T + "test_errno": ("passed", ["openat=ok", "read=EINVAL"]),
    T + "test_repeated": ("passed", ["read=ok", "mode=0o640", "read=EAGAIN"]),
    T + "test_reason": ("skipped", [], "needs Linux >= 6.8 (this is 5.15.0)"),
}


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    return (
        _profile(tmp_path / "a.json", BASE, "host", "6.18.0"),
        _profile(tmp_path / "b.json", OTHER, "gvisor", "4.4.0"),
    )


def _rows(a: Path, b: Path) -> dict:
    return {r.nodeid.removeprefix(T): r for r in compare([load(a), load(b)]).rows}


def test_statuses_of_hand_made_runs(pair) -> None:
    rows = _rows(*pair)
    assert {k: r.status for k, r in rows.items()} == {
        "test_same": AGREE,
        "test_outcome": DIFFER,
        "test_errno": DIFFER,
        "test_repeated": DIFFER,
        "test_reason": AGREE,  # reasons name the release; they are shown, not compared
        "test_only_here": PARTIAL,
    }
    assert rows["test_outcome"].outcomes == ["passed", "failed"]
    assert rows["test_outcome"].diffs == []
    assert rows["test_only_here"].outcomes == ["passed", "—"]


def test_observations_align_key_by_key(pair) -> None:
    rows = _rows(*pair)
    assert [(d.name, d.values) for d in rows["test_errno"].diffs] == [("read", ["EBADF", "EINVAL"])]
    # read#2 is the second read in each run: ok vs EAGAIN; then read#3 only in the first;
    # the inserted mode=... sits where it was observed, after the first read.
    assert [(d.name, d.values) for d in rows["test_repeated"].diffs] == [
        ("mode", [None, "0o640"]),
        ("read#2", ["ok", "EAGAIN"]),
        ("read#3", ["EAGAIN", None]),
    ]


def test_three_runs_mark_the_odd_one_out(tmp_path: Path) -> None:
    tests = {T + "test_t": ("passed", ["flags=0x2"])}
    odd = {T + "test_t": ("passed", ["flags=0x0"])}
    paths = [
        _profile(tmp_path / "1" / "p.json", tests, "host", "6.18.0"),
        _profile(tmp_path / "2" / "p.json", odd, "uml", "6.1.0"),
        _profile(tmp_path / "3" / "p.json", tests, "vm", "6.1.0"),
    ]
    runs = [load(p) for p in paths]
    comparison = compare(runs)
    (row,) = comparison.rows
    assert row.status == DIFFER and row.diffs[0].values == ["0x2", "0x0", "0x2"]
    page = render_html(comparison)
    assert page.count('class="odd"') == 1
    assert '<td class="odd">0x0</td>' in page


def test_duplicate_labels_are_told_apart(tmp_path: Path) -> None:
    tests = {T + "test_t": ("passed", [])}
    a = _profile(tmp_path / "left" / "p.json", tests, "gvisor", "4.4.0")
    b = _profile(tmp_path / "right" / "p.json", tests, "gvisor", "4.4.0")
    c = _profile(tmp_path / "q.json", tests, "uml", "6.1.0")
    runs = [load(p) for p in (a, b, c, a)]
    label_runs(runs)
    assert [r.label for r in runs] == [
        "gvisor 4.4.0 #1",  # left/p.json twice: only a number tells them apart
        "gvisor 4.4.0 #2",
        "uml 6.1.0",
        "gvisor 4.4.0 #3",
    ]
    runs = [load(p) for p in (a, b, c)]
    label_runs(runs)
    assert [r.label for r in runs] == ["gvisor 4.4.0 (left)", "gvisor 4.4.0 (right)", "uml 6.1.0"]


def test_text_table_fits_the_width_and_shows_only_disagreements(pair) -> None:
    long = {
        "suites/fs/test_" + "very_" * 20 + ".py::test_" + "long_" * 30 + "name": (
            "passed",
            ["x" * 80 + "=" + "y" * 80],
        )
    }
    a = _profile(pair[0].with_name("long.json"), {**BASE, **long}, "host", "6.18.0-" + "z" * 40)
    runs = [load(a), load(pair[1])]
    label_runs(runs)
    for width in (80, 100, 160):
        text = render_text(compare(runs), width=width)
        assert all(len(line) <= width for line in text.splitlines()), width
    text = render_text(compare(runs), width=100)
    assert "test_errno" in text and "EBADF" in text and "EINVAL" in text
    assert "test_same" not in text  # agreeing tests only with --all
    assert "test_same" in render_text(compare(runs), show_all=True, width=100)
    assert text.rstrip().endswith(
        "7 tests: 3 answered differently where they ran, 2 ran on some runs only, 2 agree"
    )


def test_cli_exit_status_is_0_without_differences(tmp_path: Path, capsys) -> None:
    tests = {T + "test_t": ("passed", ["openat=ok"])}
    a = _profile(tmp_path / "a.json", tests, "host", "6.18.0")
    b = _profile(tmp_path / "b.json", tests, "uml", "6.1.0")
    assert main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "1 tests: 0 answered differently where they ran, 0 ran on some runs only, 1 agree" in out


def test_cli_exit_status_is_1_for_a_test_missing_from_a_run(tmp_path: Path) -> None:
    a = _profile(tmp_path / "a.json", {T + "test_t": ("passed", [])})
    b = _profile(tmp_path / "b.json", {T + "test_u": ("passed", [])})
    assert main(["compare", str(a), str(b)]) == 1


def test_junit_nodeids_follow_pytest() -> None:
    assert junit_nodeid("suites.fs.test_dup", "test_x") == "suites/fs/test_dup.py::test_x"
    assert junit_nodeid("suites.fs.test_dup", "test_x[a.b-1]") == (
        "suites/fs/test_dup.py::test_x[a.b-1]"
    )
    assert junit_nodeid("tests.test_m.TestGroup", "test_y") == "tests/test_m.py::TestGroup::test_y"


def test_junit_outcomes_come_from_the_children(tmp_path: Path) -> None:
    xml = tmp_path / "j.xml"
    xml.write_text(
        '<?xml version="1.0"?><testsuites><testsuite name="pytest">'
        '<testcase classname="suites.a.test_m" name="test_ok"><properties>'
        '<property name="syscalls.observations" value="[&quot;read=ok&quot;]"/>'
        "</properties></testcase>"
        '<testcase classname="suites.a.test_m" name="test_fail">'
        '<failure message="assert 1 == 2">trace</failure></testcase>'
        '<testcase classname="suites.a.test_m" name="test_err">'
        '<error message="teardown">trace</error></testcase>'
        '<testcase classname="suites.a.test_m" name="test_skip">'
        '<skipped type="pytest.skip" message="needs root"/></testcase>'
        '<testcase classname="suites.a.test_m" name="test_xf">'
        '<skipped type="pytest.xfail" message="known"/></testcase>'
        "</testsuite></testsuites>"
    )
    tests = load(xml).tests
    got = {k.rpartition("::")[2]: (t.outcome, t.observations) for k, t in tests.items()}
    assert got == {
        "test_ok": ("passed", ["read=ok"]),
        "test_fail": ("failed", []),
        "test_err": ("error", []),
        "test_skip": ("skipped", []),
        "test_xf": ("xfailed", []),
    }
    assert tests["suites/a/test_m.py::test_skip"].reason == "needs root"


BAD = {
    "missing": None,
    "text": "hello\n",
    "empty": "",
    "json list": "[1, 2]",
    "other format": '{"format": 7, "tests": {}}',
    "no tests": '{"format": 1, "platform": "linux/x86_64", "kernel": "6.1"}',
    "broken json": '{"format": 1,',
    "html": "<html><body>hi</body></html>",
    "broken xml": "<testsuites><testcase>",
    # encodings expat does not know are looked up among Python's codecs, which raise
    "unknown xml encoding": '<?xml version="1.0" encoding="x-nonsense"?><testsuite/>',
    "multi-byte xml encoding": '<?xml version="1.0" encoding="utf-32"?><testsuite/>',
    "xml encoding not a text codec": '<?xml version="1.0" encoding="base64"?><testsuite/>',
    "bad property": '<testsuite><testcase classname="a" name="t"><properties>'
    '<property name="syscalls.observations" value="nope"/></properties></testcase></testsuite>',
}


def test_names_a_kernel_gave_that_are_not_text_load_escaped_from_a_profile_or_junit(
    tmp_path: Path, capsys
) -> None:
    """A test that observed a name the kernel gave in bytes that are not UTF-8
    (os.fsdecode makes them lone surrogates) or with control characters: the profile
    holds \\udcff and \\u001b, which were refused as not text, so such a run could not
    be compared with its baseline. Both formats now read them escaped, alike, and the
    report prints them as escapes, not as a terminal's control sequences."""
    name = os.fsdecode(b"name=\xff\x1b[2J\x00")
    new = _profile(tmp_path / "new.json", {T + "test_n": ("passed", [name])})
    old = _profile(tmp_path / "old.json", {T + "test_n": ("passed", ["name=ok"])})
    xml = tmp_path / "new.xml"
    value = json.dumps([name]).replace("&", "&amp;").replace('"', "&quot;")
    xml.write_text(
        '<testsuites><testsuite><testcase classname="suites.fs.test_x" name="test_n">'
        f'<properties><property name="syscalls.observations" value="{value}"/>'
        "</properties></testcase></testsuite></testsuites>"
    )
    escaped = "name=\\udcff\\x1b[2J\\x00"
    assert load(new).tests[T + "test_n"].observations == [escaped]
    raw = tmp_path / "raw.json"  # a C1 control and DEL need no \u escape in JSON
    doc = json.loads(new.read_text())
    doc["tests"][T + "test_n"]["observations"] = ["c1=\x9b\x7f"]
    raw.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    assert b"\\u" not in raw.read_bytes()
    assert load(raw).tests[T + "test_n"].observations == ["c1=\\x9b\\x7f"]
    assert load(xml).tests[T + "test_n"].observations == [escaped]
    assert main(["compare", str(new), str(xml)]) == 0, "the same answers, either format"
    capsys.readouterr()
    assert main(["compare", str(old), str(new)]) == 1
    out = capsys.readouterr().out
    assert escaped.partition("=")[2] in out, out  # the value, in its key's row
    assert "\x1b" not in out and "\x00" not in out, out


@pytest.mark.parametrize("kind", BAD)
def test_bad_input_is_one_line_and_exit_2(kind: str, tmp_path: Path, pair, capsys) -> None:
    bad = tmp_path / "bad.input"
    if BAD[kind] is not None:
        bad.write_text(BAD[kind])
    with pytest.raises(InputError):
        load(bad)
    assert main(["compare", str(pair[0]), str(bad)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"syscalls compare: {bad}: "), lines


def test_one_run_is_not_a_comparison(pair, capsys) -> None:
    assert main(["compare", str(pair[0])]) == 2
    assert "at least two runs" in capsys.readouterr().err


@pytest.mark.parametrize("width", ["0", "-5", "10001", "1000000000", str(10**20), "wide"])
def test_a_width_out_of_range_is_a_usage_error(width: str, pair, capsys) -> None:
    """Rows are padded to the width: 10**9 columns were gigabytes of spaces, 10**20 an
    OverflowError."""
    with pytest.raises(SystemExit) as stopped:
        main(["compare", str(pair[0]), str(pair[1]), "--width", width])
    out, err = capsys.readouterr()
    assert stopped.value.code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert err.startswith("syscalls compare: argument --width: ") and repr(width) in err


def test_a_huge_terminal_width_is_capped(pair, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", str(10**9))  # what shutil.get_terminal_size reads first
    runs = [load(path) for path in pair]
    text = render_text(compare(runs))
    assert max(len(line) for line in text.splitlines()) <= MAX_WIDTH


# The HTML page, rendered by a real browser


class _Matrix(HTMLParser):
    """The rows of <table id="matrix"> in a DOM dump: [(tr class, [(td class, text)])]."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.headers: list[str] = []
        self.rows: list[tuple[str, list[tuple[str, str]]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and a.get("id") == "matrix":
            self.inside = True
        elif self.inside and tag == "tr":
            self.rows.append((a.get("class") or "", []))
        elif self.inside and tag in ("td", "th"):
            self._cell = []
            self._kind = (tag, a.get("class") or "")

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.inside = False
        elif self._cell is not None and tag in ("td", "th"):
            text = "".join(self._cell).strip()
            if self._kind[0] == "th" and len(self.rows) == 1:
                self.headers.append(text)
            else:
                self.rows[-1][1].append((self._kind[1], text))
            self._cell = None


def _chromium(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("chromium")
    if exe is None:
        pytest.skip("chromium is not installed (ci/setup installs it)")
    # A short private home: Chromium's singleton socket path must fit in sun_path.
    with tempfile.TemporaryDirectory(prefix="syscalls-chromium-", dir="/tmp") as home:
        proc = subprocess.run(
            [
                exe,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                f"--user-data-dir={home}/profile",
                *args,
            ],
            env={**os.environ, "HOME": home, "TMPDIR": home},
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_html_matrix_renders_in_headless_chromium(pair, tmp_path: Path) -> None:
    page = tmp_path / "compare.html"
    assert main(["compare", *map(str, pair), "--html", str(page), "--all"]) == 1
    assert "http" not in page.read_text().replace("http-equiv", "")  # no external assets

    dom = _chromium("--dump-dom", page.as_uri()).stdout
    matrix = _Matrix()
    matrix.feed(dom)
    assert matrix.headers == ["test", "host 6.18.0", "gvisor 4.4.0"]
    tests = {cells[0][1]: (cls, cells[1:]) for cls, cells in matrix.rows if cls.startswith("test")}
    assert tests["fs/test_x.py::test_outcome"] == (
        "test differ",
        [("o-passed", "passed"), ("o-failed", "failed")],
    )
    assert tests["fs/test_x.py::test_same"][0] == "test agree"
    assert tests["fs/test_x.py::test_only_here"][1][1] == ("o-missing", "—")
    obs = [cells for cls, cells in matrix.rows if cls == "obs"]
    assert [("key", "read"), ("odd", "EBADF"), ("odd", "EINVAL")] in obs

    shot = tmp_path / "shot.png"
    _chromium(f"--screenshot={shot}", "--window-size=1000,700", page.as_uri())
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(png[16:20], "big") == 1000
    assert len(png) > 10_000  # a blank page compresses to a few hundred bytes


# Tests that answered differently first; those some runs only skipped apart


THREE = {
    "host": {
        T + "test_nofollow": ("passed", ["openat=ELOOP"]),
        T + "test_mask": ("passed", ["query=0x3ff"]),
        T + "test_linux_only": ("passed", ["openat2=ok"]),
        T + "test_agrees_where_run": ("passed", ["read=ok"]),
    },
    "vm": {
        T + "test_nofollow": ("passed", ["openat=ELOOP"]),
        T + "test_mask": ("passed", ["query=0x1ff"]),
        T + "test_linux_only": ("passed", ["openat2=ok"]),
        T + "test_agrees_where_run": ("passed", ["read=ok"]),
    },
    "rump": {
        T + "test_nofollow": ("failed", ["openat=EFTYPE"], "assert EFTYPE == ELOOP"),
        T + "test_mask": ("skipped", [], "only on linux"),
        T + "test_linux_only": ("skipped", ["openat2=ENOSYS"], "openat2: not in the table"),
        # no test_agrees_where_run at all
    },
}


@pytest.fixture
def three(tmp_path: Path) -> list[Path]:
    kernels = {"host": "6.18.0", "vm": "6.1.0", "rump": "7.99.34"}
    return [_profile(tmp_path / f"{t}.json", THREE[t], t, kernels[t]) for t in THREE]


def test_answered_differently_is_told_from_skipped_on_some(three) -> None:
    comparison = compare([load(p) for p in three])
    status = {r.nodeid.removeprefix(T): r.status for r in comparison.rows}
    assert status == {
        "test_nofollow": DIFFER,  # ran on all three, rump answered EFTYPE
        "test_mask": DIFFER,  # ran on host and vm (rump skipped): the mask differs
        "test_linux_only": PARTIAL,  # ran on two that agree; rump skipped
        "test_agrees_where_run": PARTIAL,  # missing from rump
    }
    mask = next(r for r in comparison.rows if r.nodeid.endswith("test_mask"))
    assert [(d.name, d.values) for d in mask.diffs] == [("query", ["0x3ff", "0x1ff", None])]
    only = next(r for r in comparison.rows if r.nodeid.endswith("test_linux_only"))
    assert [d.name for d in only.diffs] == ["openat2"]  # shown, in the second group


def test_text_shows_the_answers_first_and_ran_everywhere_hides_the_rest(three, capsys) -> None:
    args = ["compare", *map(str, three), "--width", "120"]
    assert main(args) == 1
    out = capsys.readouterr().out
    first, second = out.index("== 2 answered differently"), out.index("== 2 ran on some runs only")
    assert first < out.index("test_nofollow") < second < out.index("test_linux_only")
    assert out.rstrip().endswith(
        "4 tests: 2 answered differently where they ran, 2 ran on some runs only, 0 agree"
    )
    assert main([*args, "--ran-everywhere"]) == 1
    out = capsys.readouterr().out
    assert "test_linux_only" not in out and "test_agrees_where_run" not in out
    assert "test_nofollow" in out
    # only skipped-or-missing differences: with --ran-everywhere that is no difference
    for path in three:
        data = json.loads(path.read_text())
        del data["tests"][T + "test_mask"], data["tests"][T + "test_nofollow"]
        path.write_text(json.dumps(data))
    assert main([*args, "--ran-everywhere"]) == 0
    assert main(args) == 1


def test_per_syscall_view_names_the_kernel_that_answers_apart(three, capsys) -> None:
    runs = [load(p) for p in three]
    label_runs(runs)
    answers = by_syscall(compare(runs))
    # openat parts the runs; query is a recorded value, openat2 only where rump skipped
    assert [(a.name, a.values) for a in answers] == [("openat", ["ELOOP", "ELOOP", "EFTYPE"])]
    assert answers[0].tests == [T + "test_nofollow"]
    labels = [r.label for r in runs]
    assert answers[0].sentence(labels) == (
        "openat: EFTYPE on rump 7.99.34 where host 6.18.0, vm 6.1.0 say ELOOP"
    )
    assert main(["compare", *map(str, three), "--width", "200"]) == 1
    out = capsys.readouterr().out
    assert (
        "openat: EFTYPE on [3] where [1], [2] say ELOOP (1 test: fs/test_x.py::test_nofollow)"
        in out
    )


def test_html_filter_hides_the_skipped_on_some_group_in_chromium(three, tmp_path: Path) -> None:
    """The page's checkbox filter is CSS alone: checked, Chromium computes display:none
    for every row of the second group and for no row of the first. A copy of the page
    with a probe script reports what the browser computed."""
    runs = [load(p) for p in three]
    label_runs(runs)
    comparison = compare(runs)
    probe = (
        "<script>const rows = [...document.querySelectorAll('#matrix tbody tr')];"
        "document.body.dataset.hidden = rows.filter(r => getComputedStyle(r).display == 'none')"
        ".map(r => r.className).join(',');</script></body>"
    )
    seen = {}
    for checked in (False, True):
        page = tmp_path / f"page-{checked}.html"
        page.write_text(
            render_html(comparison)
            .replace(
                'id="ran-everywhere">',
                'id="ran-everywhere" checked>' if checked else 'id="ran-everywhere">',
            )
            .replace("</body>", probe)
        )
        dom = _chromium("--dump-dom", page.as_uri()).stdout
        hidden = dom.split('data-hidden="', 1)[1].split('"', 1)[0]
        seen[checked] = [c for c in hidden.split(",") if c]
    assert seen[False] == []
    assert seen[True] and all("partial" in c for c in seen[True])
    assert seen[True].count("test partial") == 2
    plain = render_html(comparison)
    assert "<script" not in plain and 'id="by-syscall"' in plain
    assert "openat: EFTYPE on rump 7.99.34 where host 6.18.0, vm 6.1.0 say ELOOP" in plain
    shot = tmp_path / "shot.png"
    page = tmp_path / "plain.html"
    page.write_text(plain)
    _chromium(f"--screenshot={shot}", "--window-size=1100,800", page.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
