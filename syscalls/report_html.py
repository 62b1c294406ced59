"""The comparison as one static HTML page: no scripts at all, no external assets.

A matrix: runs as columns, tests as rows, each cell coloured by the test's outcome in
that run; under a differing test, one row per observation whose value differs, with the
differing cells marked. The tests that ran on several runs and answered differently come
first, then those that ran on some runs only (a checkbox hides them, in CSS alone).
Below it, per syscall, the answers that part between runs. Reasons (skip messages,
failure messages) are cell tooltips.
"""

from __future__ import annotations

import html
import time

from syscalls.compare import (
    AGREE,
    DIFFER,
    MISSING,
    PARTIAL,
    TITLES,
    Comparison,
    by_syscall,
    display_id,
    summary,
)

_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; margin: 0 0 .3em; }
p.summary { margin: .3em 0 1em; }
p.summary span { padding: .1em .5em; border-radius: 3px; margin-right: .4em; }
table { border-collapse: collapse; }
table.runs td, table.runs th { padding: .15em .8em .15em 0; text-align: left; }
table.matrix { font-family: ui-monospace, monospace; font-size: 13px; }
table.matrix th, table.matrix td { border: 1px solid #ccc; padding: .2em .5em; }
table.matrix thead th { background: #eee; position: sticky; top: 0; }
table.matrix td.test { max-width: 46em; overflow-wrap: anywhere; }
tr.differ td.test { border-left: 5px solid #d04040; font-weight: bold; }
tr.partial td.test { border-left: 5px solid #999; }
tr.area th { background: #f6f6f6; text-align: left; }
tr.obs td { font-size: 12px; background: #fafafa; }
tr.obs td.key { padding-left: 2em; color: #555; }
td.o-passed { background: #c8ecc8; }
td.o-failed, td.o-error, td.o-xpassed { background: #f4b8b8; }
td.o-skipped { background: #f3e6a6; }
td.o-xfailed { background: #dccbf0; }
td.o-missing { background: #ddd; color: #777; }
tr.obs td.odd { background: #ffd9a8; font-weight: bold; }
.s-agree { background: #c8ecc8; } .s-differ { background: #f4b8b8; }
.s-partial { background: #ddd; }
tr.group th { background: #444; color: #fff; text-align: left; font-size: 14px; }
label.filter { display: inline-block; margin: 0 0 .6em; }
#ran-everywhere:checked ~ table.matrix tr.partial { display: none; }
h2 { font-size: 1.1em; margin: 1.5em 0 .4em; }
table.syscalls { font-family: ui-monospace, monospace; font-size: 13px; }
table.syscalls th, table.syscalls td { border: 1px solid #ccc; padding: .2em .5em; }
table.syscalls td.odd { background: #ffd9a8; font-weight: bold; }
table.syscalls td.none { color: #999; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _outcome_cell(outcome: str, reason: str = "") -> str:
    kind = "missing" if outcome == MISSING else outcome
    title = f' title="{_e(reason)}"' if reason else ""
    return f'<td class="o-{_e(kind)}"{title}>{_e(outcome)}</td>'


def _value_cell(value: str, odd: bool) -> str:
    return f'<td class="odd">{_e(value)}</td>' if odd else f"<td>{_e(value)}</td>"


def _marked(values: list[str], counts: list[bool] | None = None) -> list[bool]:
    """Which cells to mark: among the values that count (a run that skipped the test has
    nothing to say), all but the majority's, or every one when no value leads."""
    counts = counts or [True] * len(values)
    present = [v for v, c in zip(values, counts, strict=True) if c]
    if not present:
        return [False] * len(values)
    common = max(present, key=present.count)
    lone = present.count(common) == 1 and len(present) > 1
    return [c and (lone or v != common) for v, c in zip(values, counts, strict=True)]


def render_html(
    comparison: Comparison, show_all: bool = False, ran_everywhere: bool = False
) -> str:
    """The whole page as a string."""
    runs = comparison.runs
    counts = comparison.counts
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>syscalls compare: " + _e(" vs ".join(r.label for r in runs)) + "</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Where the runs disagree</h1>",
        '<table class="runs"><tr><th>run</th><th>platform</th><th>tests</th><th>file</th></tr>',
    ]
    for run in runs:
        out.append(
            f"<tr><td>{_e(run.label)}</td><td>{_e(run.platform or '?')}</td>"
            f"<td>{len(run.tests)}</td><td>{_e(run.path)}</td></tr>"
        )
    out.append("</table>")
    out.append(
        f'<p class="summary" id="summary">{_e(summary(comparison))}<br>'
        f'<span class="s-differ">{counts[DIFFER]} {_e(TITLES[DIFFER])}</span>'
        f'<span class="s-partial">{counts[PARTIAL]} ran on some runs only</span>'
        f'<span class="s-agree">{counts[AGREE]} agree</span></p>'
    )
    checked = " checked" if ran_everywhere else ""
    out.append(
        f'<input type="checkbox" id="ran-everywhere"{checked}> '
        '<label class="filter" for="ran-everywhere">hide the tests that ran on some runs '
        "only (skipped or missing on the others)</label>"
    )
    out.append('<table class="matrix" id="matrix"><thead><tr><th>test</th>')
    out += [f"<th>{_e(run.label)}</th>" for run in runs]
    out.append("</tr></thead><tbody>")
    rows = comparison.shown(show_all, ran_everywhere)
    width = len(runs) + 1
    status = area = None
    for row in rows:
        group = row.status
        if group != status:
            status, area = group, None
            out.append(
                f'<tr class="group {group}"><th colspan="{width}">'
                f"{counts[group]} {_e(TITLES[group])}</th></tr>"
            )
        here = display_id(row.nodeid).partition("/")[0] if "/" in row.nodeid else ""
        if here != area:
            area = here
            out.append(f'<tr class="area {group}"><th colspan="{width}">{_e(area)}</th></tr>')
        out.append(
            f'<tr class="test {group}" data-nodeid="{_e(row.nodeid)}">'
            f'<td class="test">{_e(display_id(row.nodeid))}</td>'
        )
        for cell in row.cells:
            out.append(_outcome_cell(cell.outcome, cell.reason) if cell else _outcome_cell(MISSING))
        out.append("</tr>")
        obs_class = "obs" if group != PARTIAL else "obs partial"
        ran = [c is not None and c.outcome != "skipped" for c in row.cells]
        for diff in row.diffs:
            values = [MISSING if v is None else v for v in diff.values]
            out.append(f'<tr class="{obs_class}"><td class="key">{_e(diff.name)}</td>')
            for v, mark in zip(values, _marked(values, ran if any(ran) else None), strict=True):
                out.append(_value_cell(v, mark))
            out.append("</tr>")
    if not rows:
        out.append(f'<tr><td colspan="{width}">no differences</td></tr>')
    out.append("</tbody></table>")
    out += _syscall_table(comparison)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    out.append(f"<p><small>syscalls compare, {_e(stamp)}</small></p></body></html>")
    return "\n".join(out) + "\n"


def _syscall_table(comparison: Comparison) -> list[str]:
    """Per syscall, each pattern of answers that parts the runs, in tests that ran."""
    answers = by_syscall(comparison)
    labels = [run.label for run in comparison.runs]
    out = [
        "<h2>Per syscall: where the answers part (in tests that ran on several runs)</h2>",
        '<table class="syscalls" id="by-syscall"><thead><tr><th>syscall</th>',
        *(f"<th>{_e(label)}</th>" for label in labels),
        "<th>tests</th><th>in words</th></tr></thead><tbody>",
    ]
    for a in answers:
        values = [MISSING if v is None else v for v in a.values]
        marks = _marked(values, [v is not None for v in a.values])
        out.append(f'<tr><td class="key">{_e(a.name)}</td>')
        for v, mark in zip(values, marks, strict=True):
            out.append(_value_cell(v, mark) if v != MISSING else f'<td class="none">{v}</td>')
        tests = _e("\n".join(display_id(t) for t in a.tests))
        out.append(f'<td title="{tests}">{len(a.tests)}</td><td>{_e(a.sentence(labels))}</td>')
        out.append("</tr>")
    if not answers:
        out.append(f'<tr><td colspan="{len(labels) + 3}">no syscall answers differently</td></tr>')
    out.append("</tbody></table>")
    return out
