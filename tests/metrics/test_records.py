"""Records keep a stable JSON shape and round-trip through dicts."""

from __future__ import annotations

import json

from s2s_users.metrics.records import SessionRecord, TurnRecord


def make_turn(turn: int = 1) -> TurnRecord:
    return TurnRecord(
        turn=turn,
        prompt_id="p001",
        outcome="ok",
        input_audio_s=2.5,
        assistant_audio_s=6.0,
        audio_bytes=288_000,
        ttfa_ms=612.5,
        response_ms=2100.0,
        pacing_lag_ms=0.4,
        started_at=1_700_000_000.0,
    )


def make_session() -> SessionRecord:
    return SessionRecord(
        session_id="sess_1",
        run_id="run",
        model="gpt-realtime",
        provider="openai",
        voice="marin",
        turn_mode="manual",
        scenario="default",
        worker="local",
        started_at=1.0,
        ended_at=2.0,
        turns_planned=2,
        turns_completed=2,
        assistant_audio_s=12.0,
        capacity_to_failure_s=12.0,
        censored=True,
        capacity_to_silent_failure_s=12.0,
        silent_censored=True,
        outcome="completed",
        failure_class=None,
        failure_turn=None,
        failure_detail=None,
        silent_failure_turn=None,
        visible_failure_turn=None,
        end_class=None,
        close_code=1000,
        close_reason="",
        close_frame_received=True,
        unknown_events={"x.y": 2},
        turns=(make_turn(1), make_turn(2)),
    )


def test_session_record_round_trips_through_json() -> None:
    record = make_session()
    assert SessionRecord.from_dict(json.loads(json.dumps(record.to_dict()))) == record


def test_session_dict_has_the_documented_keys() -> None:
    data = make_session().to_dict()
    required = {
        "session_id", "model", "turn_mode", "turns_planned", "turns_completed", "assistant_audio_s",
        "capacity_to_failure_s", "outcome", "failure_class", "failure_turn", "silent_failure_turn",
        "close_code", "close_frame_received", "turns",
    }  # fmt: skip
    assert required <= set(data)
    assert {"turn", "ttfa_ms", "assistant_audio_s", "outcome"} <= set(data["turns"][0])


def test_unknown_keys_from_newer_files_are_ignored() -> None:
    data = make_session().to_dict()
    data["added_in_a_later_version"] = 1
    data["turns"][0]["also_new"] = True
    assert SessionRecord.from_dict(data) == make_session()
