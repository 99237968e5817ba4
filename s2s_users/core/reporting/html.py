"""report.html: one self-contained page (inline CSS and SVG, no scripts, no external references)."""

from __future__ import annotations

import html
from collections.abc import Sequence

from s2s_users.core.metrics.records import SessionRecord
from s2s_users.core.reporting.plots import audio_per_turn_svg, failures_svg, survival_svg, ttfa_over_time_svg
from s2s_users.core.reporting.render import (
    FAILED_COLUMNS,
    HOW_TO_READ,
    Table,
    arms_table,
    budget_table,
    budget_title,
    capacity_table,
    cost_table,
    detail_table,
    evidence_cell,
    failed_cells,
    failed_intro,
    pacing_table,
    pacing_warning,
    seed_table,
    taxonomy_table,
    turn_taking_table,
    warnings_table,
)
from s2s_users.core.reporting.run_info import RunInfo, header_rows
from s2s_users.core.reporting.summary import Report

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:24px auto;padding:0 16px;
color:#202124}
h1{font-size:22px}h2{font-size:18px;margin-top:32px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:14px}
th,td{border-bottom:1px solid #dadce0;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f1f3f4}
tr.silent td:first-child{color:#b00020;font-weight:600}
tr.quiet{color:#9aa0a6}
p.warning{border-left:4px solid #b00020;padding:6px 12px;background:#fce8e6;font-weight:600}
figure{margin:16px 0}figcaption{font-size:13px;color:#5f6368}
svg{max-width:100%;height:auto}
"""


def html_table(table: Table, row_classes: Sequence[str] = ()) -> str:
    """An HTML table with escaped cells; ``row_classes`` gives each row a CSS class ("" for none)."""
    header, rows = table
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
    body = []
    for index, row in enumerate(rows):
        css = row_classes[index] if index < len(row_classes) else ""
        cells = "".join(f"<td>{html.escape(cell)}</td>" for cell in row)
        body.append(f'<tr class="{css}">{cells}</tr>' if css else f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _link(label: str, path: str) -> str:
    return f'<a href="{html.escape(path, quote=True)}">{html.escape(label)}</a>'


def failed_table(report: Report) -> str:
    """The failed sessions with links to their evidence (paths relative to the run folder, as the report is)."""
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in FAILED_COLUMNS)
    body = []
    for row in report.failed:
        cells = [html.escape(cell) for cell in failed_cells(row)] + [evidence_cell(row, _link, html.escape)]
        body.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{html.escape(caption)}</figcaption></figure>"


def _markdown_bold(text: str) -> str:
    """HOW_TO_READ lines use **bold** for the term: the only markup they carry."""
    parts = html.escape(text).split("**")
    return "".join(f"<strong>{part}</strong>" if index % 2 else part for index, part in enumerate(parts))


def render_html(report: Report, records: Sequence[SessionRecord], info: RunInfo | None = None) -> str:
    runs = ", ".join(report.run_ids)
    taxonomy_classes = [
        "silent" if t.silent and (t.turns or t.session_ends) else "" if t.turns or t.session_ends else "quiet"
        for t in report.taxonomy
    ]
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>s2s_users report: {html.escape(runs)}</title><style>{STYLE}</style></head><body>",
        f"<h1>s2s_users report: run {html.escape(runs)}</h1>",
        f"<p>{report.sessions} sessions.</p>",
        *([f'<p class="warning">{html.escape(warning)}</p>'] if (warning := pacing_warning(report)) else []),
        *(["<h2>The run</h2>", html_table((("Item", "Value"), list(header_rows(info))))] if info is not None else []),
        "<h2>Sessions per model</h2>",
        html_table(seed_table(report)),
        html_table(detail_table(report)),
        "<h2>Capacity: measured or lower bound</h2>",
        html_table(capacity_table(report)),
        _figure(
            survival_svg(records),
            "Capacity to silent failure: share of sessions still without a silent failure after so many minutes "
            "of assistant audio (Kaplan–Meier; + marks censored sessions; dashed lines are the medians).",
        ),
        _figure(audio_per_turn_svg(records), "Assistant audio per turn against the turn index; red crosses fail."),
        _figure(ttfa_over_time_svg(records), "Time to first audio over the run: p50 (solid) and p95 (dashed)."),
        "<h2>Turn-taking</h2>",
        html_table(turn_taking_table(report)),
        "<h2>Failure taxonomy</h2>",
        _figure(failures_svg(report), "Failures by class; silent classes in red."),
        html_table(taxonomy_table(report), taxonomy_classes),
    ]
    for model, budget in report.budgets.items():
        parts += [f"<h2>{html.escape(budget_title(report, model))}</h2>", html_table(budget_table(budget))]
    if report.arms:
        parts += ["<h2>Session rotation: arms side by side</h2>", html_table(arms_table(report))]
    if report.warnings:
        parts += ["<h2>Early warning before each silent failure</h2>", html_table(warnings_table(report))]
    parts += ["<h2>Cost</h2>", html_table(cost_table(report))]
    if report.failed:
        parts += ["<h2>Failed sessions</h2>", f"<p>{html.escape(failed_intro(report))}</p>", failed_table(report)]
    if report.pacing:
        parts += ["<h2>Load generator pacing</h2>", html_table(pacing_table(report))]
    parts += ["<h2>How to read this</h2>", "<ul>"]
    parts += [f"<li>{_markdown_bold(line)}</li>" for line in HOW_TO_READ]
    parts += ["</ul>", "</body></html>", ""]
    return "\n".join(parts)
