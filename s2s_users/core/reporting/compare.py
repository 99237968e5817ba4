"""Two runs side by side: per model, the seed-style numbers of run A and run B, and both survival curves.

``python -m s2s_users compare RUN_A RUN_B`` prints the table and writes a self-contained HTML page with it and
the curves (run A solid, run B in the same colour family per model, labelled ``A: model`` / ``B: model``).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from s2s_users.core.metrics.records import SessionRecord
from s2s_users.core.reporting.html import STYLE, html_table
from s2s_users.core.reporting.plots import survival_svg_from
from s2s_users.core.reporting.render import Table, turns_cell
from s2s_users.core.reporting.summary import ModelRow, Report

COLUMNS = (
    "Model",
    "Sessions",
    "Turns completed",
    "Median per-turn",
    "Total assistant audio",
    "Capacity to silent failure",
    "Silent failures",
    "TTFA p95",
)


@dataclass(frozen=True, slots=True)
class Run:
    """One side of the comparison: its label (``A``/``B``), name (the folder), report and records."""

    label: str
    name: str
    report: Report
    records: Sequence[SessionRecord]


def _cells(row: ModelRow | None) -> tuple[str, ...]:
    if row is None:
        return ("—",) * (len(COLUMNS) - 1)
    capacity = (
        f"more than {row.silent_capacity_lower_bound_s / 60:.2f} min (lower bound)"
        if row.silent_capacity_median_s is None
        else f"{row.silent_capacity_median_s / 60:.2f} min"
    )
    return (
        str(row.sessions),
        turns_cell(row),
        "—" if row.median_turn_audio_s is None else f"{row.median_turn_audio_s:.2f} s",
        f"{row.total_audio_min:.2f} min",
        capacity,
        f"{row.silent_failure_sessions} / {row.sessions}",
        "—" if row.ttfa_p95_ms is None else f"{row.ttfa_p95_ms:.0f} ms",
    )


def side_by_side(a: Run, b: Run) -> Table:
    """One row per model and run: ``model`` then ``A``/``B`` lines, so each number sits above its twin."""
    rows_a = {row.model: row for row in a.report.models}
    rows_b = {row.model: row for row in b.report.models}
    rows: list[tuple[str, ...]] = []
    for model in sorted(rows_a.keys() | rows_b.keys()):
        rows.append((f"{model} ({a.label})", *_cells(rows_a.get(model))))
        rows.append((f"{model} ({b.label})", *_cells(rows_b.get(model))))
    return COLUMNS, rows


def render_text(a: Run, b: Run) -> str:
    header, rows = side_by_side(a, b)
    table = [header, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = [f"A = {a.name}", f"B = {b.name}", ""]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in table]
    return "\n".join(lines)


def _curves(run: Run) -> dict[str, list[tuple[float, int, int]]]:
    curves: dict[str, list[tuple[float, int, int]]] = {}
    for record in run.records:
        censored = int(record.silent_censored)
        curves.setdefault(f"{run.label}: {record.model}", []).append(
            (record.capacity_to_silent_failure_s / 60, 1 - censored, censored)
        )
    return curves


def render_html(a: Run, b: Run) -> str:
    title = f"s2s_users: {a.name} (A) against {b.name} (B)"
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
            f"<h1>{html.escape(title)}</h1>",
            "<h2>Sessions per model</h2>",
            html_table(side_by_side(a, b)),
            "<h2>Capacity to silent failure</h2>",
            f"<figure>{survival_svg_from({**_curves(a), **_curves(b)})}<figcaption>Kaplan–Meier curves of both "
            "runs: share of sessions still without a silent failure after so many minutes of assistant audio "
            "(+ marks censored sessions; dashed lines are the medians).</figcaption></figure>",
            "</body></html>",
            "",
        ]
    )
