"""The engine and the Gemini adapter paired with the mock's Gemini session in memory: every fault, the ceiling,
goAway then close, then silence, then an early close, resumption over a new connection, server-VAD turns; each
checked against the mock's truth, without a socket. tests/integration/test_gemini_end_to_end.py plays the same
over real sockets."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest

from s2s_users.core.engine.script import Carrier
from s2s_users.core.mock.profiles import AudioDistribution, Fault, ModelProfile
from tests.integration.test_gemini_end_to_end import EXPECTED_GEMINI, FAULT_TURN
from tests.support.in_memory_gemini import play_gemini

AUDIO = AudioDistribution("uniform", low=2.0, high=4.0)
CONSTANT = AudioDistribution("constant", median=3.0)


def _profile(**changes: Any) -> ModelProfile:
    return dataclasses.replace(ModelProfile("gemini-m", AUDIO), **changes)


def _audio_matches(played: Any) -> None:
    measured = [turn.assistant_audio_s for turn in played.record.turns]
    sent = played.truth["turn_audio_s"] + [0.0] * (len(measured) - len(played.truth["turn_audio_s"]))
    assert measured == pytest.approx(sent, abs=0.010)


@pytest.mark.parametrize("fault", list(Fault), ids=lambda f: f.value)
def test_each_fault_is_reported_as_the_mock_did_it(fault: Fault) -> None:
    played = play_gemini(_profile(faults_at={FAULT_TURN: fault}))
    record, truth = played.record, played.truth
    assert truth["faults"] == [{"turn": FAULT_TURN, "fault": fault.value}]
    assert record.session_id == truth["session_id"] and record.labels.provider == "gemini"
    failure, end = EXPECTED_GEMINI[fault]
    assert (record.failure_class, record.end_class) == (failure, end)
    assert record.failure_turn == (FAULT_TURN if failure else None)
    _audio_matches(played)
    if fault is Fault.TRUNCATION:
        assert record.context_truncations == 1 and record.outcome == "completed"
    if fault is Fault.ZERO_AUDIO:
        assert str(record.turns[FAULT_TURN - 1].detail).endswith("zero audio bytes (RESPONSE_REJECTED)")


def test_the_ceiling_gives_zero_audio_then_a_drop() -> None:
    played = play_gemini(_profile(audio=CONSTANT, ceiling_s=7.0), turns=6)
    record = played.record
    assert (record.failure_class, record.end_class) == ("response.zero_audio", "transport.closed_no_frame")
    assert record.failure_turn == 4 and record.capacity_to_silent_failure_s == pytest.approx(9.0, abs=0.01)
    assert played.truth["end"] == "aborted" and record.close_frame_received is False


def _capped(after: str, **changes: Any) -> ModelProfile:
    # Turns of 3 s of audio, streamed in real time, 0.5 s to first audio: the goAway (3 s left) lands in turn 3.
    settings: dict[str, Any] = {"ttfa_s": 0.5, "stream_speed": 1.0, "session_cap_s": 14.0, "go_away_s": 3.0}
    return _profile(audio=CONSTANT, after_go_away=after, **{**settings, **changes})


def test_go_away_then_the_close_is_the_expected_end() -> None:
    played = play_gemini(_capped("close"), turns=10)
    record, truth = played.record, played.truth
    assert truth["end"] == "session_cap" and truth["go_away"] == [{"connection": 1, "turn": 3, "then": "close"}]
    assert (record.outcome, record.end_class, record.failure_class) == ("expired", "session.expired", None)
    assert record.close_code == 1011 and record.turns[-1].outcome == "session.expired"
    _audio_matches(played)


def test_go_away_then_silence_is_a_silent_failure() -> None:
    played = play_gemini(_capped("silence"), turns=10)
    record = played.record
    assert played.truth["go_away"][0]["then"] == "silence" and played.truth["end"] == "client closed 1000"
    assert record.failure_class in ("timeout.stall", "timeout.first_audio") and record.silent_failure_turn == 3
    assert record.failure_detail is not None and record.failure_detail.endswith("(the server had sent goAway)")
    _audio_matches(played)


def test_a_close_before_the_time_left_ran_out_is_a_failure() -> None:
    played = play_gemini(_capped("early_close"), turns=10)
    record = played.record
    assert played.truth["end"] == "session_cap"
    assert record.failure_class == record.end_class == "transport.closed_frame" and record.close_code == 1011
    assert "before its goAway said" in str(record.failure_detail)


def test_with_resumption_the_conversation_goes_on_over_new_connections() -> None:
    played = play_gemini(_capped("close", go_away_s=6.0), turns=12, resume=True)
    record, truths = played.record, played.truths
    assert record.outcome == "completed" and record.turns_completed == 12
    assert record.reconnects == len(truths) - 1 >= 2
    assert {t["session_id"] for t in truths} == {record.session_id}
    assert [t["connection"] for t in truths] == list(range(1, len(truths) + 1))
    assert played.truth["turns"] == 12 and played.truth["end"] == "client closed 1000"
    _audio_matches(played)


def test_a_bad_key_closes_with_1007_before_the_session_opens() -> None:
    played = play_gemini(_profile(), key_ok=False)
    record = played.record
    assert record.end_class == "transport.closed_frame" and record.close_code == 1007
    assert "API key not valid" in str(record.close_reason) and record.turns == ()


def test_server_vad_turns_end_by_the_mocks_voice_detection_with_silence_in_between() -> None:
    played = play_gemini(_profile(), turn_mode="server_vad", carrier=Carrier.SILENCE)
    assert played.record.outcome == "completed" and played.record.turns_completed == 3
    _audio_matches(played)


def test_all_of_this_runs_in_well_under_a_second_each() -> None:
    started = time.process_time()
    play_gemini(_profile(faults_at={2: Fault.STALL}))
    assert time.process_time() - started < 1.0
