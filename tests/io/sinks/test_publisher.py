"""The record owner's points in a real InfluxDB: summaries, a survival curve that each refresh replaces, runs."""

from __future__ import annotations

from s2s_users.core.metrics.live import LiveView
from s2s_users.core.metrics.records import SessionRecord
from s2s_users.core.reporting.summary import build_report
from s2s_users.io.sinks.influx import InfluxSettings, InfluxSink
from s2s_users.io.sinks.influx.points import RunLabels
from s2s_users.io.sinks.influx.publisher import RunDescription, RunPublisher
from tests.support.influx import InfluxDatabase
from tests.support.records import T0, session

RUN = RunLabels(run_id="run-p", turn_mode="manual", scenario="soak")
ORIGIN_NS = int(T0 * 1e9)


def _failing(session_id: str, capacity_s: float) -> SessionRecord:
    return session(
        session_id,
        outcome="failed",
        failure_class="response.zero_audio",
        silent_failure_turn=3,
        capacity_to_silent_failure_s=capacity_s,
        silent_censored=False,
    )


def _curve(influx: InfluxDatabase) -> list[tuple[float, float]]:
    rows = influx.select('SELECT "capacity_s", "survival" FROM "s2s_survival" WHERE "run_id" = \'run-p\'')
    return [(row["capacity_s"], row["survival"]) for row in rows]


def test_a_refreshed_survival_curve_replaces_the_earlier_one_even_when_shorter(
    influx: InfluxDatabase, settings: InfluxSettings
) -> None:
    sink = InfluxSink(settings, run_id=RUN.run_id, worker="master", background=False)
    publisher = RunPublisher(sink, RUN, ORIGIN_NS)
    view = LiveView()
    for index, capacity in enumerate((100.0, 200.0, 300.0)):
        view.add_session(_failing(f"s-{index}", capacity))
    publisher.live(view, ORIGIN_NS + 5_000_000_000)
    sink.flush()
    assert len(_curve(influx)) == 7  # (0, 1) and two corners per drop

    records = [_failing("s-0", 150.0), session("s-1", capacity_to_silent_failure_s=400.0)]
    publisher.final(build_report(records), records, ORIGIN_NS + 10_000_000_000)
    sink.flush()
    curve = _curve(influx)
    assert len(curve) == 7  # the earlier curve's points are all overwritten ...
    assert sorted(set(curve)) == [(0.0, 1.0), (150.0, 0.5), (150.0, 1.0)]  # ... by the final one

    summaries = influx.select(
        'SELECT "final", "sessions_ended", "capacity_median_min" FROM "s2s_summary" WHERE "model" = \'gpt-realtime\''
    )
    assert [row["final"] for row in summaries] == [False, True]
    assert summaries[-1]["sessions_ended"] == 2 and summaries[-1]["capacity_median_min"] == 2.5
    sink.close()


def test_sessions_and_start_and_stop_annotations_are_written_once_each(
    influx: InfluxDatabase, settings: InfluxSettings
) -> None:
    sink = InfluxSink(settings, run_id=RUN.run_id, worker="master", background=False)
    publisher = RunPublisher(sink, RUN, ORIGIN_NS)
    publisher.started(RunDescription(("gpt-realtime", "gpt-realtime-2"), 8, "embedded mock", "0.1.0"), ORIGIN_NS)
    lost = session("lost-1", outcome="lost", end_class="harness.worker_lost", worker="worker-1")
    for record in (session("s-1"), lost):
        publisher.session(record)
    publisher.stopped(2, ORIGIN_NS + 60_000_000_000)
    sink.flush()
    runs = influx.select('SELECT "text", "users", "target", "event" FROM "s2s_run"')
    assert [row["event"] for row in runs] == ["start", "stop"]
    assert runs[0]["users"] == 8 and runs[0]["target"] == "embedded mock"
    assert "gpt-realtime,gpt-realtime-2" in runs[0]["text"] and "2 sessions" in runs[1]["text"]
    sessions = influx.select('SELECT "session_id", "outcome", "worker" FROM "s2s_session"')
    assert sorted((row["session_id"], row["outcome"]) for row in sessions) == [("lost-1", "lost"), ("s-1", "completed")]
    sink.close()
