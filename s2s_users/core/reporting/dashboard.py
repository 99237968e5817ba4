"""What the dashboards show, per model: summaries and survival-curve points, live or final.

Live values come from the live view, so they are the Sessions tab's numbers (to its resolution: a second of
capacity, 10 ms of TTFA); final values come from the report, exactly. The master writes both to InfluxDB, the
final ones last, so Grafana and the report agree on every number they both show once the run has ended.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from s2s_users.core.metrics.live import LiveView
from s2s_users.core.metrics.records import SessionRecord
from s2s_users.core.metrics.survival import SurvivalCurve, kaplan_meier
from s2s_users.core.reporting.summary import Report

#: z for the 95 % pointwise band of the survival curve (Greenwood), as the report's median CI uses.
_Z = 1.96


@dataclass(frozen=True, slots=True)
class ModelSummary:
    """One model's state of the run. Capacities are minutes of assistant audio to the first silent failure."""

    model: str
    final: bool
    active: int
    sessions_ended: int
    failed_sessions: int
    silent_failure_sessions: int
    censored_sessions: int
    lost_sessions: int
    turns_ok: int
    turns_failed: int
    audio_minutes: float
    capacity_median_min: float | None
    capacity_ci_low_min: float | None
    capacity_ci_high_min: float | None
    ttfa_p50_ms: float | None
    ttfa_p95_ms: float | None
    turn_audio_p50_s: float | None
    turn_audio_p95_s: float | None
    cost_usd: float
    arm: str = ""
    """The A/B arm of a live row (runs with --ab-rotate-after); final summaries are per model."""


@dataclass(frozen=True, slots=True)
class CurvePoint:
    """A corner of the Kaplan–Meier step curve: survival ``survival`` from ``capacity_s`` on."""

    capacity_s: float
    survival: float
    ci_low: float
    ci_high: float
    at_risk: int
    events: int


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / 60


def live_summaries(view: LiveView) -> list[ModelSummary]:
    """Per model, the Sessions tab's numbers now (open sessions count as censored where they are)."""
    summaries = []
    for _, row in sorted(view.models.items()):
        curve = row.survival()
        low, high = curve.median_ci()
        summaries.append(
            ModelSummary(
                model=row.model,
                arm=row.arm,
                final=False,
                active=row.active,
                sessions_ended=row.sessions,
                failed_sessions=row.failed_sessions,
                silent_failure_sessions=row.silent_failure_sessions,
                censored_sessions=row.sessions - row.silent_failure_sessions,
                lost_sessions=row.lost_sessions,
                turns_ok=row.turns_ok,
                turns_failed=row.turns_failed,
                audio_minutes=row.audio_s / 60,
                capacity_median_min=_minutes(curve.median()),
                capacity_ci_low_min=_minutes(low),
                capacity_ci_high_min=_minutes(high),
                ttfa_p50_ms=row.ttfa.quantile(0.5),
                ttfa_p95_ms=row.ttfa.quantile(0.95),
                turn_audio_p50_s=row.turn_audio.quantile(0.5),
                turn_audio_p95_s=row.turn_audio.quantile(0.95),
                cost_usd=row.cost_usd,
            )
        )
    return summaries


def final_summaries(report: Report) -> list[ModelSummary]:
    """Per model, the report's numbers: what the dashboards show once the run has ended."""
    return [
        ModelSummary(
            model=row.model,
            final=True,
            active=0,
            sessions_ended=row.sessions,
            failed_sessions=row.failed_sessions,
            silent_failure_sessions=row.silent_failure_sessions,
            censored_sessions=row.censored_sessions,
            lost_sessions=row.lost_sessions,
            turns_ok=row.turns_completed,
            turns_failed=row.turns_failed,
            audio_minutes=row.total_audio_min,
            capacity_median_min=_minutes(row.silent_capacity_median_s),
            capacity_ci_low_min=_minutes(row.silent_capacity_ci[0]),
            capacity_ci_high_min=_minutes(row.silent_capacity_ci[1]),
            ttfa_p50_ms=row.ttfa_p50_ms,
            ttfa_p95_ms=row.ttfa_p95_ms,
            turn_audio_p50_s=row.median_turn_audio_s,
            turn_audio_p95_s=row.p95_turn_audio_s,
            cost_usd=row.cost_usd,
        )
        for row in report.models
    ]


def curve_points(curve: SurvivalCurve) -> list[CurvePoint]:
    """The step curve's corners from (0, 1): before and after each drop, so a plain line draws the steps."""
    points = [CurvePoint(0.0, 1.0, 1.0, 1.0, curve.at_risk[0] if curve.at_risk else 0, 0)]
    before = 1.0
    for t, s, risk, events, variance in zip(
        curve.times, curve.survival, curve.at_risk, curve.events, curve.variance, strict=True
    ):
        band = _Z * math.sqrt(variance)
        points.append(CurvePoint(t, before, points[-1].ci_low, points[-1].ci_high, risk, 0))
        points.append(CurvePoint(t, s, max(s - band, 0.0), min(s + band, 1.0), risk, events))
        before = s
    return points


def live_curves(view: LiveView) -> dict[str, list[CurvePoint]]:
    """Per model, the survival curve of the Sessions tab (open sessions censored where they are)."""
    return {model: curve_points(row.survival()) for model, row in sorted(view.models.items())}


def final_curves(records: Sequence[SessionRecord]) -> dict[str, list[CurvePoint]]:
    """Per model, the report's survival curve of capacity to silent failure."""
    by_model: dict[str, list[SessionRecord]] = {}
    for record in records:
        by_model.setdefault(record.model, []).append(record)
    return {
        model: curve_points(
            kaplan_meier(
                [r.capacity_to_silent_failure_s for r in rows],
                [not r.silent_censored for r in rows],
            )
        )
        for model, rows in sorted(by_model.items())
    }
