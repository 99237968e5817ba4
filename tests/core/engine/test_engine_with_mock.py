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
