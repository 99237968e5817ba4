"""Records keep a stable JSON shape and round-trip through dicts."""

from __future__ import annotations

import json

import pytest

from s2s_users.core.events import Usage
from s2s_users.core.failures import FailureClass
from s2s_users.core.metrics.records import SessionOutcome, SessionRecord, UnknownCode
from tests.support.records import LABELS
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


def test_a_record_read_back_holds_typed_codes_labels_and_usage() -> None:
    failed = make_session(
        outcome="failed", failure_class="response.zero_audio", end_class="transport.closed_no_frame", http_status=None
    )
    record = SessionRecord.from_dict(json.loads(json.dumps(failed.to_dict())))
    assert record.failure_class is FailureClass.ZERO_AUDIO and record.end_class is FailureClass.CLOSED_NO_FRAME
    assert record.outcome is SessionOutcome.FAILED
    assert record.labels == LABELS and record.model == LABELS.model
    assert record.turns[0].usage == Usage(input_tokens=100, output_tokens=200)
    assert record.to_dict()["failure_class"] == "response.zero_audio" and record.to_dict()["model"] == LABELS.model


def test_a_code_this_version_does_not_know_is_a_clear_error() -> None:
    data = make_session().to_dict()
    data["failure_class"] = "response.from_the_future"
    with pytest.raises(UnknownCode, match="newer"):
        SessionRecord.from_dict(data)
