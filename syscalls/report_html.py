"""The comparison as one static HTML page: no scripts from elsewhere, no external assets.

A matrix: runs as columns, tests as rows, each cell coloured by the test's outcome in
that run; under a differing test, one row per observation whose value differs, with the
differing cells marked. Reasons (skip messages, failure messages) are cell tooltips.
"""

from __future__ import annotations

import html
import time

from syscalls.compare import AGREE, DIFFER, MISSING, PARTIAL, Comparison, display_id, summary

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
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _outcome_cell(outcome: str, reason: str = "") -> str:
    kind = "missing" if outcome == MISSING else outcome
    title = f' title="{_e(reason)}"' if reason else ""
    return f'<td class="o-{_e(kind)}"{title}>{_e(outcome)}</td>'


def render_html(comparison: Comparison, show_all: bool = False) -> str:
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
        f'<span class="s-agree">{counts[AGREE]} agree</span>'
        f'<span class="s-differ">{counts[DIFFER]} differ</span>'
        f'<span class="s-partial">{counts[PARTIAL]} only in some runs</span></p>'
    )
    out.append('<table class="matrix" id="matrix"><thead><tr><th>test</th>')
    out += [f"<th>{_e(run.label)}</th>" for run in runs]
    out.append("</tr></thead><tbody>")
    area = None
    shown = 0
    for row in comparison.rows:
        if row.status == AGREE and not show_all:
            continue
        shown += 1
        here = display_id(row.nodeid).partition("/")[0] if "/" in row.nodeid else ""
        if here != area:
            area = here
            out.append(f'<tr class="area"><th colspan="{len(runs) + 1}">{_e(area)}</th></tr>')
        out.append(
            f'<tr class="test {row.status}" data-nodeid="{_e(row.nodeid)}">'
            f'<td class="test">{_e(display_id(row.nodeid))}</td>'
        )
        for cell in row.cells:
            out.append(_outcome_cell(cell.outcome, cell.reason) if cell else _outcome_cell(MISSING))
        out.append("</tr>")
        for diff in row.diffs:
            values = [MISSING if v is None else v for v in diff.values]
            common = max(values, key=values.count)  # the majority value is not marked
            out.append(f'<tr class="obs"><td class="key">{_e(diff.name)}</td>')
            lone = values.count(common) == 1  # no majority: every value is marked
            for v in values:
                mark = ' class="odd"' if lone or v != common else ""
                out.append(f"<td{mark}>{_e(v)}</td>")
            out.append("</tr>")
    if not shown:
        out.append(f'<tr><td colspan="{len(runs) + 1}">no differences</td></tr>')
    out.append("</tbody></table>")
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    out.append(f"<p><small>syscalls compare, {_e(stamp)}</small></p></body></html>")
    return "\n".join(out) + "\n"
