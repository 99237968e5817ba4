"""Records keep a stable JSON shape and round-trip through dicts."""

from __future__ import annotations

import json

from s2s_users.metrics.records import SessionRecord
from tests.support.records import session as make_session


def test_session_record_round_trips_through_json() -> None:
    record = make_session(unknown_events={"x.y": 2})
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
