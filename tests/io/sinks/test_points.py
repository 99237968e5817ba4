"""Records to line protocol: low-cardinality tags, typed fields, explicit unique nanosecond timestamps."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from s2s_users.core.metrics.lag import LagFigures
from s2s_users.io.sinks.influx import (
    SESSION_MEASUREMENT,
    TURN_MEASUREMENT,
    WORKER_MEASUREMENT,
    InfluxSettings,
    LinePoint,
    SinkSummary,
    UniqueTimes,
    session_point,
    to_points,
    turn_point,
    worker_point,
)
from tests.support.records import LABELS, T0, session, turn

LABEL_TAGS = {"run_id", "model", "provider", "voice", "turn_mode", "scenario", "worker", "arm"}


def split_unescaped(text: str, separator: str) -> list[str]:
    """Split line-protocol text on ``separator`` outside backslash escapes and double quotes."""
    parts, current, escaped, quoted = [], "", False, False
    for ch in text:
        if escaped:
            current += ch
            escaped = False
        elif ch == "\\":
            current += ch
            escaped = True
        elif ch == '"':
            current += ch
            quoted = not quoted
        elif ch == separator and not quoted:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return parts


def unescape(text: str) -> str:
    return text.replace("\\,", ",").replace("\\=", "=").replace("\\ ", " ")


def parse(line: str) -> tuple[str, dict[str, str], dict[str, str], int]:
    series, fields, stamp = split_unescaped(line, " ")
    measurement, *tag_parts = split_unescaped(series, ",")
    tags: dict[str, str] = {}
    for tag in tag_parts:
        key, value = split_unescaped(tag, "=")
        tags[unescape(key)] = unescape(value)
    field_map = dict(split_unescaped(item, "=") for item in split_unescaped(fields, ","))
    return unescape(measurement), tags, field_map, int(stamp)


def test_a_turn_point_is_tagged_with_the_session_labels_its_outcome_and_its_kind_only() -> None:
    measurement, tags, _, _ = parse(turn_point(LABELS, "sess-abc", turn(4)).line())
    assert measurement == TURN_MEASUREMENT
    assert set(tags) == LABEL_TAGS | {"outcome", "failure_kind"}
    assert tags["model"] == "gpt-realtime" and tags["outcome"] == "ok" and tags["failure_kind"] == "none"


def test_silent_and_visible_failures_are_told_apart_by_a_tag() -> None:
    silent = parse(turn_point(LABELS, "s", turn(1, outcome="response.zero_audio")).line())[1]
    visible = parse(turn_point(LABELS, "s", turn(2, outcome="response.failed")).line())[1]
    stopped = parse(turn_point(LABELS, "s", turn(3, outcome="harness.stopped")).line())[1]
    assert (silent["failure_kind"], visible["failure_kind"], stopped["failure_kind"]) == ("silent", "visible", "none")


def test_session_id_turn_index_and_error_text_are_fields_never_tags() -> None:
    failed = turn(7, outcome="response.failed", detail="server_error: boom at turn 7")
    _, tags, fields, _ = parse(turn_point(LABELS, "sess-abc", failed).line())
    assert "sess-abc" not in tags.values() and "7" not in tags.values()
    assert fields["session_id"] == '"sess-abc"'
    assert fields["turn"] == "7i"
    assert fields["detail"] == '"server_error: boom at turn 7"'
    assert tags["outcome"] == "response.failed"


def test_a_turn_is_stamped_at_its_end_in_nanoseconds() -> None:
    record = turn(0, started_at=T0, input_audio_s=2.0, response_ms=3900.0)
    stamp = parse(turn_point(LABELS, "s", record).line())[3]
    end_ns = round((T0 + 2.0 + 3.9) * 1_000_000) * 1000
    assert end_ns <= stamp < end_ns + 1000


def test_a_turn_without_a_response_is_stamped_at_its_first_audio_or_its_audio_end() -> None:
    no_done = turn(0, started_at=T0, input_audio_s=2.0, response_ms=None, ttfa_ms=500.0)
    nothing = turn(0, started_at=T0, input_audio_s=2.0, response_ms=None, ttfa_ms=None)
    assert parse(turn_point(LABELS, "s", no_done).line())[3] // 1000 == round((T0 + 2.5) * 1_000_000)
    assert parse(turn_point(LABELS, "s", nothing).line())[3] // 1000 == round((T0 + 2.0) * 1_000_000)


def test_turns_of_two_sessions_ending_in_the_same_microsecond_get_different_timestamps() -> None:
    first = turn_point(LABELS, "session-a", turn(3))
    second = turn_point(LABELS, "session-b", turn(3))
    assert first.series == second.series  # same tags: one series, so equal times would overwrite
    assert first.time_ns != second.time_ns


def test_timestamps_are_deterministic_for_the_same_record() -> None:
    assert turn_point(LABELS, "session-a", turn(3)) == turn_point(LABELS, "session-a", turn(3))


def test_unique_times_moves_a_colliding_point_on_by_one_nanosecond_per_collision() -> None:
    times = UniqueTimes()
    point = LinePoint("s2s_turn,run_id=r", "x=1i", 1_000)
    stamps = [times.claim(point).time_ns for _ in range(3)]
    assert stamps == [1_000, 1_001, 1_002]
    assert times.claim(LinePoint("s2s_turn,run_id=other", "x=1i", 1_000)).time_ns == 1_000
    assert times.nudged == 2


def test_many_same_tag_turns_at_the_same_time_all_keep_distinct_timestamps() -> None:
    records = [session(f"s-{i}", turns=1, ended_at=T0 + 60) for i in range(2000)]
    lines = to_points(records)
    keys = {(parse(line)[0], tuple(sorted(parse(line)[1].items())), parse(line)[3]) for line in lines}
    assert len(lines) == 4000
    assert len(keys) == 4000


def test_tag_values_with_spaces_commas_and_equals_signs_are_escaped() -> None:
    labels = dataclasses.replace(LABELS, model="gpt 4o,mini=x", scenario="long soak")
    line = turn_point(labels, "s", turn(0)).line()
    assert r"model=gpt\ 4o\,mini\=x" in line
    assert r"scenario=long\ soak" in line
    assert parse(line)[1]["model"] == "gpt 4o,mini=x"


def test_empty_labels_and_a_missing_failure_class_become_none_tags() -> None:
    record = session("s", voice="", failure_class=None)
    tags = parse(session_point(record).line())[1]
    assert tags["voice"] == "none"
    assert tags["failure_class"] == "none"


def test_string_fields_escape_quotes_and_backslashes_and_lose_newlines() -> None:
    record = turn(0, detail='he said "no"\nthen C:\\path')
    fields = parse(turn_point(LABELS, "s", record).line())[2]
    assert fields["detail"] == '"he said \\"no\\" then C:\\\\path"'
    assert "\n" not in turn_point(LABELS, "s", record).line()


def test_none_and_nan_fields_are_left_out() -> None:
    record = turn(0, ttfa_ms=None, response_ms=float("nan"), peak_dbfs=float("-inf"), detail=None)
    fields = parse(turn_point(LABELS, "s", record).line())[2]
    assert not {"ttfa_ms", "response_ms", "peak_dbfs", "detail"} & set(fields)
    assert "nan" not in turn_point(LABELS, "s", record).line().lower()


def test_float_fields_stay_floats_when_a_record_holds_whole_numbers() -> None:
    # A field written once as integer and once as float is a type conflict InfluxDB rejects.
    record = turn(0, assistant_audio_s=0, input_audio_s=2, pacing_lag_ms=0)
    fields = parse(turn_point(LABELS, "s", record).line())[2]
    assert fields["assistant_audio_s"] == "0.0"
    assert fields["input_audio_s"] == "2.0"
    assert fields["audio_bytes"].endswith("i")
    assert fields["context_truncated"] == "false"


def test_a_session_point_is_stamped_at_its_end_and_tagged_with_outcome_and_failure_class() -> None:
    record = session(
        "sess-9",
        ended_at=T0 + 61.25,
        outcome="failed",
        failure_class="response.zero_audio",
        failure_detail="0 bytes",
        silent_failure_turn=4,
        unknown_events={"a": 2, "b": 3},
    )
    measurement, tags, fields, stamp = parse(session_point(record).line())
    assert measurement == SESSION_MEASUREMENT
    assert set(tags) == LABEL_TAGS | {"outcome", "failure_class", "failure_kind"}
    assert tags["failure_class"] == "response.zero_audio" and tags["failure_kind"] == "silent"
    assert fields["session_id"] == '"sess-9"' and fields["silent_failure_turn"] == "4i"
    assert fields["silent_failure"] == "true"
    assert fields["unknown_events"] == "5i"
    assert stamp // 1000 == round((T0 + 61.25) * 1_000_000)


def test_a_worker_point_carries_health_fields_and_only_run_and_worker_tags() -> None:
    point = worker_point(
        "run-1",
        "w1",
        123_456_789,
        active_sessions=40,
        pacing=LagFigures(chunks=1200, p50_ms=0.2, p99_ms=None, max_ms=9.5),
        cpu_percent=55.0,
        spool_points=0,
        queued_points=12,
        dropped_points=0,
    )
    measurement, tags, fields, stamp = parse(point.line())
    assert measurement == WORKER_MEASUREMENT
    assert tags == {"run_id": "run-1", "worker": "w1"}
    assert fields["active_sessions"] == "40i" and fields["pacing_chunks"] == "1200i"
    assert fields["pacing_lag_p50_ms"] == "0.2" and fields["pacing_lag_max_ms"] == "9.5"
    assert "pacing_lag_p99_ms" not in fields  # a field without a value is left out, not written as 0
    assert stamp == 123_456_789


def test_to_points_writes_each_turn_then_the_session() -> None:
    lines = to_points([session("s-1", turns=3), session("s-2", turns=2)])
    measurements = [parse(line)[0] for line in lines]
    assert measurements == [TURN_MEASUREMENT] * 3 + [SESSION_MEASUREMENT] + [TURN_MEASUREMENT] * 2 + [
        SESSION_MEASUREMENT
    ]
    assert to_points([session("s-1")], include_turns=False) == [lines[3]]


def test_settings_never_show_the_token() -> None:
    settings = InfluxSettings("http://x", "super-secret-token", "org", "bucket", Path("/tmp/spool"))
    assert "super-secret-token" not in repr(settings)
    assert "super-secret-token" not in str(settings)


def test_the_summary_says_where_points_were_left_and_how_to_replay_them() -> None:
    clean = SinkSummary(written=1234, spooled=0, left_on_disk=0, dropped=0, spool_dir=Path("/s"))
    assert clean.message() == "influx: 1234 points written, 0 left on disk"
    assert clean.complete
    left = SinkSummary(written=1000, spooled=234, left_on_disk=234, dropped=0, spool_dir=Path("/s"))
    assert left.message() == (
        "influx: 1000 points written (234 went through the spool), 234 left on disk in /s:"
        " replay with python -m s2s_users replay /s"
    )
    dropped = SinkSummary(written=1, spooled=2, left_on_disk=2, dropped=7, spool_dir=Path("/s"))
    assert "7 DROPPED" in dropped.message() and not dropped.complete


def test_a_turn_point_is_stamped_when_the_turn_ended() -> None:
    ended = turn(3, ended_at=T0 + 12.5)
    assert parse(turn_point(LABELS, "s", ended).line())[3] // 1000 == round((T0 + 12.5) * 1_000_000)
