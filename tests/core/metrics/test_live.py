"""The live view: the web UI's numbers, bounded in memory, agreeing with the exact report where they should."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from s2s_users.core.metrics.lag import LagHistogram
from s2s_users.core.metrics.live import Histogram, LiveView, Timeline, TurnEvent
from s2s_users.core.metrics.records import SessionRecord
from s2s_users.core.reporting.summary import build_report
from tests.support.records import T0
from tests.support.records import session as make_session
from tests.support.records import turn as make_turn


def _feed(view: LiveView, records: Iterable[SessionRecord]) -> None:
    for record in records:
        for turn in record.turns:
            view.add_turn(TurnEvent.of(record.model, turn))
        view.add_session(record)


def test_a_histogram_quantile_is_within_one_bin_of_the_exact_value() -> None:
    histogram = Histogram(0.1)
    values = [0.05 * i for i in range(1, 201)]
    for value in values:
        histogram.add(value)
    assert histogram.quantile(0.5) == pytest.approx(5.0, abs=0.1)
    assert histogram.quantile(0.95) == pytest.approx(9.5, abs=0.1)
    assert Histogram(1.0).quantile(0.5) is None


def test_the_timeline_keeps_a_bounded_number_of_buckets_and_every_count() -> None:
    timeline = Timeline(first_width_s=10, max_buckets=8)
    for second in range(0, 1000, 5):
        timeline.add(T0 + second, "response.zero_audio")
    rows = timeline.rows()
    assert len(rows) <= 8 and timeline.width_s >= 125
    assert sum(row["counts"]["response.zero_audio"] for row in rows) == 200


def test_the_live_median_capacity_matches_the_report_to_the_second() -> None:
    records = [
        make_session(f"s-{i}", turns=3, capacity_to_silent_failure_s=300.0 + i, silent_censored=i % 3 == 0,
                     silent_failure_turn=None if i % 3 == 0 else 3)
        for i in range(12)
    ]  # fmt: skip
    view = LiveView()
    _feed(view, records)
    exact = build_report(records).models[0].silent_capacity_median_s
    live = view.models["gpt-realtime"].survival().median()
    assert exact is not None and live is not None and abs(live - exact) <= 1.0


def test_failed_turns_show_in_the_taxonomy_and_timeline_as_they_happen() -> None:
    view = LiveView()
    view.add_turn(TurnEvent.of("m", make_turn(0, outcome="response.zero_audio", assistant_audio_s=0.0)))
    view.add_turn(TurnEvent.of("m", make_turn(1, outcome="harness.stopped")))
    assert view.taxonomy_rows() == [{"code": "response.zero_audio", "silent": "silent", "count": 1}]
    (row,) = view.table_rows()
    assert row["turns"] == "0 ok, 1 failed"


def test_a_drop_between_turns_counts_once_as_the_session_end() -> None:
    view = LiveView()
    record = make_session(
        "s-d", turns=2, end_class="transport.closed_no_frame", outcome="failed",
        failure_class="transport.closed_no_frame",
    )  # fmt: skip
    _feed(view, [record])
    assert view.taxonomy["transport.closed_no_frame"] == 1


def test_the_table_shows_active_sessions_and_the_seed_columns() -> None:
    view = LiveView()
    _feed(view, [make_session("s-1", turns=4)])
    open_now = make_session("s-open", turns=2, capacity_to_silent_failure_s=7.0)
    view.set_open([open_now] * 3)
    (row,) = view.table_rows()
    assert row["active"] == 3 and row["sessions"] == 1
    # open sessions are in the live survival curve, censored where they are now
    assert sorted(view.models["gpt-realtime"].capacity_rows()) == [(7.0, 0, 3), (14.0, 0, 1)]
    assert row["audio_minutes"] == f"{3.5 * 4 / 60:.2f} min"
    assert row["capacity"] == "not reached (censored)" and row["silent_failures"] == "0 / 1"
    snapshot = view.snapshot()
    assert snapshot["models"][0]["model"] == "gpt-realtime" and "gpt-realtime" in snapshot["survival"]
    # the browser draws the curve to the longest session so far (an open one here), past its last drop
    assert snapshot["survival"]["gpt-realtime"]["end_minutes"] == 14.0 / 60


def test_chunk_lags_are_merged_per_worker_and_the_run_is_late_when_its_p99_is() -> None:
    view = LiveView()
    for worker, lag_s in (("worker-1", 0.0004), ("worker-2", 0.0004), ("worker-2", 0.045)):
        lags = LagHistogram()
        for _ in range(50):
            lags.add(lag_s)
        view.add_pacing(worker, lags)
    run, workers = view.pacing_figures()
    assert run.chunks == 150 and run.late and run.max_ms == pytest.approx(45.0)
    assert [(name, figures.late) for name, figures in workers] == [("worker-1", False), ("worker-2", True)]
    snapshot = view.snapshot()["pacing"]
    assert snapshot["run"]["late"] and snapshot["workers"]["worker-1"]["chunks"] == 50


def test_an_ab_run_has_a_row_per_model_and_arm_with_its_cost_and_warnings() -> None:
    view = LiveView()
    control = make_session("c", arm="control", estimated_cost_usd=0.25, warning_turn=2)
    rotated = make_session("r", arm="rotated", estimated_cost_usd=0.5)
    for record in (control, rotated):
        for turn in record.turns:
            view.add_turn(TurnEvent.from_list(TurnEvent.of(record.model, turn, record.arm).to_list()))
        view.add_session(record)
    view.replace_open(None, make_session("o", arm="rotated", estimated_cost_usd=0.125, warning_turn=1))
    rows = {row["model"]: row for row in view.table_rows()}
    assert sorted(rows) == ["gpt-realtime · control", "gpt-realtime · rotated"]
    assert rows["gpt-realtime · control"]["cost"] == "0.2500 USD" and rows["gpt-realtime · control"]["warnings"] == "1"
    assert rows["gpt-realtime · rotated"]["cost"] == "0.6250 USD" and rows["gpt-realtime · rotated"]["warnings"] == "1"
    assert rows["gpt-realtime · rotated"]["turns"] == "3 ok, 0 failed" and rows["gpt-realtime · rotated"]["active"] == 1
