"""The engine paired with the mock's sans-I/O session in memory: every fault, the session cap, beta names and
the seed's ceiling, checked against the mock's truth, in milliseconds and without a socket.

The same faults are played over real sockets by tests/integration/test_mock_faults.py; here the engine's part is
tested on its own, so a failure names the engine, not the transport.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest

from s2s_users.core.mock.profiles import DEFAULT_PROFILES, AudioDistribution, Fault, ModelProfile
from tests.integration.test_mock_faults import EXPECTED, FAULT_TURN
from tests.support.in_memory import play, script

AUDIO = AudioDistribution("uniform", low=2.0, high=4.0)


def _profile(**changes: Any) -> ModelProfile:
    return dataclasses.replace(ModelProfile("m", AUDIO), **changes)


@pytest.mark.parametrize("fault", list(Fault), ids=lambda f: f.value)
def test_each_fault_is_reported_as_the_mock_did_it(fault: Fault) -> None:
    played = play(_profile(faults_at={FAULT_TURN: fault}))
    record, truth = played.record, played.truth
    assert truth["faults"] == [{"turn": FAULT_TURN, "fault": fault.value}]
    assert record.session_id == truth["session_id"]
    failure, end = EXPECTED[fault]
    assert record.failure_class == failure
    assert record.failure_turn == (FAULT_TURN if failure else None)
    assert record.end_class == end
    measured = [turn.assistant_audio_s for turn in record.turns]
    sent = truth["turn_audio_s"] + [0.0] * (len(measured) - len(truth["turn_audio_s"]))
    assert measured == pytest.approx(sent, abs=0.010)
    if fault is Fault.TRUNCATION:
        assert record.context_truncations >= 1 and record.outcome == "completed"


def test_the_session_cap_ends_the_session_as_expired() -> None:
    profile = _profile(audio=AudioDistribution("constant", median=6.0), ttfa_s=0.5, session_cap_s=14, stream_speed=1.0)
    played = play(profile)
    assert played.truth["end"] == "session_cap"
    assert played.record.outcome == "expired" and played.record.end_class == "session.expired"
    assert played.record.failure_class is None and played.record.close_code == 1001


def test_beta_names_are_understood_and_counted() -> None:
    played = play(_profile(flavour="beta"))
    assert played.record.outcome == "completed" and played.record.legacy_events > 0
    assert [t.assistant_audio_s for t in played.record.turns] == pytest.approx(played.truth["turn_audio_s"], abs=0.01)


def test_the_seeds_model_fails_silently_at_five_minutes_of_assistant_audio() -> None:
    played = play(DEFAULT_PROFILES["gpt-realtime-2"], turns=60)
    record = played.record
    assert record.failure_class == "response.zero_audio" and record.end_class == "transport.closed_no_frame"
    assert record.silent_failure_turn == record.failure_turn and 25 <= record.failure_turn <= 40
    assert 300.0 <= record.capacity_to_silent_failure_s <= 315.0
    assert record.close_frame_received is False and played.truth["end"] == "aborted"


def test_server_vad_turns_are_answered_from_the_mocks_own_voice_detection() -> None:
    # The prompt is followed by silence, as a microphone would send: the mock's VAD ends the turn on it.
    played = play(_profile(), turn_mode="server_vad", the_script=script(trailing_silence_ms=800))
    assert played.record.outcome == "completed" and played.record.turns_completed == 3


def test_all_of_this_runs_in_well_under_a_second_each() -> None:
    started = time.process_time()
    play(_profile(faults_at={2: Fault.STALL}))
    # CPU time, not wall time: a hang detector on a fake clock, not a speed target.
    assert time.process_time() - started < 1.0


def test_until_failure_plays_on_past_any_turn_count_to_the_failure_and_the_turn_after_it() -> None:
    played = play(DEFAULT_PROFILES["gpt-realtime-2"], turns=0, until_failure=True, max_session_s=None)
    record = played.record
    assert record.outcome == "failed" and record.failure_class == "response.zero_audio"
    assert record.end_class == "transport.closed_no_frame" and record.turns_planned == 0
    assert len(record.turns) == record.failure_turn + 1
    assert 300.0 <= record.capacity_to_silent_failure_s <= 315.0


def test_until_failure_ends_a_healthy_session_at_its_wall_time_bound_as_bounded_and_censored() -> None:
    played = play(DEFAULT_PROFILES["gpt-realtime"], turns=0, until_failure=True, max_session_s=120.0)
    record = played.record
    assert record.outcome == "bounded" and record.failure_class is None and record.end_class is None
    assert record.censored and record.silent_censored
    assert 120.0 <= record.ended_at - record.started_at <= 120.0 + 60.0
    assert record.close_code == 1000


def test_until_failure_ends_a_healthy_session_at_its_turn_bound() -> None:
    played = play(_profile(), turns=4, until_failure=True, max_session_s=3_600.0)
    assert played.record.outcome == "bounded" and len(played.record.turns) == 4


def test_a_failure_that_leaves_the_socket_up_ends_an_until_failure_session_one_turn_later() -> None:
    played = play(_profile(faults_at={2: Fault.NEAR_SILENT}), turns=0, until_failure=True, max_session_s=3_600.0)
    record = played.record
    assert record.failure_class == "response.near_silent" and record.failure_turn == 2
    assert [t.turn for t in record.turns] == [1, 2, 3] and record.outcome == "failed"
