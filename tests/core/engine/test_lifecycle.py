"""The provider connection's life: when its end was announced, and what crosses to the next connection."""

from __future__ import annotations

from s2s_users.core import events as ev
from s2s_users.core.engine.lifecycle import ConnectionLife
from s2s_users.core.engine.rotation import Handover, RotationPolicy
from s2s_users.core.engine.settings import EngineSettings


def test_goaway_announces_the_end_and_a_close_well_before_it_is_early() -> None:
    life = ConnectionLife(EngineSettings(), now=0.0)
    life.going_away(ev.GoingAway(time_left_s=50.0, can_resume=True), now=10.0)
    assert life.went_away and life.resume_offered
    assert life.early_by(20.0) == 40.0
    assert life.at_announced_end(59.0) and life.early_by(59.0) is None


def test_a_known_cap_is_announced_from_the_start_but_is_no_goaway() -> None:
    life = ConnectionLife(EngineSettings(session_cap_s=1800.0), now=0.0)
    assert not life.went_away and life.early_by(100.0) is None
    assert not life.at_announced_end(1000.0) and life.at_announced_end(1800.0)


def test_a_rotation_gives_the_fresh_session_the_summary_and_marks_only_its_first_turn() -> None:
    life = ConnectionLife(EngineSettings(rotation=RotationPolicy(after_turns=2), summary_chars=500), now=0.0)
    assert life.memory is not None
    life.memory.hear("the weather ")
    life.memory.hear("is fine")
    life.memory.turn_ended(1)
    life.let_go(Handover.ROTATE)
    assert life.awaiting and life.context_for_new_session() == ""  # not before the new connection opens
    assert life.reopened(now=5.0) is Handover.ROTATE and not life.awaiting
    assert life.setup_deadline == 5.0 + EngineSettings().turn_timeout_s
    assert "Turn 1, assistant: the weather is fine" in life.context_for_new_session()
    assert life.first_turn_here() and not life.first_turn_here()


def test_a_resumption_keeps_the_providers_context_and_reinjects_nothing() -> None:
    life = ConnectionLife(EngineSettings(rotation=RotationPolicy(after_turns=2)), now=0.0)
    assert life.memory is not None
    life.memory.remember(1, "something said")
    life.let_go(Handover.RESUME)
    life.reopened(now=1.0)
    assert life.context_for_new_session() == "" and not life.first_turn_here()


def test_no_memory_is_kept_when_no_handover_could_need_it() -> None:
    assert ConnectionLife(EngineSettings(), now=0.0).memory is None
