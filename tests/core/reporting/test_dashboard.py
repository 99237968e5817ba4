"""What the dashboards show: live numbers are the Sessions tab's, final numbers are the report's."""

from __future__ import annotations

import dataclasses

import pytest

from s2s_users.core.metrics.live import LiveView, TurnEvent
from s2s_users.core.metrics.records import SessionRecord
from s2s_users.core.metrics.survival import kaplan_meier
from s2s_users.core.reporting.dashboard import curve_points, final_curves, final_summaries, live_summaries
from s2s_users.core.reporting.summary import build_report
from tests.support.records import session, turn


def _records() -> list[SessionRecord]:
    zero_audio_last = (turn(1), turn(2), turn(3, outcome="response.zero_audio", assistant_audio_s=0.0))
    failed = [
        dataclasses.replace(
            session(f"f-{i}", outcome="failed", failure_class="response.zero_audio", silent_failure_turn=3,
                    capacity_to_silent_failure_s=290.0 + i, silent_censored=False, turns_completed=2),
            turns=zero_audio_last,
        )
        for i in range(4)
    ]  # fmt: skip
    lost = session("lost-1", outcome="lost", end_class="harness.worker_lost", capacity_to_silent_failure_s=100.0)
    return [*failed, session("ok-1"), session("ok-2"), lost]


def test_final_summaries_are_the_reports_numbers() -> None:
    records = _records()
    report = build_report(records)
    (summary,) = final_summaries(report)
    (row,) = report.models
    assert summary.final and summary.active == 0
    assert (summary.sessions_ended, summary.failed_sessions, summary.silent_failure_sessions) == (7, 4, 4)
    assert (summary.censored_sessions, summary.lost_sessions) == (3, 1)
    assert (summary.turns_ok, summary.turns_failed) == (row.turns_completed, 4)
    assert row.silent_capacity_median_s is not None
    assert summary.capacity_median_min == row.silent_capacity_median_s / 60
    assert summary.ttfa_p95_ms == row.ttfa_p95_ms and summary.audio_minutes == row.total_audio_min


def test_live_summaries_are_the_sessions_tabs_numbers() -> None:
    records = _records()
    view = LiveView()
    for record in records:
        for item in record.turns:
            view.add_turn(TurnEvent.of(record.model, item))
        view.add_session(record)
    view.set_open([session("open-1", capacity_to_silent_failure_s=12.0)])
    (summary,) = live_summaries(view)
    (final,) = final_summaries(build_report(records))
    assert not summary.final and summary.active == 1
    assert (summary.sessions_ended, summary.silent_failure_sessions, summary.lost_sessions) == (7, 4, 1)
    assert summary.turns_failed == final.turns_failed and summary.turns_ok == final.turns_ok
    assert summary.capacity_median_min is not None and final.capacity_median_min is not None
    assert summary.capacity_median_min == pytest.approx(final.capacity_median_min, abs=1 / 60)
    row = view.table_rows()[0]
    assert row["capacity"] == f"{summary.capacity_median_min:.2f} min"


def test_a_curve_is_drawn_as_steps_from_one_with_its_band_inside_zero_and_one() -> None:
    curve = kaplan_meier([10.0, 20.0, 20.0, 30.0], [True, True, False, True])
    points = curve_points(curve)
    assert (points[0].capacity_s, points[0].survival) == (0.0, 1.0)
    corners = [(p.capacity_s, p.survival) for p in points]
    assert corners[1:3] == [(10.0, 1.0), (10.0, 0.75)]  # down at 10 s: before and after the drop
    after_drops = [(p.capacity_s, p.survival) for p in points[2::2]]
    assert after_drops == list(zip(curve.times, curve.survival, strict=True))
    assert all(0.0 <= p.ci_low <= p.survival <= p.ci_high <= 1.0 for p in points)


def test_final_curves_are_per_model_kaplan_meier_of_capacity_to_silent_failure() -> None:
    records = _records()
    curves = final_curves(records)
    expected = kaplan_meier([r.capacity_to_silent_failure_s for r in records], [not r.silent_censored for r in records])
    assert list(curves) == ["gpt-realtime"]
    assert [(p.capacity_s, p.survival) for p in curves["gpt-realtime"][2::2]] == list(
        zip(expected.times, expected.survival, strict=True)
    )
