"""Session rotation (the seed's mitigation), reconnects at the provider's cap, the early warning and the cost of
each response: the engine paired with the mock's sans-I/O session on a fake clock, a fresh mock session (a fresh
context) for every new connection."""

from __future__ import annotations

import dataclasses

import pytest

from s2s_users.core.engine.rotation import SUMMARY_HEADER, ConversationMemory, RotationPolicy
from s2s_users.core.failures import FailureClass
from s2s_users.core.metrics.cost import DEFAULT_PRICES
from s2s_users.core.metrics.records import OK, SessionOutcome
from s2s_users.core.mock.profiles import DEFAULT_PROFILES
from tests.support.in_memory import play

SEED = DEFAULT_PROFILES["gpt-realtime-2"]  # zero audio, then a drop, once 300 s of assistant audio are in context
NO_CEILING = DEFAULT_PROFILES["gpt-realtime"]


def test_without_rotation_the_seeds_model_fails_silently_at_five_minutes() -> None:
    record = play(SEED, turns=60).record
    assert record.failure_class is FailureClass.ZERO_AUDIO and record.silent_failure_turn is not None
    assert record.capacity_to_silent_failure_s == pytest.approx(300.0, abs=15.0)
    assert record.rotations == 0 and record.provider_session_ids == (record.session_id,)


def test_rotating_every_four_minutes_of_audio_plays_all_60_turns_without_a_silent_failure() -> None:
    played = play(SEED, turns=60, rotation=RotationPolicy(after_audio_s=240.0), summary_chars=600)
    record = played.record
    assert record.outcome is SessionOutcome.COMPLETED and record.turns_completed == 60
    assert record.failure_class is None and record.silent_censored
    assert record.rotations >= 2 and record.cap_reconnects == 0 and record.reconnects == 0
    assert len(record.provider_session_ids) == record.rotations + 1 == len(played.truths)
    assert record.session_id == record.provider_session_ids[0]
    # No provider session held more than the rotation point plus one turn's audio (the ceiling is 300 s).
    per_session = [t.session_audio_s for t in record.turns]
    assert max(per_session) < 300.0
    firsts = [t.turn for t in record.turns if t.after_rotation]
    assert len(firsts) == record.rotations and all(per_session[n - 1] < 20.0 for n in firsts)
    # Each fresh session was told a summary within the budget, and the mock billed it as text input.
    assert 0 < record.reinjected_chars <= 600 * record.rotations
    assert played.truths[0]["injected_chars"] == 0
    assert all(truth["injected_chars"] > 0 for truth in played.truths[1:])
    first_after = next(t for t in record.turns if t.after_rotation)
    assert first_after.input_text_tokens > 0


def test_rotating_after_a_number_of_turns() -> None:
    record = play(NO_CEILING, turns=10, rotation=RotationPolicy(after_turns=4)).record
    assert record.rotations == 2 and [t.turn for t in record.turns if t.after_rotation] == [5, 9]
    assert record.turns_completed == 10


def test_the_providers_cap_ends_the_session_as_expired_without_reconnect_on_cap() -> None:
    capped = dataclasses.replace(NO_CEILING, session_cap_s=40.0)
    record = play(capped, turns=12).record
    assert record.outcome is SessionOutcome.EXPIRED and record.end_class is FailureClass.SESSION_EXPIRED
    assert record.turns_completed < 12


def test_with_reconnect_on_cap_the_conversation_goes_on_over_a_fresh_session() -> None:
    capped = dataclasses.replace(NO_CEILING, session_cap_s=40.0)
    record = play(capped, turns=12, reconnect_on_cap=True).record
    assert record.cap_reconnects >= 1 and record.rotations == 0 and record.failure_class is None
    assert record.outcome is SessionOutcome.COMPLETED
    cut = [t for t in record.turns if t.outcome is FailureClass.SESSION_EXPIRED]
    assert len(cut) <= record.cap_reconnects  # a cap between turns cuts none
    assert {t.turn for t in record.turns if t.solicited} == set(range(1, 13))
    assert record.turns_completed == 12 - len(cut)


def test_the_early_warning_fires_before_the_silent_failure_and_never_without_a_threshold() -> None:
    warned = play(SEED, turns=60, warn_at_audio_s=240.0).record
    assert warned.silent_failure_turn is not None and warned.warning_turn is not None
    assert warned.warning_turn < warned.silent_failure_turn
    assert warned.warning_audio_s is not None and 240.0 <= warned.warning_audio_s < 300.0
    quiet = play(NO_CEILING, turns=20).record
    assert quiet.warning_turn is None


def test_each_response_costs_its_usage_at_the_models_prices_and_the_session_adds_them_up() -> None:
    prices = DEFAULT_PRICES["gpt-realtime-mini"]
    record = play(NO_CEILING, turns=5, prices=prices).record
    assert all(t.cost_usd == pytest.approx(prices.cost_usd(t.usage), abs=1e-8) for t in record.turns)
    assert record.estimated_cost_usd == pytest.approx(sum(t.cost_usd for t in record.turns), abs=1e-6)
    assert record.estimated_cost_usd > 0 and all(t.outcome == OK for t in record.turns)


def test_the_summary_keeps_the_newest_transcripts_within_its_budget() -> None:
    memory = ConversationMemory(budget_chars=120)
    for turn in range(1, 8):
        memory.remember(turn, f"answer number {turn} " * 3)
    summary = memory.summary()
    assert summary.startswith(SUMMARY_HEADER) and len(summary) <= 120
    assert "answer number 7" in summary and "answer number 1 " not in summary
    assert ConversationMemory(budget_chars=0).summary() == ""


def test_a_rotation_is_due_by_audio_or_by_turns() -> None:
    assert not RotationPolicy().enabled and not RotationPolicy().due(10_000.0, 10_000)
    assert RotationPolicy(after_audio_s=240.0).due(240.0, 1) and not RotationPolicy(after_audio_s=240.0).due(239.9, 99)
    assert RotationPolicy(after_turns=3).due(0.0, 3)
