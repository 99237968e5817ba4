"""Turn-taking against the mock in memory: every response counted, audible latency, barge-in, a carrier.

Each test plays real sessions of the engine with the mock's sans-I/O server on a fake clock, and holds what the
tester measured against what the mock says it did (its truth log).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from s2s_users.core.engine.script import Carrier
from s2s_users.core.mock.profiles import AudioDistribution, ModelProfile
from tests.support.in_memory import play, script

VOICE = AudioDistribution("constant", median=3.0)


def _profile(**changes: Any) -> ModelProfile:
    return dataclasses.replace(ModelProfile("m", VOICE, stream_speed=2.0), **changes)


def test_a_vad_that_answers_leftover_audio_has_every_response_counted() -> None:
    played = play(
        _profile(leftover_at=(1, 2)),
        turns=3,
        turn_mode="server_vad",
        the_script=script(chunk_ms=20, carrier=Carrier.SILENCE),
        think_time_s=3.0,  # room for the unsolicited answer before the next prompt talks over it
    )
    record, truth = played.record, played.truth
    unsolicited = [r for r in truth["responses"] if not r["solicited"]]
    assert len(unsolicited) == 2 and {r["reason"] for r in unsolicited} == {"leftover"}
    assert record.unsolicited_responses == 2 and record.unsolicited_reasons == {"leftover": 2}
    assert record.turns_completed == 3 and record.outcome == "completed"
    # Every delta the mock sent is in the session's audio: the unsolicited answers too.
    assert record.assistant_audio_s == pytest.approx(truth["assistant_audio_s"], abs=0.001)
    extra = [t for t in record.turns if not t.solicited]
    assert [t.unsolicited_reason for t in extra] == ["leftover", "leftover"]
    assert sum(t.assistant_audio_s for t in extra) == pytest.approx(sum(r["audio_s"] for r in unsolicited), abs=0.001)


def test_without_the_carrier_nothing_is_taken_for_speech_between_turns() -> None:
    played = play(_profile(leftover_at=(1,)), turns=2, turn_mode="server_vad", the_script=script(chunk_ms=20))
    # The leftover speech comes only with the next prompt's audio: then it reads as a split of that prompt.
    assert played.record.assistant_audio_s == pytest.approx(played.truth["assistant_audio_s"], abs=0.001)


@pytest.mark.parametrize("turn_mode", ["manual", "server_vad"])
def test_audible_latency_is_time_to_first_audio_plus_the_leading_silence(turn_mode: str) -> None:
    played = play(
        _profile(leading_silence_ms=240),
        turns=3,
        turn_mode=turn_mode,
        the_script=script(chunk_ms=20, trailing_silence_ms=800 if turn_mode == "server_vad" else 0),
    )
    answers = [t for t in played.record.turns if t.solicited]
    assert len(answers) == 3
    for turn in answers:
        assert turn.ttfa_ms is not None and turn.audible_ms is not None
        assert turn.audible_ms == pytest.approx(turn.ttfa_ms + 240, abs=5)
        assert turn.leading_silence_ms == pytest.approx(240, abs=1)
    if turn_mode == "server_vad":
        # The endpointing cost: from the end of the prompt's speech to the server's speech_stopped (its VAD waits
        # 500 ms of silence, counted in 20 ms frames).
        assert all(t.endpointing_ms is not None and 480 <= t.endpointing_ms <= 540 for t in answers)


def test_a_barge_in_is_stopped_by_the_server_and_its_stop_latency_matches_the_truth() -> None:
    played = play(
        _profile(barge_in_stop_ms=150),
        turns=3,
        turn_mode="server_vad",
        the_script=script(chunk_ms=20, carrier=Carrier.SILENCE),
        barge_in_after_s=0.3,
    )
    record, truth = played.record, played.truth
    assert record.barge_ins == 2 and record.outcome == "completed", record
    interrupted = [t for t in record.turns if t.barge_in]
    told = [r["barge_in"] for r in truth["responses"] if "barge_in" in r]
    assert len(interrupted) == len(told) == 2
    for turn, truth_of_it in zip(interrupted, told, strict=True):
        assert turn.outcome == "ok" and turn.response_status == "cancelled"
        assert turn.stop_latency_ms is not None
        assert turn.stop_latency_ms == pytest.approx(truth_of_it["stop_latency_s"] * 1000, abs=25)
        assert 100 <= turn.stop_latency_ms <= 260  # about the 150 ms the server takes to react
    assert record.turns_completed == 3


def test_a_server_that_ignores_the_interruption_is_a_finding() -> None:
    played = play(
        _profile(barge_in="ignore", audio=AudioDistribution("constant", median=8.0)),
        turns=2,
        turn_mode="server_vad",
        the_script=script(chunk_ms=20, carrier=Carrier.SILENCE),
        barge_in_after_s=0.3,
        turn_timeout_s=10.0,  # the next answer waits for the ignored one to finish streaming
    )
    (interrupted,) = [t for t in played.record.turns if t.barge_in]
    assert interrupted.outcome == "response.barge_in_ignored" and interrupted.response_status == "completed"
    assert interrupted.audio_after_barge_in_s is not None and interrupted.audio_after_barge_in_s > 1.0
    assert played.record.failure_class == "response.barge_in_ignored"
