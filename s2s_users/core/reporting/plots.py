"""Plots as inline SVG strings, for report.html and the comparison page (the web UI draws its own in the browser).

matplotlib's object API only (``Figure.savefig``): no pyplot, so no global state and no display.

Output is deterministic (fixed hash salt, no dates) so a report written twice is byte-identical.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
from matplotlib.figure import Figure

from s2s_users.core.metrics.records import SessionRecord
from s2s_users.core.metrics.survival import kaplan_meier_counts
from s2s_users.core.reporting.summary import Report, percentile

WIDTH_IN, HEIGHT_IN = 8.0, 3.6
DENSE_POINTS = 3000
SILENT_COLOUR, VISIBLE_COLOUR, FAIL_COLOUR = "#b00020", "#f29900", "#d93025"
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)


def _figure() -> tuple[Figure, Any]:
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=100, layout="constrained")
    return figure, figure.add_subplot()


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    # Applied while saving, never to matplotlib's global settings (they belong to whoever imports us).
    # fonttype none: text stays text (smaller, searchable); a fixed hash salt: the same report, the same bytes.
    with matplotlib.rc_context({"svg.hashsalt": "s2s_users", "svg.fonttype": "none"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]  # drop the XML prolog and DOCTYPE: the SVG is inlined in HTML
    return _METADATA.sub("", text)  # and the RDF block, which only names its vocabularies' URLs


def _note(axes: Any, text: str) -> None:
    axes.text(0.5, 0.5, text, ha="center", va="center", transform=axes.transAxes, color="#777")
    axes.set_xticks([])
    axes.set_yticks([])


def survival_svg_from(curves: Mapping[str, Sequence[tuple[float, int, int]]]) -> str:
    """Kaplan–Meier curves of capacity to silent failure, one per model.

    ``curves`` maps a model to ``(capacity in minutes, events, censored)`` counts, as ``kaplan_meier_counts``
    takes them (the live view keeps exactly these); censored times are marked with '+', medians dashed.
    """
    figure, axes = _figure()
    drawn = False
    for model, rows in sorted(curves.items()):
        if not rows:
            continue
        drawn = True
        curve = kaplan_meier_counts(rows)
        xs = [0.0, *curve.times]
        ys = [1.0, *curve.survival]
        end = max(t for t, _, _ in rows)
        if xs[-1] < end:
            xs.append(end)
            ys.append(ys[-1])
        (line,) = axes.step(xs, ys, where="post", label=model, gid=f"survival-{model}")
        censored = sorted({t for t, _, c in rows if c})
        if censored:
            axes.plot(censored, [_survival_at(curve.times, curve.survival, t) for t in censored], "+",
                      color=line.get_color(), markersize=9, gid=f"censored-{model}")  # fmt: skip
        median = curve.median()
        if median is not None:
            axes.axvline(median, color=line.get_color(), linestyle="--", linewidth=1)
    if not drawn:
        _note(axes, "no session has ended yet")
        return _svg(figure)
    axes.set_xlabel("assistant audio in the session (minutes)")
    axes.set_ylabel("sessions without a silent failure")
    axes.set_ylim(-0.02, 1.05)
    axes.set_xlim(left=0)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower left")
    return _svg(figure)


def _survival_at(times: Sequence[float], survival: Sequence[float], t: float) -> float:
    value = 1.0
    for time_point, s in zip(times, survival, strict=True):
        if time_point > t:
            break
        value = s
    return value


def survival_svg(records: Sequence[SessionRecord]) -> str:
    curves: dict[str, list[tuple[float, int, int]]] = {}
    for record in records:
        censored = int(record.silent_censored)
        curves.setdefault(record.model, []).append((record.capacity_to_silent_failure_s / 60, 1 - censored, censored))
    return survival_svg_from(curves)


def audio_per_turn_svg(records: Sequence[SessionRecord]) -> str:
    """Assistant audio seconds per turn against the turn index, per model; failing turns as red crosses."""
    figure, axes = _figure()
    by_model: dict[str, list[tuple[int, float]]] = {}
    failed: list[tuple[int, float]] = []
    for record in records:
        for turn in record.turns:
            if turn.outcome == "ok":
                by_model.setdefault(record.model, []).append((turn.turn + 1, turn.assistant_audio_s))
            elif turn.outcome != "harness.stopped":
                failed.append((turn.turn + 1, turn.assistant_audio_s))
    if not by_model and not failed:
        _note(axes, "no turns")
        return _svg(figure)
    # Past a few thousand points, vector markers make report.html heavy: draw the dots as one embedded image.
    dense = sum(len(points) for points in by_model.values()) > DENSE_POINTS
    for model, points in sorted(by_model.items()):
        axes.scatter([p[0] for p in points], [p[1] for p in points], s=9, alpha=0.6, label=model, rasterized=dense)
    if failed:
        axes.scatter([p[0] for p in failed], [p[1] for p in failed], marker="x", color=FAIL_COLOUR, s=30,
                     label="failed turn")  # fmt: skip
    axes.set_xlabel("turn")
    axes.set_ylabel("assistant audio (s)")
    axes.grid(alpha=0.3)
    axes.legend(loc="upper right")
    return _svg(figure)


def ttfa_over_time_svg(records: Sequence[SessionRecord], buckets: int = 30) -> str:
    """TTFA p50 (solid) and p95 (dashed) per time bucket of the run, per model."""
    figure, axes = _figure()
    points = [
        (record.model, turn.started_at, turn.ttfa_ms)
        for record in records
        for turn in record.turns
        if turn.outcome == "ok" and turn.ttfa_ms is not None
    ]
    if not points:
        _note(axes, "no time to first audio measured")
        return _svg(figure)
    start = min(p[1] for p in points)
    width = max((max(p[1] for p in points) - start) / buckets, 1.0)
    for model in sorted({p[0] for p in points}):
        grouped: dict[int, list[float]] = {}
        for name, at, ttfa in points:
            if name == model and ttfa is not None:
                grouped.setdefault(int((at - start) // width), []).append(ttfa)
        xs = [(index + 0.5) * width / 60 for index in sorted(grouped)]
        (line,) = axes.plot(xs, [percentile(grouped[i], 50) for i in sorted(grouped)], label=f"{model} p50")
        axes.plot(xs, [percentile(grouped[i], 95) for i in sorted(grouped)], linestyle="--",
                  color=line.get_color(), label=f"{model} p95")  # fmt: skip
    axes.set_xlabel("minutes into the run")
    axes.set_ylabel("time to first audio (ms)")
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left", fontsize="small")
    return _svg(figure)


def failures_svg(report: Report) -> str:
    """Failing turns and session ends per failure class; silent classes in red."""
    figure, axes = _figure()
    rows = [row for row in report.taxonomy if row.counts_as_failure and (row.turns or row.session_ends)]
    if not rows:
        _note(axes, "no failures")
        return _svg(figure)
    labels = [row.code for row in rows]
    counts = [max(row.turns, row.session_ends) for row in rows]
    colours = [SILENT_COLOUR if row.silent else VISIBLE_COLOUR for row in rows]
    axes.barh(labels, counts, color=colours)
    axes.invert_yaxis()
    axes.set_xlabel("count (turns, or session ends for classes that end a session between turns)")
    axes.grid(axis="x", alpha=0.3)
    return _svg(figure)
